"""Line-level exact dedup (cc_net-style), stage `dedup.lines`: drop lines repeated corpus-wide.

A line's identity is the hash of its dedup key (so case, punctuation and spacing do not make a
boilerplate line look new). Lines whose key occurs more than `max_occurrences` times among the
live documents of the run (navigation, cookie banners, footers) are removed from every
document; each document records what it lost in its `quality` map
(`dedup_lines.removed_lines`, `dedup_lines.removed_chars`), and the stage's `stats` rows sum them.
A document left without a line of text is dropped (`dedup.all_lines_repeated`).

It changes `text`, so it belongs before `exact_dedup` and `minhash_dedup` (which hash the text).

Config (`[dedup_lines]`)::

    [dedup_lines]
    max_occurrences = 10   # a line seen more often than this in the run is removed everywhere
    min_line_chars = 1     # shorter lines (in dedup-key characters) are never counted nor removed
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa

from corpusforge.errors import ConfigError
from corpusforge.stage import Stage
from corpusforge.text.dedup_key import dedup_key

ALL_LINES_REPEATED = "dedup.all_lines_repeated"
REMOVED_LINES = "dedup_lines.removed_lines"  # quality signals written per document
REMOVED_CHARS = "dedup_lines.removed_chars"


@dataclass(frozen=True, kw_only=True)
class LineDedupParams:
    """The `[dedup_lines]` config section.

    >>> LineDedupParams().max_occurrences
    10
    """

    enabled: bool = True  # the stage runs when listed in pipeline.stages and this is true
    max_occurrences: int = 10  # lines seen more often than this in the run are removed everywhere
    min_line_chars: int = 1  # lines with a shorter dedup key are ignored (never counted, never removed)

    def __post_init__(self) -> None:
        if self.max_occurrences < 1:
            raise ConfigError(f"dedup_lines.max_occurrences must be ≥ 1, got {self.max_occurrences!r}")
        if self.min_line_chars < 1:
            raise ConfigError(f"dedup_lines.min_line_chars must be ≥ 1, got {self.min_line_chars!r}")


def line_hashes(text: str, min_line_chars: int = 1) -> list[tuple[int, int]]:
    """(line number, signed 64-bit hash of the line's dedup key) of each countable line.

    >>> [n for n, _ in line_hashes("Home | About\\n\\nreal text\\nHOME about!")]
    [0, 2, 3]
    >>> line_hashes("Home | About")[0][1] == line_hashes("HOME about!")[0][1]
    True
    """
    out = []
    for number, line in enumerate(text.split("\n")):
        key = dedup_key(line)
        if len(key) >= min_line_chars:
            digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
            out.append((number, int.from_bytes(digest, "little", signed=True)))
    return out


def remove_lines(text: str, numbers: set[int]) -> tuple[str, int, int]:
    """`text` without the given line numbers; also (lines removed, characters removed).

    >>> remove_lines("a\\nnav\\nb", {1})
    ('a\\nb', 1, 3)
    """
    kept, removed_chars = [], 0
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if number in numbers:
            removed_chars += len(line)
        else:
            kept.append(line)
    return "\n".join(kept), len(lines) - len(kept), removed_chars


def _hash_batches(min_line_chars: int):
    def compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            ids, numbers, hashes = [], [], []
            for doc_id, text in zip(batch.column("doc_id").to_pylist(), batch.column("text").to_pylist()):
                for number, value in line_hashes(text or "", min_line_chars):
                    ids.append(doc_id)
                    numbers.append(number)
                    hashes.append(value)
            yield pa.RecordBatch.from_arrays(
                [pa.array(ids, pa.string()), pa.array(numbers, pa.int32()), pa.array(hashes, pa.int64())],
                names=["doc_id", "line", "line_hash"],
            )

    return compute


def _rewrite_batches(schema_names: list[str]):
    def compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            texts = batch.column("text").to_pylist()
            removals = batch.column("_remove").to_pylist()
            new_texts, lines_out, chars_out = [], [], []
            for text, remove in zip(texts, removals):
                if remove:
                    text, n_lines, n_chars = remove_lines(text, set(remove))
                else:
                    n_lines, n_chars = 0, 0
                new_texts.append(text)
                lines_out.append(float(n_lines))
                chars_out.append(float(n_chars))
            columns = {name: batch.column(name) for name in batch.schema.names}
            columns["text"] = pa.array(new_texts, pa.string())
            columns["_removed_lines"] = pa.array(lines_out, pa.float64())
            columns["_removed_chars"] = pa.array(chars_out, pa.float64())
            yield pa.RecordBatch.from_arrays([columns[name] for name in schema_names], names=schema_names)

    return compute


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
        from pyspark.sql import types as T

        self.check_schema(df)
        live = df.where("drop_reason IS NULL")
        dead = df.where("drop_reason IS NOT NULL")
        if "quality" not in df.columns:
            empty = F.lit(None).cast(T.MapType(T.StringType(), T.DoubleType()))
            live, dead = live.withColumn("quality", empty), dead.withColumn("quality", empty)
        columns = dead.columns
        lines = live.select("doc_id", "text").mapInArrow(
            _hash_batches(self.params.min_line_chars), "doc_id string, line int, line_hash bigint"
        )
        frequent = (
            lines.groupBy("line_hash").agg(F.count(F.lit(1)).alias("occurrences"))
            .where(F.col("occurrences") > self.params.max_occurrences).select("line_hash")
        )
        removals = lines.join(frequent, "line_hash").groupBy("doc_id").agg(
            F.collect_list("line").alias("_remove")
        )
        joined = live.join(removals, "doc_id", "left")
        out_names = [*joined.columns, "_removed_lines", "_removed_chars"]
        out_schema = T.StructType([*joined.schema.fields,
                                   T.StructField("_removed_lines", T.DoubleType()),
                                   T.StructField("_removed_chars", T.DoubleType())])
        rewritten = joined.mapInArrow(_rewrite_batches(out_names), out_schema)
        signals = F.create_map(F.lit(REMOVED_LINES), F.col("_removed_lines"),
                               F.lit(REMOVED_CHARS), F.col("_removed_chars"))
        quality = F.map_concat(
            F.coalesce(F.col("quality"), F.create_map().cast(T.MapType(T.StringType(), T.DoubleType()))),
            signals,
        )
        emptied = F.length(F.trim(F.col("text"))) == 0
        reason = F.when(emptied & (F.col("_removed_lines") > 0), F.lit(ALL_LINES_REPEATED))
        rewritten = (
            rewritten.withColumn("quality", quality)
            .withColumn("drop_reason", reason)
            .withColumn("detail", F.when(reason.isNotNull(), F.col("_removed_lines").cast("long").cast("string")))
            .withColumn("drop_stage", F.when(reason.isNotNull(), F.lit(self.name)))
        )
        return rewritten.select(columns).unionByName(dead.select(columns))

    def stats_from(self, final) -> dict[str, float]:
        """Lines and characters removed in the run, summed from the documents' quality maps."""
        from pyspark.sql import functions as F

        row = final.agg(
            F.sum(F.coalesce(F.col("quality")[REMOVED_LINES], F.lit(0.0))).alias("lines"),
            F.sum(F.coalesce(F.col("quality")[REMOVED_CHARS], F.lit(0.0))).alias("chars"),
            F.sum((F.coalesce(F.col("quality")[REMOVED_LINES], F.lit(0.0)) > 0).cast("long")).alias("docs"),
        ).first()
        return {"lines.removed": float(row["lines"] or 0), "chars.removed": float(row["chars"] or 0),
                "documents.with_removed_lines": float(row["docs"] or 0)}


def line_dedup_stage(ctx) -> LineDedupStage | None:
    """The `dedup_lines` stage of a run, from the `[dedup_lines]` config section."""
    params = ctx.cfg.dedup_lines
    return LineDedupStage(params) if params.enabled else None
