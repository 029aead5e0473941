"""The `boilerplate` stage: remove lines that repeat across many documents of the same host.

Cookie banners, navigation bars and footers are the same line on most pages of a site, and no
single-document rule can tell them from prose. This stage counts, for each host (from `url`,
`text.boilerplate.url_host`), in how many of its documents each line appears — a line is the
hash of its dedup key (`dedup.lines.line_hashes`) — and removes from every document of that host
the lines whose document count reaches the threshold (`BoilerplateParams`). Counting is a
Spark aggregation over the whole run (it compares documents, hence `needs_materialized_input`);
the removal is the pass `dedup_lines` uses too (`stages.line_dedup.remove_listed_lines`).

It is off by default (not in the default `pipeline.stages`): it needs many pages per host to
be safe, which a crawl has and a sample of scattered pages does not.

Example::

    stage = BoilerplateStage(BoilerplateParams(min_host_docs=10, min_doc_frac=0.5))
    kept, dropped = stage.apply(df)   # lines on >= half the pages of a host with >= 10 pages removed
"""
from __future__ import annotations

from dataclasses import dataclass

from corpusforge.stages.base import Stage, sum_quality_signals
from corpusforge.stages.line_dedup import RemoveLines, line_rows, remove_listed_lines
from corpusforge.text.boilerplate import BoilerplateParams

LINES_REMOVED_SIGNAL = "boilerplate.lines_removed"  # quality-map key: lines removed from the doc
EMPTY_TEXT = "boilerplate.empty_text"


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
        # `lines` feeds three aggregations; hashing a line is cheaper than persisting it, so it
        # is recomputed rather than cached. A line counts once per document.
        lines = line_rows(df.where("drop_reason IS NULL")).where("host IS NOT NULL")
        doc_lines = lines.select("doc_id", "host", "line_hash").distinct()
        host_docs = (lines.select("doc_id", "host").distinct().groupBy("host").agg(F.count("*").alias("host_docs"))
                     .where(F.col("host_docs") >= p.min_host_docs))
        line_docs = doc_lines.groupBy("host", "line_hash").agg(F.count("*").alias("line_docs"))
        boilerplate = (line_docs.join(host_docs, "host")
                       .where((F.col("line_docs") >= p.min_line_docs)
                              & (F.col("line_docs") >= F.col("host_docs") * F.lit(p.min_doc_frac)))
                       .select("host", "line_hash"))
        removals = lines.join(boilerplate, ["host", "line_hash"]).select("doc_id", "line")
        return remove_listed_lines(df, removals, RemoveLines(self.name, EMPTY_TEXT, LINES_REMOVED_SIGNAL))

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
