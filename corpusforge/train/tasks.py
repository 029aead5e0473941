"""What the driver trains: the table it reads, the model it builds and how it evaluates.

Two tasks share one loop:

* `ClassificationTask` — sequence classification on a `tokens` table with a label column.
  The label map is the table's distinct labels, sorted (so it is the same for every run on
  the same version and is stored in results.json); validation/test give accuracy, macro-F1
  and a confusion matrix.
* `CausalLMTask` — continued pre-training on a `packed` table; loss and perplexity.

`inspect_table` opens the pinned version once and checks what the task needs, so a missing
label column or version stops the run in one line before a model is built. When the table
has no validation split, `carve_validation` writes a small split view in which a fixed share
of train rows (chosen by a hash of `carve_key`, so the carve does not depend on row order or
file layout) is relabelled `validation`; the view is a copy of the needed columns, fine for
fine-tuning tables, costly for very large pre-training ones (give those a validation split).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
import torch.nn.functional as F

from corpusforge.tables.deltars import delta_dataset
from corpusforge.errors import ConfigError, InputError
from corpusforge.train.config import TrainConfig
from corpusforge.tokenize.pinned import open_delta_version
from corpusforge.train.data import IGNORE_INDEX, ReaderParams
from corpusforge.train.metrics import classification_metrics, language_model_metrics

SPLIT_VIEW_DIR = "split_view"


@dataclass(frozen=True, kw_only=True)
class TableInfo:
    """The pinned Delta version a run trains on, as found at start."""

    uri: str  # the table the reader opens (the split view when validation was carved)
    version: int
    source_uri: str  # the table named in the config
    source_version: int
    columns: tuple[str, ...]
    split_rows: dict[str, int]  # rows per split value ('' for null); {} when there is no split column
    labels: tuple[str, ...] = ()  # distinct labels, sorted (classification)
    carved: bool = False


def inspect_table(cfg: TrainConfig, version: int | None = None) -> TableInfo:
    """Open `cfg.data.table` at its pinned version and check the columns the task needs.

    `version` (e.g. from a checkpoint) wins over `cfg.data.version`; -1 means the latest.
    """
    wanted = version if version is not None else cfg.data.version
    table = open_delta_version(cfg.data.table, None if wanted < 0 else wanted)
    columns = tuple(pa.schema(table.schema().to_arrow()).names)
    where = f"Delta table {cfg.data.table!r} v{table.version()}"
    if cfg.data.token_column not in columns:
        raise InputError(f"{where} has no token column {cfg.data.token_column!r}; it has {list(columns)}")
    if cfg.task == "classification" and cfg.data.label_column not in columns:
        raise InputError(f"{where} has no label column {cfg.data.label_column!r}; it has {list(columns)}")
    read = [name for name in ("split", cfg.data.label_column if cfg.task == "classification" else None) if name in columns]
    scanned = delta_dataset(table).to_table(columns=read) if read else None
    split_rows: dict[str, int] = {}
    if scanned is not None and "split" in read:
        counts = pc.value_counts(scanned.column("split").combine_chunks()).to_pylist()
        split_rows = {(item["values"] or ""): int(item["counts"]) for item in counts}
    labels: tuple[str, ...] = ()
    if cfg.task == "classification":
        values = scanned.column(cfg.data.label_column).combine_chunks()
        if values.null_count:
            raise InputError(f"{where}: label column {cfg.data.label_column!r} has {values.null_count} null label(s)")
        labels = tuple(sorted({str(value) for value in pc.unique(values).to_pylist()}))
        if len(labels) < 2:
            raise InputError(f"{where}: label column {cfg.data.label_column!r} has {len(labels)} distinct label(s); need >= 2")
    if split_rows and cfg.data.train_split not in split_rows:
        raise InputError(f"{where} has no rows of split {cfg.data.train_split!r}; its splits are {sorted(split_rows)}")
    return TableInfo(uri=cfg.data.table, version=table.version(), source_uri=cfg.data.table,
                     source_version=table.version(), columns=columns, split_rows=split_rows, labels=labels)


def needs_carve(cfg: TrainConfig, info: TableInfo) -> bool:
    """Whether validation must be carved from train (no validation split, a fraction above 0)."""
    return cfg.data.validation_fraction > 0 and info.split_rows.get(cfg.data.validation_split, 0) == 0


def carve_fraction(key: str) -> float:
    """Where `key` falls in [0, 1): the carve puts it in validation when below the fraction.

    >>> 0 <= carve_fraction("doc-1") < 1, carve_fraction("doc-1") == carve_fraction("doc-1")
    (True, True)
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, person=b"cf-carve").digest()
    return int.from_bytes(digest, "little") / 2.0**64


