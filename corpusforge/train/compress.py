"""Smaller fine-tuned classifiers: magnitude pruning and int8 dynamic quantization, each exported
in a form that loads without unpickling anything (safetensors + config.json only).

* **Pruning** (`magnitude_prune`): global L1 (magnitude) unstructured pruning of every
  `nn.Linear` weight with `torch.nn.utils.prune`, made permanent. Embeddings and LayerNorms
  are left whole: they are not matrices whose small entries carry little. `save_sparse` writes
  each pruned matrix as a bit mask of its non-zeros (1 bit per entry) plus the non-zero values,
  so the file shrinks with the sparsity; `load_sparse` rebuilds the dense model.
* **int8** (`save_int8` / `load_int8`): each `nn.Linear` weight becomes int8 with one fp32
  scale per output row (symmetric, scale = max |w| / 127); biases, embeddings and LayerNorms stay
  fp32. The file format is plain tensors, independent of torch's quantization API. At load,
  each linear becomes torch's dynamically quantized linear (int8 x int8 kernels on x86/ARM
  CPUs: activations are quantized per batch at run time) when this torch still has
  `torch.ao.nn.quantized.dynamic`, deprecated since 2.10 and present in 2.13; without it, a
  weight-only `Int8Linear` (dequantize, then a float matmul) keeps the same file loadable.

Export directories hold `config.json` (the model's architecture and label names), the weights
file (`model.sparse.safetensors` or `model.int8.safetensors`) and `export.json` (format, counts,
source). Nothing else is read, and a weights file that is not safetensors is refused.

Example::

    model = load_classifier("out/finetune/best/model")
    save_int8(model, "out/int8")
    int8_model = load_int8("out/int8")            # ready for CPU inference
    magnitude_prune(model, 0.5); save_sparse(model, "out/pruned50")
"""
from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from corpusforge.errors import InputError

SPARSE_FILE = "model.sparse.safetensors"
INT8_FILE = "model.int8.safetensors"
EXPORT_FILE = "export.json"
_MASK, _VALUES, _INT8, _SCALE = "::mask", "::values", "::int8", "::scale"


def load_classifier(model_dir: str | os.PathLike[str]) -> torch.nn.Module:
    """A sequence classifier from a `save_pretrained` directory (safetensors only), in eval mode."""
    import transformers

    directory = Path(model_dir)
    if not any(directory.glob("*.safetensors")):
        raise InputError(f"model directory {str(directory)!r} has no *.safetensors weights (only safetensors are loaded)")
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(directory), use_safetensors=True,
                                                                            trust_remote_code=False)
    return model.eval()


def linear_weights(model: torch.nn.Module) -> list[tuple[str, torch.nn.Linear]]:
    """The model's `nn.Linear` modules by qualified name (what pruning and int8 change)."""
    return [(name, module) for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]


def magnitude_prune(model: torch.nn.Module, amount: float) -> dict[str, float]:
    """Zero the `amount` share of all linear weights with the smallest magnitude (global, permanent).

    Returns {"amount", "linear_sparsity", "model_sparsity"} as measured after pruning.

    >>> layer = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    >>> magnitude_prune(layer, 0.5)["linear_sparsity"]
    0.5
    """
    from torch.nn.utils import prune

    if not 0.0 <= amount < 1.0:
        raise ValueError(f"prune amount must be in [0, 1), got {amount}")
    targets = [(module, "weight") for _, module in linear_weights(model)]
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    for module, name in targets:
        prune.remove(module, name)  # fold the mask into the weight: plain tensors again
    linear_total = sum(module.weight.numel() for module, _ in targets)
    linear_zeros = sum(int((module.weight == 0).sum()) for module, _ in targets)
    all_total = sum(p.numel() for p in model.parameters())
    all_zeros = sum(int((p == 0).sum()) for p in model.parameters())
    return {"amount": amount, "linear_sparsity": linear_zeros / linear_total, "model_sparsity": all_zeros / all_total}


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # Tensors shared between names (tied weights) are saved under each name; safetensors refuses aliases.
    return {name: tensor.detach().cpu().contiguous().clone() for name, tensor in model.state_dict().items()}


