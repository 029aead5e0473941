"""The fine-tuning driver on tiny models and tiny Delta tables (CPU, one thread, no JVM).

Covers: a classification run end to end (results.json, metrics.jsonl, best/, checkpoints that
load weights-only), exact resume after a SIGKILL, the one-line errors, the validation carve,
causal-LM perplexity and the typed config.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import deltalake

from corpusforge.tables.deltars import read_delta
import numpy as np
import pyarrow as pa
import pytest
import torch

from corpusforge.errors import ConfigError
from corpusforge.train import checkpoint as ckpt
from corpusforge.train.config import load_train_config, train_config_from_dict
from corpusforge.train.driver import FAILPOINT_AFTER_CHECKPOINT, lr_schedule, main, train
from corpusforge.train.metrics import read_jsonl
from corpusforge.train.tasks import carve_fraction, carve_validation, inspect_table

REPO = Path(__file__).resolve().parents[2]
VOCAB_SIZE = sum(1 for _ in (REPO / "tests/data/vocab/bert-base-uncased/vocab.txt").open(encoding="utf-8"))
LABELS = ("positive", "negative", "neutral")  # deliberately unsorted: the label map sorts them
TINY_BERT = {"vocab_size": VOCAB_SIZE, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 64, "max_position_embeddings": 64}
TINY_GPT2 = {"vocab_size": 64, "n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 64}


def _tokens_table(path: Path, rows: int = 96, *, seed: int = 0, splits: tuple[str, ...] = ("train", "test")) -> None:
    """A `tokens` table as the tokenize stage writes it; token ranges depend on the label (learnable)."""
    rng = np.random.default_rng(seed)
    labels = [LABELS[i % 3] for i in range(rows)]
    ids = [[101, *rng.integers(1000 + 300 * (i % 3), 1300 + 300 * (i % 3), size=int(rng.integers(3, 12))).tolist(), 102]
           for i in range(rows)]
    split = [splits[1] if (len(splits) > 1 and i % 6 == 0) else splits[0] for i in range(rows)]
    deltalake.write_deltalake(str(path), pa.table({
        "doc_id": [f"{i:032x}" for i in range(rows)],
        "input_ids": pa.array(ids, pa.list_(pa.int32())),
        "n_tokens": pa.array([len(x) for x in ids], pa.int32()),
        "tokenizer": ["bert-base-uncased@test"] * rows,
        "split": split,
        "label": labels,
        "run_id": ["run-1"] * rows,
    }))


def _config(table: Path, out_dir: Path, **sections: dict) -> dict:
    raw = {
        "task": "classification",
        "data": {"table": str(table), "version": 0, "seq_length": 16, "validation_fraction": 0.2},
        "model": {"init": "random", "model_type": "bert", "config": dict(TINY_BERT)},  # an untrained tiny BERT, asked for by name
        "optim": {"epochs": 2, "batch_size": 8, "lr": 2e-3, "warmup_steps": 2, "schedule": "cosine"},
        "run": {"out_dir": str(out_dir), "seed": 7, "progress": False, "threads": 1, "eval_batch_size": 32},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    return raw


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "tokens"
    _tokens_table(path)
    return path


def test_classification_run_writes_results_metrics_best_and_weights_only_checkpoints(tokens, tmp_path):
    cfg = train_config_from_dict(_config(tokens, tmp_path / "run", optim={"epochs": 1}))
    results = train(cfg)

    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["label_map"] == {"negative": 0, "neutral": 1, "positive": 2}  # sorted distinct labels
    assert saved["table"]["uri"] == str(tokens) and saved["table"]["version"] == 0
    assert saved["table"]["validation_carved"] is True
    assert saved["config"]["optim"]["lr"] == 2e-3 and saved["wall_time_s"] > 0
    test = saved["metrics"]["test"]
    assert test["n"] == 16 and sum(map(sum, test["confusion_matrix"])) == 16  # every test row once
    assert 0.0 <= test["accuracy"] <= 1.0 and 0.0 <= test["macro_f1"] <= 1.0
    train_rows_before_carve = inspect_table(cfg, 0).split_rows["train"]  # 80
    assert saved["metrics"]["validation"]["n"] + saved["train"]["samples"] == train_rows_before_carve
    assert results["steps"] == saved["steps"] == math.ceil(saved["train"]["samples"] / 8)
    assert saved["epochs_completed"] == 1  # the budget ended on the epoch's last step

    steps = [r for r in read_jsonl(tmp_path / "run" / "metrics.jsonl") if "loss" in r and "eval" not in r]
    assert [r["step"] for r in steps] == list(range(1, saved["steps"] + 1))
    assert all(r["samples_per_s"] > 0 and r["tokens"] > 0 and r["lr"] > 0 for r in steps)

    best = json.loads((tmp_path / "run" / "best" / "metrics.json").read_text())
    assert best["step"] == saved["best"]["step"]
    assert (tmp_path / "run" / "best" / "model" / "model.safetensors").is_file()
    last = ckpt.complete_checkpoints(tmp_path / "run")[-1]
    assert (last / "model" / "model.safetensors").is_file()
    state = torch.load(last / "state.pt", weights_only=True)  # no arbitrary unpickling needed
    rank_state = torch.load(last / "rank_0.pt", weights_only=True)
    assert state["trainer"]["step"] == saved["steps"] and rank_state["reader"]["version"] == 0


def test_resume_after_sigkill_gives_the_uninterrupted_losses(tokens, tmp_path):
    # dropout on, grad accumulation, an epoch boundary crossed after the kill: every RNG and
    # position must be restored for the losses to match.
    common = {"optim": {"epochs": 2, "grad_accum": 2, "batch_size": 4}, "run": {"checkpoint_every": 3, "eval_every": 4}}
    uninterrupted = train(train_config_from_dict(_config(tokens, tmp_path / "whole", **common)))
    assert uninterrupted["steps"] > 6

    killed_dir = tmp_path / "killed"
    config_path = tmp_path / "train.toml"
    config_path.write_text(_toml(_config(tokens, killed_dir, **common)))
    env = {**os.environ, "CORPUSFORGE_FAILPOINT": FAILPOINT_AFTER_CHECKPOINT, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, str(REPO / "jobs" / "finetune.py"), "--config", str(config_path)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert [p.name for p in ckpt.complete_checkpoints(killed_dir)] == ["step_000003"]
    assert not (killed_dir / "results.json").exists()

    assert main(["--resume", str(killed_dir)]) == 0

    def losses(run: Path) -> list[tuple[int, float]]:
        return [(r["step"], r["loss"]) for r in read_jsonl(run / "metrics.jsonl") if "eval" not in r]

    whole, resumed = losses(tmp_path / "whole"), losses(killed_dir)
    assert [s for s, _ in resumed] == [s for s, _ in whole] == list(range(1, uninterrupted["steps"] + 1))
    assert np.allclose([l for _, l in resumed], [l for _, l in whole], rtol=0, atol=1e-6)
    evals = lambda run: [(r["step"], r["accuracy"], r["loss"]) for r in read_jsonl(run / "metrics.jsonl") if "eval" in r]
    assert evals(killed_dir) == evals(tmp_path / "whole")
    resumed_results = json.loads((killed_dir / "results.json").read_text())
    assert resumed_results["metrics"]["test"]["confusion_matrix"] == uninterrupted["metrics"]["test"]["confusion_matrix"]
    assert resumed_results["resumed_from"].endswith("step_000003")


def _toml(raw: dict) -> str:
    lines = [f"task = {json.dumps(raw['task'])}"]
    for section in ("data", "model", "optim", "run"):
        lines.append(f"[{section}]")
        for key, value in raw[section].items():
            if isinstance(value, dict):
                value = "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
            else:
                value = json.dumps(value)
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"model": {"init": "pretrained", "path": "/nonexistent/minilm"}}, "model directory '/nonexistent/minilm' does not exist"),
        ({"data": {"label_column": "sentiment"}}, "has no label column 'sentiment'"),
        ({"data": {"version": 7}}, "has no version 7 (latest is 0)"),
    ],
)
def test_errors_stop_with_one_line_naming_the_problem(tokens, tmp_path, capsys, change, named):
    config_path = tmp_path / "train.toml"
    config_path.write_text(_toml(_config(tokens, tmp_path / "run", **change)))
    assert main(["--config", str(config_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and err[0].startswith("finetune: error:")


def test_model_directory_without_safetensors_is_refused(tokens, tmp_path, capsys):
    model_dir = tmp_path / "pickled_model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"model_type": "bert", **TINY_BERT}))
    (model_dir / "pytorch_model.bin").write_bytes(b"not loaded")
    config_path = tmp_path / "train.toml"
    config_path.write_text(_toml(_config(tokens, tmp_path / "run", model={"init": "pretrained", "path": str(model_dir)})))
    assert main(["--config", str(config_path)]) == 2
    assert "has no *.safetensors weights" in capsys.readouterr().err


def test_unknown_config_key_is_an_error_naming_it(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('task = "classification"\n[optim]\nlearning_rate = 1e-4\n')
    with pytest.raises(ConfigError, match="unknown key 'optim.learning_rate'"):
        load_train_config(path)
    path.write_text('task = "regression"\n[data]\ntable = "t"\n')
    with pytest.raises(ConfigError, match="'task' must be one of"):
        load_train_config(path)
    with pytest.raises(ConfigError, match="'optim.grad_accum' must be >= 1"):
        load_train_config(overrides=["data.table=t", "optim.grad_accum=0"])


def test_validation_carve_is_a_pure_function_of_doc_id(tmp_path):
    forward, backward = tmp_path / "forward", tmp_path / "backward"
    _tokens_table(forward, rows=400)
    table = read_delta(str(forward))
    deltalake.write_deltalake(str(backward), table.take(list(range(table.num_rows - 1, -1, -1))))

    def carved(path: Path) -> dict[str, str]:
        cfg = train_config_from_dict(_config(path, tmp_path / f"run_{path.name}", data={"validation_fraction": 0.25}))
        info = carve_validation(cfg, inspect_table(cfg), tmp_path / f"run_{path.name}")
        view = read_delta(info.uri, columns=["doc_id", "split"])
        return dict(zip(view.column("doc_id").to_pylist(), view.column("split").to_pylist()))

    first, second = carved(forward), carved(backward)
    assert first == second
    validation = [doc for doc, split in first.items() if split == "validation"]
    assert all(carve_fraction(doc) < 0.25 for doc in validation)
    assert 0.15 < len(validation) / sum(split != "test" for split in first.values()) < 0.35
    # test rows never move; the test split stays whole
    assert sum(split == "test" for split in first.values()) == sum(1 for i in range(400) if i % 6 == 0)


def test_causal_lm_reports_loss_and_perplexity_on_packed_sequences(tmp_path):
    from corpusforge.tokenize.pack import PackParams, pack_sequences, packed_record_batch

    rng = np.random.default_rng(1)
    documents = [(f"doc{i}", (np.arange(int(rng.integers(5, 30))) % 16 + 3).tolist()) for i in range(60)]  # learnable cycles
    sequences = list(pack_sequences(documents, PackParams(seq_length=24, separator_id=2)))
    half = len(sequences) * 4 // 5
    table = tmp_path / "packed"
    deltalake.write_deltalake(str(table), pa.Table.from_batches([packed_record_batch(sequences[:half], "train")]))
    deltalake.write_deltalake(str(table), pa.Table.from_batches([packed_record_batch(sequences[half:], "validation")]), mode="append")
    raw = _config(table, tmp_path / "lm", data={"version": 1, "seq_length": 24},
                  model={"model_type": "gpt2", "config": dict(TINY_GPT2)}, optim={"epochs": 3, "lr": 5e-3})
    raw["task"] = "causal_lm"
    results = train(train_config_from_dict(raw))
    validation = results["metrics"]["validation"]
    assert results["table"]["validation_carved"] is False and results["best"]["metric"] == "loss"
    assert validation["perplexity"] == pytest.approx(math.exp(validation["loss"]))
    first_loss = read_jsonl(tmp_path / "lm" / "metrics.jsonl")[0]["loss"]
    assert validation["loss"] < first_loss < math.log(64) + 1  # it learnt something from a near-uniform start
    assert validation["tokens"] > 0


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    factors = [lr_schedule(s, total_steps=20, warmup_steps=4, schedule="cosine", min_ratio=0.1) for s in range(21)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0] and factors[4] == 1.0
    assert all(a >= b for a, b in zip(factors[4:], factors[5:])) and factors[20] == pytest.approx(0.1)


def test_an_empty_model_path_is_an_error_unless_a_random_model_is_asked_for(tokens, tmp_path, capsys):
    # configs/train_finsent.toml ships with model.path = "": it must not train an untrained bert-base
    config_path = tmp_path / "train.toml"
    config_path.write_text(_toml(_config(tokens, tmp_path / "run", model={"init": "pretrained", "path": ""})))
    assert main(["--config", str(config_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'model.path' is empty" in err[0] and 'model.init = "random"' in err[0]
    assert not (tmp_path / "run").exists()  # stopped before any work
    assert main(["--config", str(REPO / "configs" / "train_finsent.toml")]) == 2
    assert "'model.path' is empty" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="with model.init = \"random\""):
        train_config_from_dict(_config(tokens, tmp_path / "run", model={"path": "/some/model"}))