def carve_validation(cfg: TrainConfig, info: TableInfo, out_dir: str | os.PathLike[str]) -> TableInfo:
    """Write (or reuse) the split view with validation carved from train; return its TableInfo.

    Rows of `train_split` whose `carve_key` hashes below `validation_fraction` become
    `validation_split`; every other row keeps its split. Reused when a view for the same
    source, version and carve already exists (a resumed run).
    """
    if cfg.data.carve_key not in info.columns:
        raise InputError(
            f"Delta table {info.source_uri!r} v{info.source_version} has no validation split and no carve key column "
            f"{cfg.data.carve_key!r} to carve one by; set data.carve_key or data.validation_fraction = 0"
        )
    view = Path(out_dir) / "data" / SPLIT_VIEW_DIR
    marker = view.with_suffix(".json")
    recipe = {"source": info.source_uri, "version": info.source_version, "fraction": cfg.data.validation_fraction,
              "carve_key": cfg.data.carve_key, "train_split": cfg.data.train_split,
              "validation_split": cfg.data.validation_split, "columns": _view_columns(cfg, info)}
    if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == recipe:
        return _view_info(info, view, recipe)
    source = open_delta_version(info.source_uri, info.source_version)
    table = delta_dataset(source).to_table(columns=[name for name in recipe["columns"] if name in info.columns])
    if "split" not in table.column_names:  # a table without splits is all train
        table = table.append_column("split", pa.array([cfg.data.train_split] * table.num_rows, pa.string()))
    keys = table.column(cfg.data.carve_key).cast(pa.string()).to_pylist()
    splits = table.column("split").to_pylist()
    carved = [
        cfg.data.validation_split if split == cfg.data.train_split and key is not None and carve_fraction(key) < cfg.data.validation_fraction
        else split
        for key, split in zip(keys, splits)
    ]
    table = table.set_column(table.schema.get_field_index("split"), "split", pa.array(carved, pa.string()))
    _write_view(view, table, cfg.data.carve_key)
    marker.write_text(json.dumps(recipe, sort_keys=True), encoding="utf-8")
    return _view_info(info, view, recipe)


def _write_view(view: Path, table: pa.Table, carve_key: str) -> None:
    # The reader seeds its row permutation with each data file's path, and write_deltalake
    # names files with random UUIDs: rows sorted by the carve key in one file of a fixed
    # name make the view, and so the training order, a function of the source version only.
    import deltalake
    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction, create_table_with_add_actions

    shutil.rmtree(view, ignore_errors=True)  # a derived copy: rebuilt whole when its recipe changes
    view.mkdir(parents=True)
    table = table.take(pc.sort_indices(table, sort_keys=[(carve_key, "ascending")]))
    name = "part-00000-carved.c000.snappy.parquet"
    pq.write_table(table, view / name, compression="snappy")
    add = AddAction(path=name, size=(view / name).stat().st_size, partition_values={}, modification_time=0,
                    data_change=True, stats=json.dumps({"numRecords": table.num_rows}))
    create_table_with_add_actions(str(view), deltalake.Schema.from_arrow(table.schema), [add], mode="error")


