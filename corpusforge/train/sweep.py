"""Hyperparameter search over the fine-tuning config: grid, random or a list, chosen on validation only.

A sweep file names a base `train.toml`, what every trial shares (`[fixed]`) and what varies
(`[space]`). Each trial is one ordinary run of the driver in `<out_dir>/trials/<trial_id>/`
(its own metrics.jsonl, TensorBoard events, best/ model), with the test split switched off.
When every trial is done, the best trial by its **validation** metric is picked, and only its
best model is evaluated on the test split, once; that is the number the sweep reports.

Example ``sweep.toml``::

    [sweep]
    base = "train_finsent.toml"    # relative to this file
    out_dir = "out/sweep_finsent"
    method = "grid"                # or "random" with trials = N and seed, or "list"
    metric = "accuracy"            # validation metric; "loss" is minimised

    [fixed]                        # every trial: --set overrides of the base
    "data.seq_length" = 64

    [space]                        # grid: lists; random: lists (a choice) or {low, high, log};
                                   # list: lists of one length, trial i takes the i-th of each
    "optim.lr" = [3e-5, 5e-5, 1e-4]
    "optim.batch_size" = [16, 32]

Run it (trials one after another, or `--parallel N` worker processes)::

    python jobs/sweep.py --sweep configs/sweep_finsent.toml --set model.path=MODEL --set data.table=OUT/tokens

Outputs: `results/` (Delta, written with deltalake, no JVM) and `results.csv`, one row per
finished trial (its varied values, validation metrics, times, checkpoint path and the full
config as JSON; the chosen row also carries the test metrics), and `sweep.json` (the chosen
trial, its config, validation and test metrics). A trial is keyed by a hash of its resolved
config, so a sweep run again skips finished trials, resumes an interrupted one from its
newest checkpoint, and never evaluates the test split a second time for the same choice.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import itertools
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

import numpy as np

from corpusforge.errors import ConfigError, CorpusforgeError
from corpusforge.typed_config import build_config, read_toml
from corpusforge.train.config import TrainConfig, train_config_dict, train_config_from_dict

TRIALS_DIR = "trials"
RESULTS_TABLE = "results"
SUMMARY_FILE = "sweep.json"
# Keys that say where or how visibly a trial runs, not what it learns: left out of its hash.
_UNHASHED = {("run", "out_dir"), ("run", "progress"), ("run", "threads"), ("data", "test_split")}


@dataclass(frozen=True, kw_only=True)
class SweepParams:
    """The `[sweep]` section."""

    base: str = ""  # the train.toml every trial starts from (a relative path is relative to the sweep file)
    out_dir: str = "out/sweep"  # trials/, results/ (Delta), results.csv, sweep.json
    # grid: every combination; random: `trials` draws; list: trial i takes the i-th value of every
    # key (a second stage re-running chosen points of a screen, whose values are no product)
    method: Literal["grid", "random", "list"] = "grid"
    trials: int = 0  # random: how many points to draw (required); grid and list: 0 = all of them
    seed: int = 0  # random: the draws' seed (the same seed draws the same trials)
    metric: str = "accuracy"  # validation metric that picks the best trial; "loss"/"perplexity" are minimised
    parallel: int = 1  # trials run at once, each in its own process with cores / parallel threads


@dataclass(frozen=True, kw_only=True)
class Range:
    """A continuous range of a random search: uniform, or log-uniform when `log`."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True, kw_only=True)
class SweepPlan:
    """A parsed sweep file: its params, the base config, the fixed overrides and the space."""

    params: SweepParams
    base: dict[str, Any]  # the base train.toml as plain data
    overrides: tuple[str, ...]  # --set overrides for every trial (the command line's, then [fixed])
    space: dict[str, list[Any] | Range] = field(default_factory=dict)  # "section.key" → values or a Range
    test_split: str = "test"  # the split evaluated once, for the chosen trial ('' = none)


@dataclass(frozen=True, kw_only=True)
class Trial:
    """One point of the search: its index, what it varies, its resolved config and its id."""

    index: int
    point: dict[str, Any]  # "section.key" → value (resolved by the typed config)
    config: TrainConfig  # what the driver runs (run.out_dir = its trial directory, no test split)
    trial_id: str  # 12 hex digits of a hash of the config, out_dir and progress aside

    @property
    def out_dir(self) -> Path:
        return Path(self.config.run.out_dir)


