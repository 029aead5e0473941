"""The quality-filter stages: one stage per rule family, language-aware, signals kept.

The families and their config live in the pure `corpusforge.filters.families`. A stage reads
the `lang` column the langid stage wrote and applies that language's parameters; it merges every
signal its rules computed (`gopher.n_words`, `c4.n_sentences`, ...) into the `quality`
map<string,double> column, so a user can re-filter the documents table with other thresholds
without re-running the pipeline. C4 edits the text: its line cleaning is what a kept page
stores (a page C4 drops keeps its input text in `dropped`, which shows what was judged).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from corpusforge.filters.common import ByLanguage
from corpusforge.filters.families import FAMILIES, Family
from corpusforge.stages.base import BatchStage, merge_quality, set_column, with_drops

@dataclass(frozen=True)
class QualityFilterStage(BatchStage):
    """Run one rule family on live documents with the params of each document's language."""

    family: Family
    params: ByLanguage
    requires: ClassVar[tuple[str, ...]] = ("text", "lang")
    provides: ClassVar[tuple[tuple[str, str], ...]] = (("quality", "map<string,double>"),)

    @property
    def name(self) -> str:  # type: ignore[override]  # drop_stage: filters.<family>
        return self.family.stage_name

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = batch.column("text").to_pylist()
        langs = batch.column("lang").to_pylist()
        stored: list[str | None] = []
        reasons: list[str | None] = []
        signals: list[dict[str, float]] = []
        for text, lang in zip(texts, langs):
            cleaned, reason, row_signals = self.family.rule(text or "", self.params.for_lang(lang), lang)
            # A page this family drops keeps its input text: the dropped table shows what was judged.
            stored.append(text if (reason is not None or text is None) else cleaned)
            reasons.append(reason)
            signals.append(row_signals)
        batch = set_column(batch, "text", pa.array(stored, pa.string()))
        batch = merge_quality(batch, signals)
        return with_drops(batch, reasons)


def _family_stage(key: str) -> Callable[[Any], QualityFilterStage]:
    def factory(ctx) -> QualityFilterStage:
        return QualityFilterStage(FAMILIES[key], ctx.cfg.filters.params_for(key))

    factory.__name__ = f"{key}_stage"
    factory.__doc__ = f"The `filters.{key}` stage of a run, from the `[filters.{key}]` config section."
    return factory


gopher_quality_stage = _family_stage("gopher_quality")
gopher_repetition_stage = _family_stage("gopher_repetition")
cjk_stage = _family_stage("cjk")
c4_stage = _family_stage("c4")
fineweb_stage = _family_stage("fineweb")