def _view_columns(cfg: TrainConfig, info: TableInfo) -> list[str]:
    names = [cfg.data.token_column, "split", cfg.data.carve_key]
    if cfg.task == "classification":
        names.append(cfg.data.label_column)
    return [name for name in dict.fromkeys(names) if name in info.columns or name == "split"]


def _view_info(info: TableInfo, view: Path, recipe: dict[str, Any]) -> TableInfo:
    table = open_delta_version(str(view), None)
    counts = pc.value_counts(delta_dataset(table).to_table(columns=["split"]).column("split").combine_chunks())
    split_rows = {(item["values"] or ""): int(item["counts"]) for item in counts.to_pylist()}
    return TableInfo(uri=str(view), version=table.version(), source_uri=info.source_uri,
                     source_version=info.source_version, columns=tuple(recipe["columns"]), split_rows=split_rows,
                     labels=info.labels, carved=True)


# -- models ------------------------------------------------------------------------------


def build_model(cfg: TrainConfig, auto_class: Any, **config_overrides: Any) -> torch.nn.Module:
    """A model from `cfg.model.path` (safetensors only, no remote code), or untrained from a config (init = "random").

    Raises InputError naming the directory when it is missing or holds no safetensors weights.
    """
    import transformers

    model_cfg = cfg.model
    if model_cfg.init == "pretrained":
        directory = Path(model_cfg.path)
        if not directory.is_dir():
            raise InputError(f"model directory {model_cfg.path!r} does not exist")
        if not (directory / "config.json").is_file():
            raise InputError(f"model directory {model_cfg.path!r} has no config.json")
        if not any(directory.glob("*.safetensors")):
            raise InputError(f"model directory {model_cfg.path!r} has no *.safetensors weights (only safetensors are loaded)")
        config = transformers.AutoConfig.from_pretrained(str(directory), trust_remote_code=False)
        _apply_config(config, {**model_cfg.config, **config_overrides}, model_cfg.dropout)
        return auto_class.from_pretrained(str(directory), config=config, use_safetensors=True, trust_remote_code=False)
    try:
        config = transformers.AutoConfig.for_model(model_cfg.model_type)
    except ValueError:
        raise ConfigError(f"config: 'model.model_type' {model_cfg.model_type!r} is not a transformers architecture") from None
    _apply_config(config, {**model_cfg.config, **config_overrides}, model_cfg.dropout)
    return auto_class.from_config(config)


def _apply_config(config: Any, values: dict[str, Any], dropout: float) -> None:
    for key, value in values.items():
        setattr(config, key, value)
    if dropout >= 0:
        for key in list(vars(config)):
            if key.endswith(("dropout", "dropout_prob", "pdrop")) and isinstance(getattr(config, key), float):
                setattr(config, key, dropout)


# -- tasks -------------------------------------------------------------------------------


