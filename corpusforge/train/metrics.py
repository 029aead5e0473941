"""Evaluation metrics and the per-step metrics log.

Evaluation state is kept in additive form (a confusion matrix; a sum of token losses and a
token count) so that ranks can all-reduce it with one SUM and every metric is then computed
from the total: the result does not depend on how rows were split across ranks.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def confusion_matrix(labels: Sequence[int] | np.ndarray, predictions: Sequence[int] | np.ndarray, num_classes: int) -> np.ndarray:
    """`num_classes × num_classes` counts: row = true label, column = predicted label.

    >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], 3).tolist()
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    predictions = np.asarray(predictions, dtype=np.int64).reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.size} labels but {predictions.size} predictions")
    out_of_range = (labels < 0) | (labels >= num_classes) | (predictions < 0) | (predictions >= num_classes)
    if out_of_range.any():
        raise ValueError(f"class ids must be in [0, {num_classes}); got {sorted(set(labels[out_of_range]) | set(predictions[out_of_range]))[:5]}")
    return np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def classification_metrics(matrix: np.ndarray, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision/recall/F1 from a confusion matrix.

    A class with no true and no predicted rows has F1 0 and still counts in the macro mean
    (it is a class of the label map); precision or recall with a zero denominator is 0.

    >>> m = classification_metrics(np.array([[2, 0], [1, 1]]), ["neg", "pos"])
    >>> m["accuracy"], round(m["macro_f1"], 4), m["per_class"]["pos"]["recall"]
    (0.75, 0.7333, 0.5)
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    total = int(matrix.sum())
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(matrix))]
    return {
        "n": total,
        "accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_f1": float(f1.mean()) if len(f1) else 0.0,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(actual[i])}
            for i, name in enumerate(names)
        },
        "confusion_matrix": matrix.tolist(),
        "labels": names,
    }


def language_model_metrics(loss_sum: float, token_count: int) -> dict[str, float]:
    """Mean token loss and perplexity = exp(mean loss) from their sums.

    >>> language_model_metrics(2 * math.log(4.0), 2)
    {'loss': 1.3862943611198906, 'perplexity': 4.0, 'tokens': 2}
    """
    if token_count <= 0:
        return {"loss": float("nan"), "perplexity": float("nan"), "tokens": 0}
    mean = loss_sum / token_count
    return {"loss": mean, "perplexity": math.exp(min(mean, 700.0)), "tokens": int(token_count)}


def is_better(value: float, best: float | None, higher_is_better: bool) -> bool:
    """Whether `value` improves on `best` (None: nothing yet; NaN never improves).

    >>> is_better(0.8, 0.7, True), is_better(2.0, 1.5, False), is_better(0.1, None, True)
    (True, False, True)
    """
    if value != value:  # NaN
        return False
    if best is None:
        return True
    return value > best if higher_is_better else value < best


class MetricsLog:
    """Append-only JSONL of per-step and per-evaluation records (one JSON object a line).

    On resume, `truncate_after(step)` drops lines a killed run wrote after its last
    checkpoint, so the file reads as one uninterrupted run.

    >>> import tempfile
    >>> log = MetricsLog(Path(tempfile.mkdtemp()) / "metrics.jsonl")
    >>> log.write({"step": 1, "loss": 0.5}); log.write({"step": 2, "loss": 0.4}); log.truncate_after(1)
    >>> [record["step"] for record in read_jsonl(log.path)]
    [1]
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: Mapping[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        kept = [record for record in read_jsonl(self.path) if record.get("step", 0) <= step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(record, sort_keys=True) + "\n" for record in kept), encoding="utf-8")
        os.replace(tmp, self.path)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete JSON line of `path` (a half-written last line, left by a kill, is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