def load_sweep(path: str | os.PathLike[str], overrides: list[str] = (), *, parallel: int | None = None,
               out_dir: str | None = None) -> SweepPlan:
    """Parse a sweep file; `overrides` (--set) change every trial's base config.

    Every trial's config is resolved here, so a bad key or value anywhere stops the sweep before
    the first trial trains (ConfigError naming it).
    """
    raw = read_toml(path)
    unknown = sorted(set(raw) - {"sweep", "fixed", "space"})
    if unknown:
        raise ConfigError(f"sweep {path}: unknown section {unknown[0]!r}; expected sweep, fixed, space")
    params = build_config(SweepParams, raw.get("sweep", {}))
    params = dataclasses.replace(params, **{k: v for k, v in (("parallel", parallel), ("out_dir", out_dir)) if v is not None})
    if not params.base:
        raise ConfigError(f"sweep {path}: 'sweep.base' is empty; name the train.toml the trials start from")
    base_path = Path(params.base) if Path(params.base).is_absolute() else Path(path).parent / params.base
    if params.parallel < 1:
        raise ConfigError(f"sweep {path}: 'sweep.parallel' must be >= 1, got {params.parallel}")
    if params.method == "random" and params.trials < 1:
        raise ConfigError(f"sweep {path}: a random search needs 'sweep.trials' >= 1")
    fixed = [f"{key}={_toml_literal(value)}" for key, value in _flatten(raw.get("fixed", {}), ranges=False).items()]
    space = _flatten(raw.get("space", {}), ranges=True)
    if not space:
        raise ConfigError(f"sweep {path}: '[space]' is empty; name at least one key to vary")
    for key, values in space.items():
        if isinstance(values, list) and not values:
            raise ConfigError(f"sweep {path}: 'space.{key}' is an empty list")
        if isinstance(values, Range) and params.method != "random":
            raise ConfigError(f"sweep {path}: 'space.{key}' is a range; a {params.method} needs a list of values")
        if isinstance(values, Range) and (values.high < values.low or (values.log and values.low <= 0)):
            raise ConfigError(f"sweep {path}: 'space.{key}' needs low <= high (and low > 0 with log = true)")
    lengths = {key: len(values) for key, values in space.items() if isinstance(values, list) and len(values) > 1}
    if params.method == "list" and len(set(lengths.values())) > 1:
        raise ConfigError(f"sweep {path}: a list sweep needs lists of one length (or single values); got {lengths}")
    base = read_toml(base_path)
    test_split = train_config_from_dict(base, [*overrides, *fixed]).data.test_split
    plan = SweepPlan(params=params, base=base, overrides=(*overrides, *fixed), space=space, test_split=test_split)
    trials(plan)  # resolve every trial now: errors before any work
    return plan


def _flatten(table: dict[str, Any], *, ranges: bool, prefix: str = "") -> dict[str, Any]:
    # Accept both `"optim.lr" = [...]` and `[space.optim] lr = [...]` (which TOML nests).
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and ranges and {"low", "high"} <= set(value):
            flat[name] = build_config(Range, value)
        elif isinstance(value, dict):
            flat.update(_flatten(value, ranges=ranges, prefix=f"{name}."))
        elif ranges and not isinstance(value, list):
            flat[name] = [value]  # a single value: fixed, but shown in the results table
        else:
            flat[name] = value
    return flat


def _toml_literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str | bool) or value is None else repr(value)


