"""The `boilerplate` stage: remove lines that repeat across many documents of the same host.

Cookie banners, navigation bars and footers are the same line on most pages of a site, and no
single-document rule can tell them from prose. This stage counts, for each host (from `url`),
in how many of its documents each line appears — by line fingerprint
(`normalize.line_fingerprints`: distinct per document, NFKC + case-folded + whitespace-collapsed,
BLAKE2b-64) — and removes from every document of that host the lines whose document count
reaches the threshold (`normalize.remove_lines`). The counting is a Spark aggregation over the
whole run (it compares documents, hence `needs_materialized_input`); the removal is a
mapInArrow over the live rows, which gets each document's list of fingerprints to drop by a
join on `doc_id`.

It is off by default (not in the default `pipeline.stages`): it needs many pages per host to
be safe, which a crawl has and a sample of scattered pages does not.

Example::

    stage = BoilerplateStage(BoilerplateParams(min_host_docs=10, min_doc_frac=0.5))
    kept, dropped = stage.apply(df)   # lines on >= half the pages of a host with >= 10 pages removed
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlsplit

import pyarrow as pa

from corpusforge.filters.stage import merge_quality
from corpusforge.stage import BatchStage, Stage, set_column, with_drops
from corpusforge.text.normalize import line_fingerprints, remove_lines
from corpusforge.text.pii_stage import sum_quality_signals

_FPS_COLUMN = "_boilerplate_fingerprints"  # per-document fingerprints to remove, joined in
LINES_REMOVED_SIGNAL = "boilerplate.lines_removed"  # quality-map key: lines removed from the doc


@dataclass(frozen=True, kw_only=True)
class BoilerplateParams:
    """When a line counts as a host's boilerplate."""

    min_host_docs: int = 5  # hosts with fewer live documents are left alone: too little evidence
    min_doc_frac: float = 0.5  # a line in at least this fraction of the host's documents ...
    min_line_docs: int = 3  # ... and in at least this many of them is removed everywhere on the host


def url_host(url: str | None) -> str | None:
    """The lower-cased host of `url` (port and credentials dropped), or None when it has none.

    >>> url_host("https://User@News.Example.com:8080/a?b"), url_host("not a url"), url_host(None)
    ('news.example.com', None, None)
    """
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:  # e.g. an invalid IPv6 literal in the netloc
        return None
    return host or None


def _fingerprint_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        texts = batch.column("text").to_pylist()
        yield pa.record_batch({
            "doc_id": batch.column("doc_id"),
            "host": pa.array([url_host(u) for u in batch.column("url").to_pylist()], pa.string()),
            "fingerprints": pa.array([line_fingerprints(t) if t else [] for t in texts],
                                     pa.list_(pa.string())),
        })


@dataclass(frozen=True)
class _RemoveListedLines(BatchStage):
    """Remove the lines whose fingerprints the joined `_FPS_COLUMN` lists."""

    name = "boilerplate"
    requires = ("text", _FPS_COLUMN)
    provides = (("quality", "map<string,double>"),)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts: list[str | None] = []
        reasons: list[str | None] = []
        signals: list[dict[str, float]] = []
        for text, fingerprints in zip(batch.column("text").to_pylist(), batch.column(_FPS_COLUMN).to_pylist()):
            n_removed = 0
            if text is not None and fingerprints:
                text, n_removed = remove_lines(text, frozenset(fingerprints))
            texts.append(text)
            # A page that was nothing but the host's boilerplate has no content of its own.
            reasons.append("boilerplate.empty_text" if n_removed and not (text or "").strip() else None)
            signals.append({LINES_REMOVED_SIGNAL: float(n_removed)})
        batch = set_column(batch, "text", pa.array(texts, pa.string()))
        return with_drops(merge_quality(batch, signals), reasons)


@dataclass(frozen=True)
class BoilerplateStage(Stage):
    """Remove per-host boilerplate lines (BoilerplateParams); a page left empty is dropped."""

    params: BoilerplateParams = BoilerplateParams()
    name = "boilerplate"
    requires = ("doc_id", "url", "text")
    provides = (("quality", "map<string,double>"),)
    needs_materialized_input = True  # read twice: to count lines per host, then to edit them

    def flag(self, df):
        from pyspark.sql import functions as F

        self.check_schema(df)
        p = self.params
        docs = (df.where("drop_reason IS NULL").select("doc_id", "url", "text")
                .mapInArrow(_fingerprint_batches, "doc_id string, host string, fingerprints array<string>")
                .where("host IS NOT NULL"))
        # `docs` feeds three aggregations; fingerprinting is a hash per line, cheaper than
        # persisting it, so it is recomputed rather than cached.
        host_docs = (docs.groupBy("host").agg(F.count("*").alias("host_docs"))
                     .where(F.col("host_docs") >= p.min_host_docs))
        lines = docs.select("doc_id", "host", F.explode("fingerprints").alias("fingerprint"))
        line_docs = lines.groupBy("host", "fingerprint").agg(F.count("*").alias("line_docs"))
        boilerplate = (line_docs.join(host_docs, "host")
                       .where((F.col("line_docs") >= p.min_line_docs)
                              & (F.col("line_docs") >= F.col("host_docs") * F.lit(p.min_doc_frac)))
                       .select("host", "fingerprint"))
        to_remove = (lines.join(boilerplate, ["host", "fingerprint"])
                     .groupBy("doc_id").agg(F.sort_array(F.collect_set("fingerprint")).alias(_FPS_COLUMN)))
        joined = df.join(to_remove, "doc_id", "left")
        return _RemoveListedLines().flag(joined).drop(_FPS_COLUMN)

    def stats_from(self, final) -> dict[str, float]:
        """Lines removed over every document this stage edited, from the run's final frame."""
        from pyspark.sql import functions as F

        totals = sum_quality_signals(final, {"lines_removed": LINES_REMOVED_SIGNAL})
        if "quality" in final.columns:
            totals["documents_changed"] = float(
                final.where(F.try_element_at("quality", F.lit(LINES_REMOVED_SIGNAL)) > 0).count())
        return totals


def boilerplate_stage(ctx) -> BoilerplateStage:
    """The `boilerplate` stage of a run, from the `[boilerplate]` config section."""
    return BoilerplateStage(ctx.cfg.boilerplate)
