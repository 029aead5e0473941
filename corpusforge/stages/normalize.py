"""The `normalize` stage: `corpusforge.text.normalize` over Arrow batches of live rows."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from corpusforge.stages.base import BatchStage, set_column, with_drops
from corpusforge.text.normalize import NormalizeParams, normalize_batch


@dataclass(frozen=True)
class NormalizeStage(BatchStage):
    """Normalize the stored text (normalize.py); a text left empty is dropped."""

    params: NormalizeParams = NormalizeParams()
    name = "normalize"
    requires = ("text",)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = normalize_batch(batch.column("text").to_pylist(), self.params)
        batch = set_column(batch, "text", pa.array(texts, pa.string()))
        return with_drops(batch, ["normalize.empty_text" if not t else None for t in texts])


def normalize_stage(ctx) -> NormalizeStage:
    """The `normalize` stage of a run, from the `[normalize]` config section."""
    return NormalizeStage(ctx.cfg.normalize)
