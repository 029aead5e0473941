"""Evaluation metrics of the fine-tuning driver, against hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from corpusforge.train.metrics import (MetricsLog, classification_metrics, confusion_matrix, is_better,
                                       language_model_metrics, read_jsonl)


def test_confusion_matrix_rows_are_true_labels_columns_predictions():
    matrix = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    with pytest.raises(ValueError, match="class ids must be in"):
        confusion_matrix([0, 3], [0, 0], 3)


def test_accuracy_and_macro_f1_match_hand_computation():
    # class 0: tp=1 fp=1 fn=1 -> p=r=f1=0.5; class 1: tp=1 fp=1 fn=0 -> p=0.5 r=1 f1=2/3;
    # class 2: tp=2 fp=0 fn=1 -> p=1 r=2/3 f1=0.8
    metrics = classification_metrics(np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]]), ["neg", "neu", "pos"])
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert metrics["per_class"]["neu"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert metrics["per_class"]["pos"]["recall"] == pytest.approx(2 / 3)
    assert metrics["labels"] == ["neg", "neu", "pos"] and metrics["n"] == 6


def test_a_class_never_seen_nor_predicted_counts_zero_in_the_macro_mean():
    metrics = classification_metrics(np.array([[3, 0], [0, 0]]))
    assert metrics["accuracy"] == 1.0
    assert metrics["macro_f1"] == pytest.approx(0.5)  # class 1 has F1 0, not NaN
    assert classification_metrics(np.zeros((2, 2), dtype=int))["accuracy"] == 0.0


def test_perplexity_is_exp_of_the_token_mean_loss():
    metrics = language_model_metrics(loss_sum=30.0, token_count=10)
    assert metrics["loss"] == 3.0 and metrics["perplexity"] == pytest.approx(math.exp(3.0))
    assert math.isnan(language_model_metrics(0.0, 0)["perplexity"])


def test_is_better_respects_direction_and_ignores_nan():
    assert is_better(0.9, 0.8, higher_is_better=True) and not is_better(0.8, 0.8, higher_is_better=True)
    assert is_better(1.0, 2.0, higher_is_better=False) and not is_better(float("nan"), None, True)


def test_metrics_log_truncation_and_a_half_written_last_line(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    for step in range(1, 6):
        log.write({"step": step, "loss": 1.0 / step})
    with log.path.open("a") as handle:
        handle.write('{"step": 6, "lo')  # a kill mid-write
    assert [r["step"] for r in read_jsonl(log.path)] == [1, 2, 3, 4, 5]
    log.truncate_after(3)
    assert [r["step"] for r in read_jsonl(log.path)] == [1, 2, 3]