def _write_export(directory: Path, model: torch.nn.Module, tensors: dict[str, torch.Tensor], file_name: str,
                  info: Mapping[str, Any]) -> Path:
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    model.config.to_json_file(str(directory / "config.json"))
    save_file(tensors, str(directory / file_name), metadata={"format": "pt"})
    (directory / EXPORT_FILE).write_text(json.dumps({**info, "weights": file_name}, indent=2, sort_keys=True), encoding="utf-8")
    return directory / file_name


def save_sparse(model: torch.nn.Module, directory: str | os.PathLike[str]) -> Path:
    """Write the model with every linear weight as (bit mask of non-zeros, non-zero values); returns the file."""
    tensors = _state(model)
    linear = {f"{name}.weight" for name, _ in linear_weights(model)}
    stored: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        if name in linear:
            flat = tensor.reshape(-1)
            nonzero = (flat != 0).numpy()
            stored[name + _MASK] = torch.from_numpy(np.packbits(nonzero))
            stored[name + _VALUES] = flat[torch.from_numpy(nonzero)]
            stored[name + "::shape"] = torch.tensor(tensor.shape, dtype=torch.int64)
        else:
            stored[name] = tensor
    return _write_export(Path(directory), model, stored, SPARSE_FILE, {"format": "corpusforge.sparse_linear", "version": 1})


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise InputError(f"{path}: no such export file")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise InputError(f"{path}: not a safetensors file ({str(error).splitlines()[0] if str(error) else type(error).__name__}); "
                         "exports are never unpickled") from None


def _skeleton(directory: Path) -> torch.nn.Module:
    # The architecture from config.json, weights left to the caller: nothing but JSON is read here.
    import transformers

    if not (directory / "config.json").is_file():
        raise InputError(f"{directory}: no config.json")
    config = transformers.AutoConfig.from_pretrained(str(directory), trust_remote_code=False)
    return transformers.AutoModelForSequenceClassification.from_config(config).eval()


