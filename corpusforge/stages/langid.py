"""The `langid` stage: `lang` and `lang_score` on every live document, drops by LangIdParams.

It wraps `corpusforge.text.langid.detect_batch` over Arrow batches. Determinism across partitions
and executors comes from the pure side: the seeded langdetect factory is built inside each
Python worker on first use and every document gets a fresh detector, so the result of a page
never depends on which worker saw it or what that worker detected before.

Example::

    stage = LangIdStage(LangIdParams(keep=("en", "zh"), min_score=0.8))
    kept, dropped = stage.apply(df)   # dropped rows: langid.no_text / low_score / unwanted_language
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from corpusforge.text.langid import LangIdParams, detect_batch, langid_reason
from corpusforge.stages.base import BatchStage, set_column, with_drops


@dataclass(frozen=True)
class LangIdStage(BatchStage):
    """Identify the language of each live document and drop those LangIdParams reject."""

    params: LangIdParams = LangIdParams()
    name = "langid"
    requires = ("text",)
    provides = (("lang", "string"), ("lang_score", "double"))

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        detected = detect_batch(batch.column("text").to_pylist(), self.params)
        batch = set_column(batch, "lang", pa.array([lang for lang, _ in detected], pa.string()))
        batch = set_column(batch, "lang_score", pa.array([score for _, score in detected], pa.float64()))
        reasons = [langid_reason(lang, score, self.params) for lang, score in detected]
        # The detected language goes in `detail` of a dropped row: `dropped` has no lang_score,
        # and "unwanted_language" alone does not say which one it was.
        details = [f"{lang}:{score:.3f}" if reason else None
                   for reason, (lang, score) in zip(reasons, detected)]
        return with_drops(batch, reasons, details)


def langid_stage(ctx) -> LangIdStage:
    """The `langid` stage of a run, from the `[langid]` config section."""
    return LangIdStage(ctx.cfg.langid)