class ClassificationTask:
    """Sequence classification: labels from the table's label column, mapped by sorted value."""

    name = "classification"

    def __init__(self, cfg: TrainConfig, info: TableInfo) -> None:
        self.cfg = cfg
        self.label_names = list(info.labels)
        self.label_map = {label: index for index, label in enumerate(self.label_names)}
        self.best_metric = cfg.run.best_metric or "accuracy"
        if self.best_metric not in ("accuracy", "macro_f1", "loss"):
            raise ConfigError(f"config: 'run.best_metric' for classification must be accuracy, macro_f1 or loss, got {self.best_metric!r}")
        self.higher_is_better = self.best_metric != "loss"

    def reader_params(self, split: str, *, shuffle: bool) -> ReaderParams:
        return ReaderParams(seq_length=self.cfg.data.seq_length, pad_id=self.cfg.data.pad_id, split=split,
                            token_column=self.cfg.data.token_column, label_column=self.cfg.data.label_column,
                            label_map=self.label_map, shuffle=shuffle, seed=self.cfg.run.seed)

    def build_model(self) -> torch.nn.Module:
        import transformers

        return build_model(self.cfg, transformers.AutoModelForSequenceClassification,
                           num_labels=len(self.label_names), problem_type="single_label_classification",
                           id2label=dict(enumerate(self.label_names)), label2id=dict(self.label_map))

    def new_eval_state(self, device: torch.device) -> torch.Tensor:
        # confusion matrix (n×n) then [loss sum, rows] in the last row, all float64 for one all-reduce
        n = len(self.label_names)
        return torch.zeros(n * n + 2, dtype=torch.float64, device=device)

    def update_eval(self, state: torch.Tensor, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> None:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        labels = batch["labels"]
        n = len(self.label_names)
        flat = labels * n + logits.argmax(dim=-1)
        state[: n * n] += torch.bincount(flat, minlength=n * n).to(state.dtype)
        state[n * n] += F.cross_entropy(logits, labels, reduction="sum").to(state.dtype)
        state[n * n + 1] += labels.numel()

    def finish_eval(self, state: torch.Tensor) -> dict[str, Any]:
        n = len(self.label_names)
        values = state.cpu().numpy()
        matrix = values[: n * n].round().astype(np.int64).reshape(n, n)
        metrics = classification_metrics(matrix, self.label_names)
        rows = values[n * n + 1]
        metrics["loss"] = float(values[n * n] / rows) if rows else float("nan")
        return metrics


class CausalLMTask:
    """Causal-LM continued pre-training on packed sequences: token loss and perplexity."""

    name = "causal_lm"

    def __init__(self, cfg: TrainConfig, info: TableInfo) -> None:
        self.cfg = cfg
        self.label_names: list[str] = []
        self.label_map: dict[str, int] = {}
        self.best_metric = cfg.run.best_metric or "loss"
        if self.best_metric not in ("loss", "perplexity"):
            raise ConfigError(f"config: 'run.best_metric' for causal_lm must be loss or perplexity, got {self.best_metric!r}")
        self.higher_is_better = False

    def reader_params(self, split: str, *, shuffle: bool) -> ReaderParams:
        return ReaderParams(seq_length=self.cfg.data.seq_length, pad_id=self.cfg.data.pad_id, split=split,
                            token_column=self.cfg.data.token_column, lm_labels=True, shuffle=shuffle,
                            seed=self.cfg.run.seed)

    def build_model(self) -> torch.nn.Module:
        import transformers

        return build_model(self.cfg, transformers.AutoModelForCausalLM)

    def new_eval_state(self, device: torch.device) -> torch.Tensor:
        return torch.zeros(2, dtype=torch.float64, device=device)  # [sum of token losses, predicted tokens]

    def update_eval(self, state: torch.Tensor, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> None:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        # position t predicts token t+1, as the model's own loss does
        targets = batch["labels"][:, 1:]
        state[0] += F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                    ignore_index=IGNORE_INDEX, reduction="sum").to(state.dtype)
        state[1] += (targets != IGNORE_INDEX).sum().to(state.dtype)

    def finish_eval(self, state: torch.Tensor) -> dict[str, Any]:
        loss_sum, tokens = state.cpu().tolist()
        return language_model_metrics(loss_sum, int(tokens))


def make_task(cfg: TrainConfig, info: TableInfo) -> ClassificationTask | CausalLMTask:
    """The task object for `cfg.task`."""
    return ClassificationTask(cfg, info) if cfg.task == "classification" else CausalLMTask(cfg, info)


def steps_per_epoch(rows: int, world_size: int, batch_size: int, grad_accum: int) -> int:
    """Optimizer steps in one epoch of `rows` rows (an estimate under DDP, where ranks get uneven shares).

    >>> steps_per_epoch(100, 1, 8, 2)
    7
    """
    per_rank = math.ceil(rows / world_size)
    return max(1, math.ceil(math.ceil(per_rank / batch_size) / grad_accum))