def load_sparse(directory: str | os.PathLike[str]) -> torch.nn.Module:
    """The dense model back from a `save_sparse` export (weights identical to the pruned model)."""
    directory = Path(directory)
    stored = _read_safetensors(directory / SPARSE_FILE)
    state: dict[str, torch.Tensor] = {}
    for name, tensor in stored.items():
        if name.endswith(_MASK):
            base = name[: -len(_MASK)]
            shape = tuple(stored[base + "::shape"].tolist())
            count = int(np.prod(shape))
            nonzero = torch.from_numpy(np.unpackbits(tensor.numpy(), count=count).astype(bool))
            values = stored[base + _VALUES]
            dense = torch.zeros(count, dtype=values.dtype)
            dense[nonzero] = values
            state[base] = dense.reshape(shape)
        elif not name.endswith((_VALUES, "::shape")):
            state[name] = tensor
    model = _skeleton(directory)
    model.load_state_dict(state, strict=True)
    return model


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output row: (int8 weight, fp32 scale) with weight ≈ int8 * scale[:, None].

    >>> q, scale = quantize_rows(torch.tensor([[0.5, -1.0], [0.02, 0.005]]))
    >>> q.tolist(), [round(s, 6) for s in scale.tolist()]
    ([[64, -127], [127, 32]], [0.007874, 0.000157])
    """
    weight = weight.detach().float()
    scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
    quantized = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return quantized, scale


def save_int8(model: torch.nn.Module, directory: str | os.PathLike[str]) -> Path:
    """Write the model with every linear weight as int8 + per-row scales; returns the file."""
    tensors = _state(model)
    stored: dict[str, torch.Tensor] = {}
    linear = {f"{name}.weight" for name, _ in linear_weights(model)}
    for name, tensor in tensors.items():
        if name in linear:
            quantized, scale = quantize_rows(tensor)
            stored[name + _INT8], stored[name + _SCALE] = quantized, scale
        else:
            stored[name] = tensor
    return _write_export(Path(directory), model, stored, INT8_FILE, {"format": "corpusforge.int8_linear", "version": 1,
                                                                    "scheme": "symmetric per-output-row int8"})


class Int8Linear(torch.nn.Module):
    """Weight-only int8 linear (dequantize, then a float matmul): the fallback runtime of an int8 export."""

    def __init__(self, quantized: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.register_buffer("quantized", quantized)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", bias)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        weight = self.quantized.to(inputs.dtype) * self.scale[:, None].to(inputs.dtype)
        return torch.nn.functional.linear(inputs, weight, self.bias)


def _dynamic_int8_linear(quantized: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> torch.nn.Module | None:
    # torch's dynamically quantized linear, built from our int8 rows and scales; None when this torch lacks it.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the API is deprecated (torch >= 2.10) but still the fast CPU path
            from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

            module = DynamicLinear(quantized.shape[1], quantized.shape[0], bias_=bias is not None, dtype=torch.qint8)
            weight = torch._make_per_channel_quantized_tensor(quantized, scale.double(),
                                                               torch.zeros(len(scale), dtype=torch.int64), 0)
            module.set_weight_bias(weight, bias)
            return module
    except (ImportError, AttributeError, RuntimeError):
        return None


def load_int8(directory: str | os.PathLike[str], *, runtime: str = "auto") -> torch.nn.Module:
    """A CPU inference model from a `save_int8` export.

    `runtime`: "auto" (torch's dynamic int8 linear when available, else weight-only), "dynamic"
    (fail when unavailable) or "weight_only".
    """
    directory = Path(directory)
    stored = _read_safetensors(directory / INT8_FILE)
    model = _skeleton(directory)
    quantized_names = {name[: -len(_INT8)] for name in stored if name.endswith(_INT8)}
    dense = {name: tensor for name, tensor in stored.items() if not name.endswith((_INT8, _SCALE))}
    expected = set(model.state_dict()) - quantized_names
    if set(dense) != expected:
        raise InputError(f"{directory / INT8_FILE}: does not match config.json (missing {sorted(expected - set(dense))[:3]}, "
                         f"unexpected {sorted(set(dense) - expected)[:3]})")
    model.load_state_dict(dense, strict=False)
    modules = dict(model.named_modules())
    for weight_name in sorted(quantized_names):
        module_name = weight_name.removesuffix(".weight")
        parent_name, _, child = module_name.rpartition(".")
        linear = modules[module_name]
        bias = linear.bias.detach().clone() if linear.bias is not None else None
        quantized, scale = stored[weight_name + _INT8], stored[weight_name + _SCALE]
        replacement = None if runtime == "weight_only" else _dynamic_int8_linear(quantized, scale, bias)
        if replacement is None:
            if runtime == "dynamic":
                raise InputError("load_int8(runtime='dynamic'): this torch has no torch.ao.nn.quantized.dynamic")
            replacement = Int8Linear(quantized, scale, bias)
        setattr(modules[parent_name] if parent_name else model, child, replacement)
    return model.eval()


def file_size(path: str | os.PathLike[str]) -> int:
    """Bytes of a file, or of every file under a directory."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@torch.no_grad()
def predict(model: torch.nn.Module, batches: Iterable[Mapping[str, torch.Tensor]]) -> torch.Tensor:
    """Argmax class ids of `model` over batches of {input_ids, attention_mask, ...}."""
    return torch.cat([model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.argmax(-1) for b in batches])


@torch.no_grad()
def cpu_latency_ms(model: torch.nn.Module, batch: Mapping[str, torch.Tensor], *, repeats: int = 20, warmup: int = 3) -> dict[str, float]:
    """Median and p90 milliseconds of one forward pass over `batch` on the CPU (after `warmup` passes)."""
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    for _ in range(warmup):
        model(**inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(**inputs)
        times.append((time.perf_counter() - start) * 1000.0)
    return {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90)), "repeats": repeats}
