"""Checkpoints that resume exactly and load without unpickling arbitrary objects.

A checkpoint is a directory::

    step_000040/
      model/            config.json + model.safetensors (a loadable `from_pretrained` directory)
      state.pt          optimizer, scheduler, trainer counters (the same on every rank)
      rank_<r>.pt       RNG states and reader position of rank r
      config.json       the resolved TrainConfig
      COMPLETE          written last: a directory without it is a checkpoint a kill interrupted

`state.pt` and `rank_<r>.pt` hold only tensors, numbers, strings, lists, tuples and dicts, so it loads with
`torch.load(..., weights_only=True)`. NumPy's RNG state (which holds an ndarray) is stored
as a tensor and rebuilt. A checkpoint is written into `.tmp-step_N` and renamed, so a kill
never leaves a directory that looks complete.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from corpusforge.errors import InputError

STATE_FILE = "state.pt"
COMPLETE_MARKER = "COMPLETE"
_STEP_DIR = re.compile(r"^step_(\d+)$")


def capture_rng_state() -> dict[str, Any]:
    """The torch, CUDA, NumPy and Python RNG states as weights-only-loadable data.

    >>> state = capture_rng_state(); first = random.random(); restore_rng_state(state)
    >>> random.random() == first
    True
    """
    kind, keys, position, has_gauss, cached_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gauss": float(cached_gauss)},
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Put back the RNG states `capture_rng_state` returned."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["kind"], numpy_state["keys"].numpy().astype(np.uint32), numpy_state["position"],
                         numpy_state["has_gauss"], numpy_state["cached_gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_lists(value: Any) -> Any:
    return [_to_lists(item) for item in value] if isinstance(value, tuple) else value


def checkpoint_paths(run_dir: str | os.PathLike[str], step: int) -> tuple[Path, Path]:
    """(temporary, final) directories of checkpoint `step` under `run_dir/checkpoints`.

    >>> [p.name for p in checkpoint_paths("out", 40)]
    ['.tmp-step_000040', 'step_000040']
    """
    root = Path(run_dir) / "checkpoints"
    return root / f".tmp-step_{step:06d}", root / f"step_{step:06d}"


def write_shared(tmp: Path, *, model: torch.nn.Module, state: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """Master process: start `tmp` afresh and write the model, `state.pt` and the config into it.

    `model` is the unwrapped Hugging Face model (saved with `save_pretrained`, safetensors);
    `state` is the optimizer/scheduler/trainer dict, the same on every rank.
    """
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, tmp / "model")
    torch.save(dict(state), tmp / STATE_FILE)
    (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")


def write_rank_state(tmp: Path, rank: int, state: Mapping[str, Any]) -> None:
    """Every rank: its own RNG states and reader position, as `rank_<r>.pt`."""
    torch.save(dict(state), tmp / f"rank_{rank}.pt")


def commit_checkpoint(tmp: Path, final: Path, run_dir: str | os.PathLike[str], *, keep: int) -> Path:
    """Master process: mark `tmp` complete, rename it to `final`, keep only the newest `keep`."""
    (tmp / COMPLETE_MARKER).write_text(final.name, encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in complete_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def save_model(model: torch.nn.Module, directory: str | os.PathLike[str]) -> None:
    """`save_pretrained` into `directory` as safetensors (config.json + model.safetensors)."""
    model.save_pretrained(str(directory), safe_serialization=True)


def complete_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The run's complete checkpoint directories, oldest first.

    >>> import tempfile
    >>> complete_checkpoints(tempfile.mkdtemp())
    []
    """
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in root.iterdir()
             if (match := _STEP_DIR.match(path.name)) and (path / COMPLETE_MARKER).is_file()]
    return [path for _, path in sorted(found)]


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A checkpoint directory from `--resume PATH`: the checkpoint itself or a run directory (its newest).

    >>> import tempfile
    >>> resolve_checkpoint(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    corpusforge.errors.InputError: --resume ...: no complete checkpoint there (expected .../checkpoints/step_N/COMPLETE)
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"--resume {str(path)!r}: no such directory")
    if (path / COMPLETE_MARKER).is_file() and (path / STATE_FILE).is_file():
        return path
    found = complete_checkpoints(path)
    if not found:
        raise InputError(f"--resume {str(path)!r}: no complete checkpoint there (expected {path}/checkpoints/step_N/COMPLETE)")
    return found[-1]


def load_checkpoint_state(checkpoint: str | os.PathLike[str]) -> dict[str, Any]:
    """The `state.pt` of a checkpoint, loaded with `weights_only=True` (no arbitrary unpickling)."""
    return torch.load(Path(checkpoint) / STATE_FILE, map_location="cpu", weights_only=True)


def load_rank_state(checkpoint: str | os.PathLike[str], rank: int) -> dict[str, Any]:
    """The `rank_<r>.pt` of a checkpoint (RNG states, reader position), loaded weights-only."""
    path = Path(checkpoint) / f"rank_{rank}.pt"
    if not path.is_file():
        raise InputError(f"checkpoint {str(checkpoint)!r} has no state for rank {rank}; resume with the world size it was saved with")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_checkpoint_config(checkpoint: str | os.PathLike[str]) -> dict[str, Any]:
    """The resolved TrainConfig (as plain data) the checkpoint was written with."""
    return json.loads((Path(checkpoint) / "config.json").read_text(encoding="utf-8"))


def load_model_weights(model: torch.nn.Module, model_dir: str | os.PathLike[str]) -> None:
    """Load `model.safetensors` from `model_dir` into `model` (strict: every key must match)."""
    from safetensors.torch import load_file

    weights = Path(model_dir) / "model.safetensors"
    if not weights.is_file():
        raise InputError(f"{model_dir}: no model.safetensors")
    state = load_file(str(weights))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # save_pretrained drops weights tied to others (e.g. an LM head tied to the embeddings).
    tied = set(getattr(model, "_tied_weights_keys", None) or {})
    missing = [key for key in missing if key not in tied and not _is_tied(model, key)]
    if missing or unexpected:
        raise InputError(f"{weights}: does not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")


def _is_tied(model: torch.nn.Module, key: str) -> bool:
    # A missing key is fine when its tensor is the very same storage as a saved one.
    parameters = dict(model.named_parameters(remove_duplicate=False))
    tensor = parameters.get(key)
    if tensor is None:
        return False
    return any(other is tensor for name, other in parameters.items() if name != key)
