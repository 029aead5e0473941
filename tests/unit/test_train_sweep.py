"""The hyperparameter sweep on a tiny BERT built from a config (init = "random") and the real
bert-base-uncased vocabulary size, over a tiny Delta tokens table (CPU, one thread, no JVM).

Checks the results table (Delta + CSV), the TensorBoard event files of every trial, that the
best trial is picked on validation and the test split is read exactly once (counted on the real
dataset class, nothing mocked), and that a sweep run again skips or resumes its trials.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from corpusforge.errors import ConfigError
from corpusforge.tables.deltars import read_delta
from corpusforge.train import driver
from corpusforge.train.data import DeltaTokenDataset
from corpusforge.train.metrics import read_jsonl
from corpusforge.train.monitor import read_scalars
from corpusforge.train.sweep import load_sweep, main, run_sweep, trials
from test_train_driver import _config, _toml, _tokens_table


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sweep_tables") / "tokens"
    _tokens_table(path)
    return path


def _sweep_file(tmp_path: Path, tokens: Path, *, space: str, method: str = "grid", extra: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    base = tmp_path / "train.toml"
    base.write_text(_toml(_config(tokens, tmp_path / "unused", optim={"epochs": 1})))
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'[sweep]\nbase = "train.toml"\nout_dir = "{tmp_path / "sweep"}"\nmethod = "{method}"\n{extra}\n'
                     f'[fixed]\n"run.eval_every" = 4\n\n[space]\n{space}\n')
    return sweep


@pytest.fixture
def counted(monkeypatch) -> dict[str, int]:
    """Counts passes over each split of the real DeltaTokenDataset and calls of the real driver.train."""
    counts: dict[str, int] = {}
    original_iter, original_train = DeltaTokenDataset.__iter__, driver.train

    def counting_iter(self):
        counts[f"split:{self.params.split}"] = counts.get(f"split:{self.params.split}", 0) + 1
        return original_iter(self)

    def counting_train(*args, **kwargs):
        counts["train"] = counts.get("train", 0) + 1
        return original_train(*args, **kwargs)

    monkeypatch.setattr(DeltaTokenDataset, "__iter__", counting_iter)
    monkeypatch.setattr(driver, "train", counting_train)
    return counts


def test_two_trial_sweep_table_tensorboard_choice_on_validation_and_one_test_pass(tokens, tmp_path, counted):
    sweep_path = _sweep_file(tmp_path, tokens, space='"optim.lr" = [1e-5, 3e-3]')
    summary = run_sweep(load_sweep(sweep_path))
    out = tmp_path / "sweep"

    assert counted["train"] == 2
    assert counted["split:test"] == 1  # the chosen trial's best model, once

    table = read_delta(str(out / "results")).to_pylist()
    with (out / "results.csv").open(newline="") as handle:
        from_csv = list(csv.DictReader(handle))
    assert [row["trial"] for row in table] == [0, 1] and len(from_csv) == 2
    assert [row["optim_lr"] for row in table] == [1e-5, 3e-3]
    assert [row["trial_id"] for row in from_csv] == [row["trial_id"] for row in table]
    # every validation pass is one logged evaluation (at steps 4, 8 and the last): the final
    # results reuse best/'s numbers instead of reading validation again
    logged = sum(1 for row in table for record in read_jsonl(out / "trials" / row["trial_id"] / "metrics.jsonl")
                 if record.get("eval") == "validation")
    assert counted["split:validation"] == logged >= 2 * 2
    for row in table:
        trial_dir = out / "trials" / row["trial_id"]
        results = json.loads((trial_dir / "results.json").read_text())
        assert row["val_accuracy"] == results["metrics"]["validation"]["accuracy"]
        assert "test" not in results["metrics"]  # trials never evaluate the test split
        assert json.loads(row["config"])["optim"]["lr"] == row["optim_lr"]
        assert Path(row["checkpoint"], "model.safetensors").is_file() and row["wall_time_s"] > 0

        scalars = read_scalars(trial_dir / "tensorboard")
        steps = results["steps"]
        assert [step for step, _ in scalars["train/loss"]] == list(range(1, steps + 1))
        for tag in ("train/lr", "train/grad_norm", "train/tokens_per_s", "train/samples_per_s"):
            assert len(scalars[tag]) == steps and all(value > 0 for _, value in scalars[tag])
        assert all(0.0 <= value <= 1.0 for _, value in scalars["train/data_wait_share"])
        assert [step for step, _ in scalars["validation/accuracy"]] == sorted({4, 8, steps})
        assert scalars["final/validation/accuracy"] == [(steps, pytest.approx(row["val_accuracy"]))]
        assert not any(tag.startswith("final/test") for tag in scalars)

    # chosen on validation: the best validation accuracy, ties to the earlier trial
    best = max(table, key=lambda row: (row["val_accuracy"], -row["trial"]))
    assert [row["chosen"] for row in table] == [row is best for row in table]
    assert summary["chosen"]["trial_id"] == best["trial_id"]
    assert summary["validation"]["accuracy"] == best["val_accuracy"]
    assert summary["test"]["n"] == 16 and sum(map(sum, summary["test"]["confusion_matrix"])) == 16
    assert best["test_accuracy"] == summary["test"]["accuracy"]
    assert [row["test_accuracy"] for row in table if not row["chosen"]] == [None]
    assert json.loads((out / "sweep.json").read_text())["test"] == summary["test"]

    # run again: nothing trains, the test split is not read again, the table is the same
    counted.clear()
    again = run_sweep(load_sweep(sweep_path))
    assert counted.get("train", 0) == 0 and counted.get("split:test", 0) == 0
    assert again["test"] == summary["test"] and read_delta(str(out / "results")).to_pylist() == table

    # a trial killed before results.json: only it runs again, from its checkpoint
    unfinished = out / "trials" / table[1]["trial_id"] / "results.json"
    unfinished.unlink()
    counted.clear()
    run_sweep(load_sweep(sweep_path))
    assert counted["train"] == 1 and unfinished.is_file()
    assert json.loads(unfinished.read_text())["resumed_from"] is not None
    assert [row["trial_id"] for row in read_delta(str(out / "results")).to_pylist()] == [row["trial_id"] for row in table]


def test_parallel_trials_match_the_sequential_ones(tokens, tmp_path):
    space = '"optim.lr" = [2e-3]\n"run.seed" = [1, 2]'
    sequential = run_sweep(load_sweep(_sweep_file(tmp_path / "a", tokens, space=space, extra="trials = 0")))
    parallel = run_sweep(load_sweep(_sweep_file(tmp_path / "b", tokens, space=space), parallel=2))
    rows = [read_delta(str(tmp_path / name / "sweep" / "results"), columns=["trial_id", "run_seed", "val_accuracy", "val_loss"]).to_pylist()
            for name in ("a", "b")]
    assert rows[0] == rows[1] and len(rows[0]) == 2  # same configs, same seeds, same numbers
    assert sequential["test"] == parallel["test"]


def test_random_search_draws_within_the_space_and_is_reproducible(tokens, tmp_path):
    space = '"optim.lr" = { low = 1e-5, high = 1e-3, log = true }\n"optim.batch_size" = [4, 8]\n"optim.warmup_ratio" = [0.0, 0.1]'
    path = _sweep_file(tmp_path, tokens, space=space, method="random", extra="trials = 5\nseed = 3")
    drawn = trials(load_sweep(path))
    assert 1 <= len(drawn) <= 5 and [t.point for t in drawn] == [t.point for t in trials(load_sweep(path))]
    for trial in drawn:
        assert 1e-5 <= trial.config.optim.lr <= 1e-3 and trial.config.optim.batch_size in (4, 8)
        assert trial.config.data.test_split == "" and Path(trial.config.run.out_dir).name == trial.trial_id
    assert len({t.trial_id for t in drawn}) == len(drawn)


def test_a_list_sweep_pairs_the_ith_values_of_every_key(tokens, tmp_path):
    space = '"optim.lr" = [1e-4, 3e-5]\n"optim.batch_size" = [16, 32]\n"optim.epochs" = [3]'
    drawn = trials(load_sweep(_sweep_file(tmp_path, tokens, space=space, method="list")))
    assert [(t.config.optim.lr, t.config.optim.batch_size, t.config.optim.epochs) for t in drawn] == [(1e-4, 16, 3), (3e-5, 32, 3)]
    uneven = _sweep_file(tmp_path / "uneven", tokens, space='"optim.lr" = [1e-4, 3e-5]\n"optim.batch_size" = [16, 32, 64]',
                         method="list")
    with pytest.raises(ConfigError, match="a list sweep needs lists of one length"):
        load_sweep(uneven)


@pytest.mark.parametrize(
    ("space", "extra", "named"),
    [
        ('"optim.learning_rate" = [1e-4]', "", "unknown key 'optim.learning_rate'"),
        ('"optim.lr" = { low = 1e-5, high = 1e-3 }', "", "'space.optim.lr' is a range; a grid needs a list"),
        ('"optim.lr" = [1e-4]', "parallel = 0", "'sweep.parallel' must be >= 1"),
        ('"optim.batch_size" = [0]', "", "'optim.batch_size' must be >= 1"),
    ],
)
def test_a_bad_sweep_stops_before_any_trial_with_one_line(tokens, tmp_path, capsys, space, extra, named):
    path = _sweep_file(tmp_path, tokens, space=space, extra=extra)
    assert main(["--sweep", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and err[0].startswith("sweep: error:")
    assert not (tmp_path / "sweep").exists()
