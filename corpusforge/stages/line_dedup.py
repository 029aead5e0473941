"""The `dedup_lines` stage (`dedup.lines`), and the one repeated-line removal both line stages use.

Line-level exact dedup, cc_net-style: lines whose dedup key occurs more than `max_occurrences`
times among the live documents of the run (navigation, cookie banners, footers) are removed from
every document; each document records what it lost in its `quality` map
(`dedup_lines.removed_lines`, `dedup_lines.removed_chars`), and the stage's `stats` rows sum
them. A document left without a line of text is dropped (`dedup.all_lines_repeated`).

The mechanism is shared with the `boilerplate` stage (stages/boilerplate.py), which only counts
differently: `line_rows` hashes every countable line of the live documents
(`dedup.lines.line_hashes`), the stage aggregates them into the lines to remove per document,
and `remove_listed_lines` rewrites the documents in one Arrow pass (`dedup.lines.remove_lines`).

It changes `text`, so it belongs before `exact_dedup` and `minhash_dedup` (which hash the text).
Config (`[dedup_lines]`; the stage runs when `pipeline.stages` lists it): see dedup/lines.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterator

import pyarrow as pa

from corpusforge.dedup.lines import (
    ALL_LINES_REPEATED,
    REMOVED_CHARS,
    REMOVED_LINES,
    LineDedupParams,
    line_hashes,
    remove_lines,
)
from corpusforge.stages.base import BatchStage, Stage, merge_quality, set_column, with_drops
from corpusforge.text.boilerplate import url_host

REMOVE_COLUMN = "_remove_lines"  # per-document line numbers to remove, joined in before the rewrite
LINE_ROWS_DDL = "doc_id string, host string, line int, line_hash bigint"


def line_rows(live, min_line_chars: int = 1):
    """(doc_id, host, line, line_hash) of every countable line of the documents in `live`
    (which has doc_id, text and, when present, url), hashed over Arrow batches."""
    has_url = "url" in live.columns

    def compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            ids, hosts, numbers, hashes = [], [], [], []
            urls = batch.column("url").to_pylist() if has_url else [None] * batch.num_rows
            for doc_id, text, url in zip(batch.column("doc_id").to_pylist(), batch.column("text").to_pylist(), urls):
                host = url_host(url)
                for number, value in line_hashes(text or "", min_line_chars):
                    ids.append(doc_id)
                    hosts.append(host)
                    numbers.append(number)
                    hashes.append(value)
            yield pa.RecordBatch.from_arrays(
                [pa.array(ids, pa.string()), pa.array(hosts, pa.string()), pa.array(numbers, pa.int32()),
                 pa.array(hashes, pa.int64())],
                names=["doc_id", "host", "line", "line_hash"],
            )

    return live.select("doc_id", "text", *(["url"] if has_url else [])).mapInArrow(compute, LINE_ROWS_DDL)


@dataclass(frozen=True)
class RemoveLines(BatchStage):
    """Remove the lines `REMOVE_COLUMN` lists from each live document; record the counts in
    `quality`, and drop a document left with no text (`reason`, detail = lines removed)."""

    name: str  # type: ignore[misc]  # the drop_stage of the stage this pass belongs to
    reason: str  # drop reason of a document left empty
    lines_signal: str  # quality key: lines removed
    chars_signal: str | None = None  # quality key: characters removed (None: not recorded)
    requires: ClassVar[tuple[str, ...]] = ("text", REMOVE_COLUMN)
    provides: ClassVar[tuple[tuple[str, str], ...]] = (("quality", "map<string,double>"),)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts: list[str | None] = []
        reasons: list[str | None] = []
        details: list[str | None] = []
        signals: list[dict[str, float]] = []
        for text, numbers in zip(batch.column("text").to_pylist(), batch.column(REMOVE_COLUMN).to_pylist()):
            n_lines = n_chars = 0
            if text is not None and numbers:
                text, n_lines, n_chars = remove_lines(text, frozenset(numbers))
            texts.append(text)
            emptied = bool(n_lines) and not (text or "").strip()
            reasons.append(self.reason if emptied else None)
            details.append(str(n_lines) if emptied else None)
            row = {self.lines_signal: float(n_lines)}
            if self.chars_signal is not None:
                row[self.chars_signal] = float(n_chars)
            signals.append(row)
        batch = set_column(batch, "text", pa.array(texts, pa.string()))
        return with_drops(merge_quality(batch, signals), reasons, details)


def remove_listed_lines(df, removals, remover: RemoveLines):
    """`df` with the lines of `removals` (doc_id, line) removed by `remover`; dropped rows pass
    through untouched."""
    from pyspark.sql import functions as F

    per_document = removals.groupBy("doc_id").agg(F.sort_array(F.collect_set("line")).alias(REMOVE_COLUMN))
    return remover.flag(df.join(per_document, "doc_id", "left")).drop(REMOVE_COLUMN)


@dataclass(frozen=True)
class LineDedupStage(Stage):
    """Remove lines repeated more than `max_occurrences` times in the run (see module doc)."""

    params: LineDedupParams = LineDedupParams()
    name = "dedup.lines"
    requires = ("doc_id", "text")
    provides = (("quality", "map<string,double>"),)
    needs_materialized_input = True  # the live rows are read to count lines and again to rewrite

    def flag(self, df):
        from pyspark.sql import functions as F

        self.check_schema(df)
        lines = line_rows(df.where("drop_reason IS NULL"), self.params.min_line_chars)
        frequent = (
            lines.groupBy("line_hash").agg(F.count(F.lit(1)).alias("occurrences"))
            .where(F.col("occurrences") > self.params.max_occurrences).select("line_hash")
        )
        remover = RemoveLines(self.name, ALL_LINES_REPEATED, REMOVED_LINES, REMOVED_CHARS)
        return remove_listed_lines(df, lines.join(frequent, "line_hash").select("doc_id", "line"), remover)

    def stats_from(self, final) -> dict[str, float]:
        """Lines and characters removed in the run, summed from the documents' quality maps."""
        from pyspark.sql import functions as F

        if "quality" not in final.columns:
            return {"lines.removed": 0.0, "chars.removed": 0.0, "documents.with_removed_lines": 0.0}
        row = final.agg(
            F.sum(F.coalesce(F.col("quality")[REMOVED_LINES], F.lit(0.0))).alias("lines"),
            F.sum(F.coalesce(F.col("quality")[REMOVED_CHARS], F.lit(0.0))).alias("chars"),
            F.sum((F.coalesce(F.col("quality")[REMOVED_LINES], F.lit(0.0)) > 0).cast("long")).alias("docs"),
        ).first()
        return {"lines.removed": float(row["lines"] or 0), "chars.removed": float(row["chars"] or 0),
                "documents.with_removed_lines": float(row["docs"] or 0)}


def line_dedup_stage(ctx) -> LineDedupStage:
    """The `dedup_lines` stage of a run, from the `[dedup_lines]` config section."""
    return LineDedupStage(ctx.cfg.dedup_lines)
