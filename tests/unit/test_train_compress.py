"""Pruning and int8 export of a fine-tuned classifier: a tiny BERT (init = "random", the real
bert-base-uncased vocabulary size) trained by the driver on a tiny tokens table, then compressed,
exported as safetensors, loaded back and compared with the fp32 model on the test rows."""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from corpusforge.errors import InputError
from corpusforge.train.compress import (
    INT8_FILE,
    SPARSE_FILE,
    Int8Linear,
    file_size,
    linear_weights,
    load_classifier,
    load_int8,
    load_sparse,
    magnitude_prune,
    predict,
    save_int8,
    save_sparse,
)
from corpusforge.train.config import train_config_from_dict
from corpusforge.train.data import WORKER_KEY, DeltaTokenDataset, ReaderParams
from corpusforge.train.driver import evaluate_split, train
from test_train_driver import LABELS, _config


def _separable_table(path: Path, rows: int = 120) -> None:
    """Each label draws its ids from its own 40 ids, and every split has every label: a task a tiny model learns."""
    import deltalake
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(5)
    ids = [[101, *rng.integers(1000 + 100 * (i % 3), 1040 + 100 * (i % 3), size=int(rng.integers(4, 12))).tolist(), 102]
           for i in range(rows)]
    deltalake.write_deltalake(str(path), pa.table({
        "doc_id": [f"{i:032x}" for i in range(rows)],
        "input_ids": pa.array(ids, pa.list_(pa.int32())),
        "split": ["test" if i % 5 == 0 else "train" for i in range(rows)],
        "label": [LABELS[i % 3] for i in range(rows)],
    }))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("compress")
    tokens = root / "tokens"
    _separable_table(tokens)
    cfg = train_config_from_dict(_config(tokens, root / "run", optim={"epochs": 4, "lr": 5e-3}, run={"tensorboard": False}))
    results = train(cfg)
    dataset = DeltaTokenDataset(str(tokens), version=0, params=ReaderParams(
        seq_length=16, split="test", label_column="label", label_map=results["label_map"], shuffle=False))
    batches = [{k: v for k, v in batch.items() if k != WORKER_KEY} for batch in DataLoader(dataset, batch_size=8)]
    return {"cfg": cfg, "results": results, "model_dir": root / "run" / "best" / "model", "batches": batches}


def test_int8_export_loads_from_safetensors_and_predicts_like_fp32(trained, tmp_path):
    model = load_classifier(trained["model_dir"])
    fp32 = predict(model, trained["batches"])
    assert (fp32 == torch.cat([b["labels"] for b in trained["batches"]])).float().mean() > 0.5  # it learnt the task (chance is 1/3)

    weights = save_int8(model, tmp_path / "int8")
    assert sorted(p.name for p in (tmp_path / "int8").iterdir()) == ["config.json", "export.json", INT8_FILE]
    assert weights.stat().st_size < file_size(trained["model_dir"] / "model.safetensors")
    for runtime in ("auto", "weight_only"):
        int8 = load_int8(tmp_path / "int8", runtime=runtime)
        assert not any(isinstance(m, torch.nn.Linear) for m in int8.modules())  # every linear was replaced
        if runtime == "weight_only":
            assert sum(isinstance(m, Int8Linear) for m in int8.modules()) == len(linear_weights(model))
        agreement = (predict(int8, trained["batches"]) == fp32).float().mean().item()
        assert agreement >= 0.8, f"{runtime}: int8 agrees with fp32 on {agreement:.0%} of the test rows"
    # the driver's evaluation runs on the int8 model as on any classifier
    metrics = evaluate_split(trained["cfg"], load_int8(tmp_path / "int8"), split="test", version=0)
    assert metrics["n"] == 24 and abs(metrics["accuracy"] - trained["results"]["metrics"]["test"]["accuracy"]) <= 0.2


def test_exports_refuse_pickles_without_running_them(trained, tmp_path):
    class Payload:  # what a hostile pickle does when loaded: run code
        def __reduce__(self):
            return (Path.write_text, (tmp_path / "pwned", "ran"))

    save_int8(load_classifier(trained["model_dir"]), tmp_path / "int8")
    torch.save({"weight": Payload()}, tmp_path / "int8" / INT8_FILE)  # a pickle under the weights' name
    with pytest.raises(InputError, match="not a safetensors file"):
        load_int8(tmp_path / "int8")
    save_sparse(load_classifier(trained["model_dir"]), tmp_path / "sparse")
    shutil.copy(tmp_path / "int8" / INT8_FILE, tmp_path / "sparse" / SPARSE_FILE)
    with pytest.raises(InputError, match="not a safetensors file"):
        load_sparse(tmp_path / "sparse")
    pickled_model = tmp_path / "pickled_model"
    pickled_model.mkdir()
    shutil.copy(trained["model_dir"] / "config.json", pickled_model)
    torch.save({"weight": Payload()}, pickled_model / "pytorch_model.bin")
    with pytest.raises(InputError, match="has no \\*.safetensors weights"):
        load_classifier(pickled_model)
    assert not (tmp_path / "pwned").exists()


def test_magnitude_pruning_and_the_sparse_export(trained, tmp_path):
    model = load_classifier(trained["model_dir"])
    dense_file = file_size(trained["model_dir"] / "model.safetensors")
    pruned = copy.deepcopy(model)
    measured = magnitude_prune(pruned, 0.5)
    assert measured["linear_sparsity"] == pytest.approx(0.5, abs=1e-3)
    linear = torch.cat([m.weight.detach().abs().reshape(-1) for _, m in linear_weights(pruned)])
    original = torch.cat([m.weight.detach().abs().reshape(-1) for _, m in linear_weights(model)])
    kept = linear > 0
    assert original[kept].min() >= original[~kept].max()  # the smallest magnitudes went, globally

    weights = save_sparse(pruned, tmp_path / "sparse")
    export = json.loads((tmp_path / "sparse" / "export.json").read_text())
    assert export["format"] == "corpusforge.sparse_linear" and export["weights"] == SPARSE_FILE
    # the linear part shrinks to about half + 1/32 (mask bits); embeddings stay dense
    linear_bytes = sum(m.weight.numel() * 4 for _, m in linear_weights(model))
    assert weights.stat().st_size < dense_file - linear_bytes * 0.4
    loaded = load_sparse(tmp_path / "sparse")
    reloaded = loaded.state_dict()
    assert set(reloaded) == set(pruned.state_dict())
    for name, tensor in pruned.state_dict().items():
        assert torch.equal(tensor, reloaded[name]), name
    assert torch.equal(predict(loaded, trained["batches"]), predict(pruned, trained["batches"]))
