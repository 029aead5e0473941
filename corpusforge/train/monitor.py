"""What a run logs as it trains: `metrics.jsonl` (one JSON line per step and per evaluation) and
TensorBoard event files under `<out_dir>/tensorboard` (`run.tensorboard = true`, the default).

Watch a run, or every trial of a sweep side by side::

    tensorboard --logdir out/finetune/tensorboard
    tensorboard --logdir out/sweep/trials          # one run per trial directory

Scalars: `train/loss`, `train/lr`, `train/grad_norm`, `train/tokens_per_s`, `train/samples_per_s`,
`train/data_wait_share` (share of the step spent waiting for the next batch), then
`validation/<metric>` at every evaluation and `final/<split>/<metric>` for the best model.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from corpusforge.errors import EnvironmentProblem
from corpusforge.train.metrics import MetricsLog

TENSORBOARD_DIR = "tensorboard"
_STEP_SCALARS = ("loss", "lr", "grad_norm", "tokens_per_s", "samples_per_s")
_EVAL_SCALARS = ("accuracy", "macro_f1", "loss", "perplexity")


class RunLog:
    """metrics.jsonl plus, when enabled, a TensorBoard writer; used by the master process only."""

    def __init__(self, out_dir: str | os.PathLike[str], *, tensorboard: bool, resume_step: int | None) -> None:
        self.jsonl = MetricsLog(Path(out_dir) / "metrics.jsonl")
        if resume_step is not None:
            self.jsonl.truncate_after(resume_step)  # lines a killed run wrote after its last checkpoint
        else:
            self.jsonl.path.unlink(missing_ok=True)
        self.writer = _summary_writer(Path(out_dir) / TENSORBOARD_DIR, resume_step) if tensorboard else None

    def step(self, step: int, epoch: int, record: Mapping[str, Any]) -> None:
        """One optimizer step's record (loss, lr, grad_norm, counts, times)."""
        self.jsonl.write({"step": step, "epoch": epoch, **record})
        if self.writer is None:
            return
        for name in _STEP_SCALARS:
            if record.get(name) is not None:
                self.writer.add_scalar(f"train/{name}", record[name], step)
        if record.get("step_s"):
            self.writer.add_scalar("train/data_wait_share", record["data_wait_s"] / record["step_s"], step)

    def evaluation(self, step: int, epoch: int, split: str, metrics: Mapping[str, Any]) -> None:
        """The metrics of one evaluation on `split` during training."""
        self.jsonl.write({"step": step, "epoch": epoch, "eval": split,
                          **{k: v for k, v in metrics.items() if k not in ("per_class", "labels")}})
        self._scalars(split, step, metrics)

    def final(self, step: int, metrics_by_split: Mapping[str, Mapping[str, Any]]) -> None:
        """The best model's metrics on every evaluation split, at the run's last step."""
        for split, metrics in metrics_by_split.items():
            self._scalars(f"final/{split}", step, metrics)

    def _scalars(self, prefix: str, step: int, metrics: Mapping[str, Any]) -> None:
        if self.writer is None:
            return
        for name in _EVAL_SCALARS:
            if isinstance(metrics.get(name), int | float):
                self.writer.add_scalar(f"{prefix}/{name}", metrics[name], step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _summary_writer(log_dir: Path, resume_step: int | None):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise EnvironmentProblem("run.tensorboard = true needs the tensorboard package (pip install 'corpusforge[train]'), "
                                 "or set run.tensorboard = false") from None
    # On resume, events a killed run wrote after its checkpoint's step are purged, as in metrics.jsonl.
    return SummaryWriter(log_dir=str(log_dir), purge_step=None if resume_step is None else resume_step + 1)


def read_scalars(log_dir: str | os.PathLike[str]) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files under `log_dir`: tag → [(step, value), ...] (needs tensorboard).

    >>> import tempfile
    >>> log = RunLog(tempfile.mkdtemp(), tensorboard=True, resume_step=None)
    >>> log.step(1, 0, {"loss": 0.5, "step_s": 2.0, "data_wait_s": 0.5}); log.close()
    >>> read_scalars(log.writer.log_dir)["train/data_wait_share"]
    [(1, 0.25)]
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})  # 0: keep every event
    accumulator.Reload()
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}
