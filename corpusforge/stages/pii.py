"""The `pii` stage: mask validated PII in live documents, counts per type kept in the data.

It wraps `corpusforge.text.pii.mask_pii` over Arrow batches. Each masked document carries its
counts in the `quality` map (`pii.email`, `pii.phone`, `pii.ip`, `pii.card`, `pii.cn_id`), so a
user can find or exclude documents that had PII, and the run's `stats` rows (`masked.<type>`)
are summed from the final frame the pipeline wrote (`stats_from`), not from accumulators,
which over-count when Spark retries a task.

Example::

    kept, dropped = PiiStage().apply(df)   # text "mail a@b.org" -> "mail <EMAIL>", quality pii.email=1
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from corpusforge.stages.base import BatchStage, merge_quality, set_column, sum_quality_signals
from corpusforge.text.pii import PLACEHOLDERS, mask_pii

PII_SIGNAL_PREFIX = "pii."  # quality-map keys of the per-document counts


@dataclass(frozen=True)
class PiiStage(BatchStage):
    """Replace e-mails, phones, public IPs, valid card and Chinese ID numbers with placeholders."""

    name = "pii"
    requires = ("text",)
    provides = (("quality", "map<string,double>"),)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        masked: list[str | None] = []
        signals: list[dict[str, float] | None] = []
        for text in batch.column("text").to_pylist():
            if text is None:
                masked.append(None)
                signals.append(None)
                continue
            result, counts = mask_pii(text)
            masked.append(result)
            signals.append({PII_SIGNAL_PREFIX + kind: float(n) for kind, n in counts.items()})
        batch = set_column(batch, "text", pa.array(masked, pa.string()))
        return merge_quality(batch, signals)  # PII never drops a document

    def stats_from(self, final) -> dict[str, float]:
        """Masks per type over every row this stage processed, from the run's final frame."""
        return sum_quality_signals(final, {f"masked.{kind}": PII_SIGNAL_PREFIX + kind for kind in PLACEHOLDERS})


def pii_stage(ctx) -> PiiStage:
    """The `pii` stage of a run (no parameters: only validated PII is masked)."""
    return PiiStage()
