"""Typed fine-tuning configuration: built-in defaults < `--config train.toml` < `--set section.key=value`.

Every section is a frozen dataclass; an unknown section or key, or a value of the wrong type,
is a ConfigError naming the key, raised before a model is built. The resolved config is saved
into every checkpoint and into `results.json`.

Example ``train.toml``::

    task = "classification"
    [data]
    table = "out/tokens"
    version = 3
    [model]
    path = "models/minilm"   # or: init = "random" with model_type + config, an untrained model
    [optim]
    lr = 5e-5
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from corpusforge.typed_config import build_config, read_toml
from corpusforge.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    table: str = ""  # path or URI of the `tokens` (classification) or `packed` (causal LM) Delta table
    version: int = -1  # Delta version trained on; -1 = the latest at start (the resolved number is recorded)
    seq_length: int = 128  # samples are padded or truncated to this many ids
    pad_id: int = 0  # id of padding positions
    token_column: str = "input_ids"
    label_column: str = "label"  # class labels (classification only)
    train_split: str = "train"
    validation_split: str = "validation"  # read when the table has it; else carved from train_split
    test_split: str = "test"  # evaluated at the end with the best checkpoint; '' = none
    validation_fraction: float = 0.1  # share of train rows carved out (by hash of carve_key) when no validation split
    carve_key: str = "doc_id"  # column whose hash decides the carve (packed tables: "seq_id")
    num_workers: int = 0  # DataLoader workers per rank (the saved position needs the same count on resume)


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    init: Literal["pretrained", "random"] = "pretrained"  # "random": build model_type from `config`, untrained (tests, from scratch)
    path: str = ""  # local directory with config.json + model.safetensors (init = "pretrained")
    model_type: str = "bert"  # architecture when built from a config (tests, from-scratch runs)
    config: dict[str, int | float | bool | str] = field(default_factory=dict)  # e.g. {hidden_size = 32}
    dropout: float = -1.0  # override hidden/attention dropout; -1 keeps the model's own


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    epochs: int = 3
    max_steps: int = 0  # stop after this many optimizer steps; 0 = run all epochs
    batch_size: int = 32  # micro-batch per rank
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 5e-5  # peak learning rate
    min_lr_ratio: float = 0.0  # final lr as a share of the peak (cosine/linear)
    weight_decay: float = 0.01  # not applied to biases and LayerNorm weights
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    warmup_ratio: float = 0.1  # share of all steps spent warming up linearly (warmup_steps wins when > 0)
    warmup_steps: int = 0
    schedule: Literal["cosine", "linear", "constant"] = "linear"
    grad_clip: float = 1.0  # max global grad norm; 0 = no clipping


@dataclass(frozen=True, kw_only=True)
class TrainRunConfig:
    """The `[run]` section: where a training run writes and how it behaves (not the corpus run)."""

    out_dir: str = "out/finetune"  # metrics.jsonl, checkpoints/, best/, results.json
    seed: int = 1337  # seed of rank r is seed + r; the reader's shuffle uses seed for every rank
    device: Literal["auto", "cpu", "cuda", "xla"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA/XLA, fp32 on CPU
    eval_every: int = 0  # validate every N steps (and at each epoch end); 0 = epoch ends only
    checkpoint_every: int = 0  # checkpoint every N steps (and at the end); 0 = at epoch ends and the end
    keep_checkpoints: int = 2  # newest step checkpoints kept (best/ is kept separately)
    best_metric: str = ""  # validation metric choosing best/; '' = accuracy (classification) or loss (LM)
    eval_batch_size: int = 64
    progress: bool = True  # tqdm bar on the master process
    log_every: int = 1  # write every Nth step to metrics.jsonl (and TensorBoard)
    tensorboard: bool = True  # event files under <out_dir>/tensorboard (loss, lr, grad norm, tokens/s, data wait, eval)
    threads: int = 0  # torch CPU threads; 0 = torch's default


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    task: Literal["classification", "causal_lm"] = "classification"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: TrainRunConfig = field(default_factory=TrainRunConfig)


def load_train_config(path: str | Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """Resolve the training config from defaults, an optional TOML file and `--set` overrides.

    >>> cfg = load_train_config(overrides=["optim.lr=1e-4", "data.table=out/tokens", "model.path=models/minilm"])
    >>> cfg.optim.lr, cfg.data.table
    (0.0001, 'out/tokens')
    >>> load_train_config(overrides=["optim.learning_rate=1"])
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: config: unknown key 'optim.learning_rate'; expected one of ['batch_size', 'beta1', 'beta2', 'epochs', 'eps', 'grad_accum', 'grad_clip', 'lr', 'max_steps', 'min_lr_ratio', 'schedule', 'warmup_ratio', 'warmup_steps', 'weight_decay']
    """
    return check_train_config(build_config(TrainConfig, read_toml(path), overrides))


def train_config_from_dict(raw: dict[str, Any], overrides: list[str] = ()) -> TrainConfig:
    """A TrainConfig from plain data (e.g. the config saved in a checkpoint) and `--set` overrides.

    >>> train_config_from_dict({"data": {"table": "t"}, "model": {"init": "random"}}, ["optim.epochs=1"]).optim.epochs
    1
    >>> train_config_from_dict({"data": {"table": "t"}})
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: config: 'model.path' is empty; name a local model directory (config.json + *.safetensors), or ask for an untrained model with model.init = "random" (model_type + config)
    """
    return check_train_config(build_config(TrainConfig, raw, overrides))


def check_train_config(cfg: TrainConfig) -> TrainConfig:
    """Reject values no run could use, naming the key (ConfigError)."""
    positive = {
        "data.seq_length": cfg.data.seq_length, "optim.batch_size": cfg.optim.batch_size,
        "optim.grad_accum": cfg.optim.grad_accum, "run.eval_batch_size": cfg.run.eval_batch_size,
        "run.log_every": cfg.run.log_every,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"config: {key!r} must be >= 1, got {value}")
    non_negative = {
        "optim.epochs": cfg.optim.epochs, "optim.max_steps": cfg.optim.max_steps, "optim.lr": cfg.optim.lr,
        "optim.grad_clip": cfg.optim.grad_clip, "optim.warmup_steps": cfg.optim.warmup_steps,
        "run.eval_every": cfg.run.eval_every, "run.checkpoint_every": cfg.run.checkpoint_every,
        "data.num_workers": cfg.data.num_workers, "run.threads": cfg.run.threads,
    }
    for key, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"config: {key!r} must be >= 0, got {value}")
    if cfg.optim.epochs == 0 and cfg.optim.max_steps == 0:
        raise ConfigError("config: set optim.epochs or optim.max_steps above 0")
    if not 0.0 <= cfg.data.validation_fraction < 1.0:
        raise ConfigError(f"config: 'data.validation_fraction' must be in [0, 1), got {cfg.data.validation_fraction}")
    if not 0.0 <= cfg.optim.warmup_ratio < 1.0:
        raise ConfigError(f"config: 'optim.warmup_ratio' must be in [0, 1), got {cfg.optim.warmup_ratio}")
    if not 0.0 <= cfg.optim.min_lr_ratio <= 1.0:
        raise ConfigError(f"config: 'optim.min_lr_ratio' must be in [0, 1], got {cfg.optim.min_lr_ratio}")
    if cfg.run.keep_checkpoints < 1:
        raise ConfigError(f"config: 'run.keep_checkpoints' must be >= 1, got {cfg.run.keep_checkpoints}")
    if cfg.model.init == "pretrained" and not cfg.model.path:
        raise ConfigError("config: 'model.path' is empty; name a local model directory (config.json + *.safetensors), "
                          "or ask for an untrained model with model.init = \"random\" (model_type + config)")
    if cfg.model.init == "random" and cfg.model.path:
        raise ConfigError(f"config: 'model.path' = {cfg.model.path!r} with model.init = \"random\"; "
                          "a random model is built from model_type + config, not loaded: drop one of them")
    if not cfg.data.table:
        raise ConfigError("config: 'data.table' is empty; name the tokens/packed Delta table to train on")
    return cfg


def train_config_dict(cfg: TrainConfig) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (saved in checkpoints and results.json)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))