def grid_points(space: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the space's values, keys in sorted order, the last key varying fastest.

    >>> grid_points({"optim.lr": [1e-4, 5e-5], "optim.batch_size": [16, 32]})
    [{'optim.batch_size': 16, 'optim.lr': 0.0001}, {'optim.batch_size': 16, 'optim.lr': 5e-05}, {'optim.batch_size': 32, 'optim.lr': 0.0001}, {'optim.batch_size': 32, 'optim.lr': 5e-05}]
    """
    keys = sorted(space)
    return [dict(zip(keys, values)) for values in itertools.product(*(space[key] for key in keys))]


def list_points(space: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Trial i takes the i-th value of every key; a single value is shared by every trial.

    >>> list_points({"optim.lr": [1e-4, 5e-5], "optim.batch_size": [16, 32], "run.seed": [7]})
    [{'optim.batch_size': 16, 'optim.lr': 0.0001, 'run.seed': 7}, {'optim.batch_size': 32, 'optim.lr': 5e-05, 'run.seed': 7}]
    """
    keys = sorted(space)
    count = max(len(space[key]) for key in keys)
    return [{key: space[key][index if len(space[key]) > 1 else 0] for key in keys} for index in range(count)]


def random_points(space: dict[str, list[Any] | Range], count: int, seed: int) -> list[dict[str, Any]]:
    """`count` points drawn with numpy's PCG64 from `seed`: a list is a uniform choice, a Range a
    uniform (or log-uniform) draw rounded to 3 significant digits. The same seed draws the same points.

    >>> points = random_points({"optim.lr": Range(low=1e-5, high=1e-3, log=True), "run.seed": [1, 2]}, 3, seed=0)
    >>> points == random_points({"optim.lr": Range(low=1e-5, high=1e-3, log=True), "run.seed": [1, 2]}, 3, seed=0)
    True
    >>> all(1e-5 <= p["optim.lr"] <= 1e-3 and p["run.seed"] in (1, 2) for p in points)
    True
    """
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(count):
        point = {}
        for key in sorted(space):
            values = space[key]
            if isinstance(values, Range):
                if values.log:
                    drawn = math.exp(rng.uniform(math.log(values.low), math.log(values.high)))
                else:
                    drawn = rng.uniform(values.low, values.high)
                point[key] = float(f"{drawn:.3g}")
            else:
                point[key] = values[int(rng.integers(len(values)))]
        points.append(point)
    return points


def trial_hash(config: TrainConfig) -> str:
    """12 hex digits of BLAKE2b over the resolved config, where and how visibly it runs left out.

    >>> cfg = train_config_from_dict({"data": {"table": "t"}, "model": {"init": "random"}})
    >>> trial_hash(cfg) == trial_hash(dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, out_dir="elsewhere")))
    True
    """
    data = train_config_dict(config)
    for section, key in _UNHASHED:
        data[section].pop(key, None)
    return hashlib.blake2b(json.dumps(data, sort_keys=True).encode("utf-8"), digest_size=6).hexdigest()


def trials(plan: SweepPlan) -> list[Trial]:
    """The sweep's trials in order, each config resolved (a bad key or value is a ConfigError naming it)."""
    params = plan.params
    if params.method in ("grid", "list"):
        points = grid_points(plan.space) if params.method == "grid" else list_points(plan.space)
        if params.trials:
            points = points[: params.trials]
    else:
        points = random_points(plan.space, params.trials, params.seed)
    found: list[Trial] = []
    seen: set[str] = set()
    for index, point in enumerate(points):
        sets = [*plan.overrides, *(f"{key}={_toml_literal(value)}" for key, value in point.items()), 'data.test_split=""']
        config = train_config_from_dict(plan.base, sets)
        trial_id = trial_hash(config)
        if trial_id in seen:
            continue  # a random search can draw a point twice: train it once
        seen.add(trial_id)
        out_dir = Path(params.out_dir) / TRIALS_DIR / trial_id
        config = dataclasses.replace(config, run=dataclasses.replace(config.run, out_dir=str(out_dir)))
        resolved = {key: _config_value(config, key) for key in point}
        found.append(Trial(index=len(found), point=resolved, config=config, trial_id=trial_id))
    return found


def _config_value(config: TrainConfig, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


# -- running trials ----------------------------------------------------------------------


def trial_results(trial: Trial) -> dict[str, Any] | None:
    """The results.json of a finished trial, or None (not run, or killed before the end)."""
    path = trial.out_dir / "results.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text(encoding="utf-8"))
    return results if trial_hash(train_config_from_dict(results["config"])) == trial.trial_id else None


def run_trial(config_data: dict[str, Any], threads: int) -> dict[str, Any]:
    """Train one trial (in this process or a worker); resume it when a killed attempt left a checkpoint."""
    from corpusforge.train import checkpoint as ckpt
    from corpusforge.train.driver import train

    config = train_config_from_dict(config_data)
    if not config.run.threads and threads:
        config = dataclasses.replace(config, run=dataclasses.replace(config.run, threads=threads))
    resume = config.run.out_dir if ckpt.complete_checkpoints(config.run.out_dir) else None
    return train(config, resume=resume)


def run_sweep(plan: SweepPlan) -> dict[str, Any]:
    """Run the trials not yet finished, write the results table, pick the best on validation,
    evaluate it once on the test split; return the summary (also `sweep.json`)."""
    started = time.time()
    out_dir = Path(plan.params.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    all_trials = trials(plan)
    done = {trial.trial_id: results for trial in all_trials if (results := trial_results(trial)) is not None}
    pending = [trial for trial in all_trials if trial.trial_id not in done]
    print(f"sweep: {len(all_trials)} trials ({plan.params.method}), {len(done)} already finished, {len(pending)} to run"
          f"{f', {plan.params.parallel} at a time' if plan.params.parallel > 1 else ''}", file=sys.stderr)
    threads = max(1, (os.cpu_count() or 1) // plan.params.parallel)
    if plan.params.parallel == 1:
        for trial in pending:
            done[trial.trial_id] = run_trial(train_config_dict(trial.config), 0)
            write_results_table(out_dir, all_trials, done)
    else:
        # spawn, not fork: a forked torch process inherits the parent's thread pools and locks
        with ProcessPoolExecutor(max_workers=plan.params.parallel, mp_context=get_context("spawn")) as pool:
            futures = {trial.trial_id: pool.submit(run_trial, train_config_dict(trial.config), threads) for trial in pending}
            for trial in pending:
                done[trial.trial_id] = futures[trial.trial_id].result()
                write_results_table(out_dir, all_trials, done)
    chosen = choose_best(all_trials, done, plan.params.metric)
    summary = _summary_with_test(plan, chosen, done[chosen.trial_id])
    write_results_table(out_dir, all_trials, done, chosen=(chosen.trial_id, summary.get("test")))
    summary["sweep_wall_time_s"] = time.time() - started
    summary["trials_wall_time_s"] = sum(results["wall_time_s"] for results in done.values())
    _write_json(out_dir / SUMMARY_FILE, summary)
    test = summary.get("test") or {}
    print(f"sweep: chose trial {chosen.index} ({chosen.trial_id}) {chosen.point} on validation "
          f"{plan.params.metric}={summary['validation'][plan.params.metric]:.4f}; "
          f"test {plan.params.metric}={test.get(plan.params.metric, float('nan')):.4f}; "
          f"table {out_dir / RESULTS_TABLE}", file=sys.stderr)
    return summary


def choose_best(all_trials: list[Trial], done: dict[str, dict[str, Any]], metric: str) -> Trial:
    """The trial with the best validation `metric` (ties: the earlier trial). Test metrics are never read.

    >>> cfg = train_config_from_dict({"data": {"table": "t"}, "model": {"init": "random"}})
    >>> a, b = (Trial(index=i, point={}, config=cfg, trial_id=t) for i, t in enumerate("ab"))
    >>> choose_best([a, b], {"a": {"metrics": {"validation": {"accuracy": 0.7}}},
    ...                      "b": {"metrics": {"validation": {"accuracy": 0.8}}}}, "accuracy").trial_id
    'b'
    """
    lower_is_better = metric in ("loss", "perplexity")
    scored = []
    for trial in all_trials:
        validation = done[trial.trial_id]["metrics"].get("validation")
        if validation is None or metric not in validation:
            raise ConfigError(f"sweep: trial {trial.trial_id} has no validation {metric!r}; give the table a validation "
                              "split or data.validation_fraction > 0, and a metric the task reports")
        value = validation[metric]
        if value == value:  # NaN never wins
            scored.append(((value if lower_is_better else -value), trial.index, trial))
    if not scored:
        raise CorpusforgeError(f"sweep: no trial has a usable validation {metric!r}")
    return min(scored, key=lambda item: item[:2])[2]


def _summary_with_test(plan: SweepPlan, chosen: Trial, results: dict[str, Any]) -> dict[str, Any]:
    # The test split is read once per choice: a finished sweep run again reuses the number.
    summary_path = Path(plan.params.out_dir) / SUMMARY_FILE
    summary = {"chosen": {"index": chosen.index, "trial_id": chosen.trial_id, "point": chosen.point,
                          "checkpoint": str(chosen.out_dir / "best" / "model")},
               "metric": plan.params.metric, "method": plan.params.method, "trials": len(trials(plan)),
               "validation": results["metrics"]["validation"], "config": results["config"],
               "table": results["table"], "test": None, "test_split": plan.test_split}
    if summary_path.is_file():
        earlier = json.loads(summary_path.read_text(encoding="utf-8"))
        if earlier.get("chosen", {}).get("trial_id") == chosen.trial_id and earlier.get("test") is not None:
            summary["test"] = earlier["test"]
            return summary
    if plan.test_split:
        from corpusforge.train.driver import evaluate_model_dir

        config = train_config_from_dict(results["config"])
        summary["test"] = evaluate_model_dir(config, chosen.out_dir / "best" / "model", split=plan.test_split,
                                             version=results["table"]["version"])
    return summary


# -- the results table -------------------------------------------------------------------


def results_rows(all_trials: list[Trial], done: dict[str, dict[str, Any]],
                 chosen: tuple[str, dict[str, Any] | None] | None = None) -> list[dict[str, Any]]:
    """One row per finished trial, in trial order (the results table and CSV)."""
    rows = []
    for trial in all_trials:
        results = done.get(trial.trial_id)
        if results is None:
            continue
        validation = results["metrics"].get("validation", {})
        is_chosen = chosen is not None and chosen[0] == trial.trial_id
        test = (chosen[1] or {}) if is_chosen else {}
        row = {"trial": trial.index, "trial_id": trial.trial_id}
        row.update({_column(key): value for key, value in trial.point.items()})
        row.update({
            "val_accuracy": validation.get("accuracy"), "val_macro_f1": validation.get("macro_f1"),
            "val_loss": validation.get("loss"), "best_step": results["best"]["step"], "steps": results["steps"],
            "epochs_completed": results["epochs_completed"], "train_time_s": results["train"]["train_time_s"],
            "wall_time_s": results["wall_time_s"], "tokens_per_s": results["train"]["tokens_per_s"],
            "data_wait_share": results["train"]["data_wait_share"],
            "checkpoint": str(trial.out_dir / "best" / "model"), "chosen": is_chosen,
            "test_accuracy": test.get("accuracy"), "test_macro_f1": test.get("macro_f1"),
            "config": json.dumps(results["config"], sort_keys=True),
        })
        rows.append(row)
    return rows


def _column(key: str) -> str:
    return key.replace(".", "_")  # Delta column names without column mapping: no dots


def write_results_table(out_dir: Path, all_trials: list[Trial], done: dict[str, dict[str, Any]],
                        chosen: tuple[str, dict[str, Any] | None] | None = None) -> None:
    """Overwrite `results/` (a new Delta version, written by deltalake) and `results.csv` with every finished trial."""
    import deltalake
    import pyarrow as pa

    rows = results_rows(all_trials, done, chosen)
    if not rows:
        return
    table = pa.Table.from_pylist(rows, schema=_results_schema(rows))
    deltalake.write_deltalake(str(out_dir / RESULTS_TABLE), table, mode="overwrite", schema_mode="overwrite")
    tmp = out_dir / "results.csv.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out_dir / "results.csv")


def _results_schema(rows: list[dict[str, Any]]):
    import pyarrow as pa

    # Metric columns that are null in every row (test metrics before the choice) still need a type.
    fields = []
    for name in rows[0]:
        values = [row[name] for row in rows if row[name] is not None]
        if not values:
            arrow_type = pa.float64()
        elif all(isinstance(value, bool) for value in values):
            arrow_type = pa.bool_()
        elif all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            arrow_type = pa.int64()
        elif all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
            arrow_type = pa.float64()
        else:
            arrow_type = pa.string()
        fields.append(pa.field(name, arrow_type))
    return pa.schema(fields)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


# -- command line ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line of `jobs/sweep.py`."""
    parser = argparse.ArgumentParser(prog="sweep", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", required=True, help="sweep.toml ([sweep], [fixed], [space])")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a key of every trial's base config (repeatable), e.g. --set model.path=DIR")
    parser.add_argument("--parallel", type=int, help="trials at once, each in its own process (default: sweep.parallel)")
    parser.add_argument("--out", help="output directory (default: sweep.out_dir)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: one line per error, exit 2 for a bad sweep or trial config (before any trial trains)."""
    args = build_parser().parse_args(argv)
    try:
        run_sweep(load_sweep(args.sweep, args.overrides, parallel=args.parallel, out_dir=args.out))
    except CorpusforgeError as error:
        print(f"sweep: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0
