"""The stage contract: a stage reads declared columns and marks the rows it drops.

The pipeline carries one DataFrame through every stage. Each row is either live or dropped:
dropped rows have `drop_stage`, `drop_reason` (`<family>.<rule>`) and `detail` set, and every
later stage passes them through untouched. So one frame holds kept and dropped rows together,
and each expensive step (HTML extraction, language ID) runs once for both table writes.

- `Stage.flag(df)` returns `df` with the stage's output columns added and its drops marked.
- `Stage.apply(df)` returns `(kept, dropped)`, for callers who want the two apart.
- `BatchStage` is for row-local rules: its subclass writes `transform(batch)` over one Arrow
  batch of live rows, and the base runs it with `mapInArrow` (no row-at-a-time UDF).
- A stage that compares rows (dedup) sets `needs_materialized_input`; the pipeline then writes
  the frame to staging before it, so the stage may read its input twice without recomputing it.
  Its row-local part (`prelude`, e.g. the text hash of exact dedup) runs in the pass before it.
- A stage whose `marks_by_join` is true finds its drops eagerly, stages them (a narrow frame of
  the rows it drops) and returns its input joined with them (`join_drops`). Reading its output
  again costs a scan of the input and a join with a small frame, so the pipeline stages neither
  the frame after it nor, when it comes last, the final frame: the text is not rewritten.
- `requires` and `provides` are checked in `--dry-run`, before any ingest
  (`pipeline.run.check_stage_columns`): a stage whose input column no earlier stage provides
  stops the run with a message naming the column and the stage.
- Signals a stage computes go into the `quality` map<string,double> (`merge_quality`), and its
  `stats` rows are summed from the final frame (`sum_quality_signals`).

Example::

    class DropEmpty(BatchStage):
        name = "filters.empty"
        requires = ("text",)
        def transform(self, batch):
            empty = pc.equal(pc.utf8_length(batch.column("text")), 0)
            return with_drops(batch, pc.if_else(empty, "filters.empty_text", None))
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.errors import AccountingError, SchemaError

DROP_COLUMNS = ("drop_stage", "drop_reason", "detail")
QUALITY_TYPE = pa.map_(pa.string(), pa.float64())  # Arrow type of the `quality` column


class Stage(ABC):
    """A pipeline step. Subclasses set `name` (the stable drop_stage) and `requires`."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()  # input columns the stage reads
    provides: ClassVar[tuple[tuple[str, str], ...]] = ()  # (column, Spark DDL type) it adds
    needs_materialized_input: ClassVar[bool] = False  # reads its input more than once
    marks_by_join: ClassVar[bool] = False  # flag() = its input joined with its staged drops

    def prelude(self) -> BatchStage | None:
        """A row-local step whose columns this stage reads, or None. The pipeline fuses it into
        the pass before the stage, so work that needs the text in Python (a hash of it) rides
        along with the stages that already have it there; `flag` still runs it when called alone."""
        return None

    def check_schema(self, df) -> None:
        """Raise SchemaError naming the first required column `df` lacks."""
        self.check_columns(df.columns)

    def check_columns(self, columns: list[str]) -> None:
        """Raise SchemaError naming the first required column missing from `columns`."""
        missing = [c for c in (*self.requires, *DROP_COLUMNS) if c not in columns]
        if missing:
            raise SchemaError(
                f"stage {self.name!r}: input column {missing[0]!r} missing; "
                f"it needs {list(self.requires)}, got {list(columns)}"
            )

    @abstractmethod
    def flag(self, df):
        """Return `df` plus the stage's columns, with the rows it drops marked."""

    def apply(self, df):
        """Run the stage and return (kept, dropped) DataFrames."""
        self.check_schema(df)
        flagged = self.flag(df)
        return flagged.where("drop_reason IS NULL"), flagged.where("drop_reason IS NOT NULL")

    def stats_from(self, final) -> dict[str, float]:
        """Counts computed from the run's final (materialized) frame, e.g. sums of `quality`
        entries the stage wrote: exact under task retries, unlike accumulators."""
        return {}


class BatchStage(Stage):
    """A row-local stage applied to Arrow batches of live rows."""

    @abstractmethod
    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Return `batch` (live rows only) with `provides` columns and drops marked.

        The returned batch has the input's columns (values may change, e.g. `text`), the
        `provides` columns, and `drop_reason`/`detail` set where the row is dropped. The base
        fills `drop_stage`.
        """

    def flag(self, df):
        return run_batch_stages(df, [self])

    def output_schema(self, schema):
        """The Spark schema after this stage: the input's plus the `provides` columns."""
        from pyspark.sql.types import StructField, StructType, _parse_datatype_string

        fields = list(schema.fields)
        for column, ddl in self.provides:
            if column not in schema.names:
                fields.append(StructField(column, _parse_datatype_string(ddl), True))
        return StructType(fields)

    def apply_batch(self, batch: pa.RecordBatch, out_schema: pa.Schema) -> pa.RecordBatch:
        """Run `transform` on the live rows of `batch`; dropped rows, and records that are not
        documents (`candidate` false: a WARC request, in the ingest pass), pass through untouched.

        A stage keeps every row: a transform that returns another number of rows is an error,
        so the readers' counts, taken after the ingest pass, are still the readers'.
        """
        live = pc.is_null(batch.column("drop_reason"))
        if "candidate" in batch.schema.names:
            live = pc.and_(live, pc.fill_null(batch.column("candidate"), False))
        parts = []
        live_rows = batch.filter(live)
        if live_rows.num_rows:
            transformed = self.transform(live_rows)
            if transformed.num_rows != live_rows.num_rows:
                raise AccountingError(f"stage {self.name!r} returned {transformed.num_rows} rows for "
                                 f"{live_rows.num_rows}: a row-local stage marks drops, it never removes rows")
            parts.append(_align(_mark_stage(transformed, self.name), out_schema))
        dead_rows = batch.filter(pc.invert(live))
        if dead_rows.num_rows or not parts:
            parts.append(_align(dead_rows, out_schema))
        return parts[0] if len(parts) == 1 else pa.concat_batches(parts)


def run_batch_stages(df, stages: list[BatchStage]):
    """Apply consecutive row-local stages in ONE mapInArrow: each batch goes through every
    stage in turn in the same Python worker, so the text crosses the JVM/Arrow boundary once,
    not once per stage. Each stage still marks its own drops (`drop_stage`)."""
    schema, run_one = batch_pipeline(df.schema, stages)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield run_one(batch)

    return df.mapInArrow(run, schema)


def batch_pipeline(schema, stages: list[BatchStage]):
    """(the Spark schema after `stages`, a function that runs them on one Arrow batch), for a
    Python function that already holds the batches (`run_batch_stages`, the ingest readers)."""
    arrow_schemas = []
    for stage in stages:
        stage.check_columns(schema.names)
        schema = stage.output_schema(schema)
        arrow_schemas.append(arrow_schema(schema))

    def run_one(batch: pa.RecordBatch) -> pa.RecordBatch:
        for stage, out_schema in zip(stages, arrow_schemas):
            batch = stage.apply_batch(batch, out_schema)
        return batch

    return schema, run_one


def with_drops(batch: pa.RecordBatch, reasons: pa.Array | list, details=None) -> pa.RecordBatch:
    """Set `drop_reason` (and `detail`) on `batch` where `reasons` is not null.

    >>> b = pa.record_batch({"text": ["a", ""], "drop_reason": pa.nulls(2, pa.string()),
    ...                      "detail": pa.nulls(2, pa.string())})
    >>> with_drops(b, ["x.empty" if not t else None for t in ["a", ""]]).column("drop_reason")
    ... # doctest: +ELLIPSIS
    <pyarrow.lib.StringArray ...>
    [
      null,
      "x.empty"
    ]
    """
    reasons = pa.array(reasons, pa.string()) if not isinstance(reasons, pa.Array) else reasons
    details = pa.nulls(batch.num_rows, pa.string()) if details is None else pa.array(details, pa.string())
    batch = set_column(batch, "drop_reason", pc.coalesce(batch.column("drop_reason"), reasons))
    return set_column(batch, "detail", pc.coalesce(batch.column("detail"), details))


def set_column(batch: pa.RecordBatch, name: str, values) -> pa.RecordBatch:
    """Replace or append column `name` of `batch`."""
    values = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    index = batch.schema.get_field_index(name)
    if index >= 0:
        return batch.set_column(index, name, values)
    return batch.append_column(name, values)


def merge_quality(batch: pa.RecordBatch, signals: list[Mapping[str, float] | None]) -> pa.RecordBatch:
    """Merge per-row `signals` into the batch's `quality` map column (added when missing).

    A signal a later stage computes again replaces the earlier value; rows with None add nothing.

    >>> b = pa.record_batch({"quality": pa.array([[("a", 1.0)], None], QUALITY_TYPE)})
    >>> merge_quality(b, [{"b": 2.0}, None]).column("quality").to_pylist()
    [[('a', 1.0), ('b', 2.0)], None]
    """
    index = batch.schema.get_field_index("quality")
    existing = batch.column(index).to_pylist() if index >= 0 else [None] * batch.num_rows
    merged: list[list[tuple[str, float]] | None] = []
    for before, new in zip(existing, signals):
        if not new:
            merged.append(before)
            continue
        values = dict(before or ())
        values.update((key, float(value)) for key, value in new.items())
        merged.append(list(values.items()))
    return set_column(batch, "quality", pa.array(merged, QUALITY_TYPE))


def sum_quality_signals(final, metrics: dict[str, str]) -> dict[str, float]:
    """Sum quality-map entries over `final`: metric name → quality key (absent keys count 0)."""
    from pyspark.sql import functions as F

    if "quality" not in final.columns:
        return dict.fromkeys(metrics, 0.0)
    sums = [F.coalesce(F.sum(F.try_element_at("quality", F.lit(key))), F.lit(0.0)).alias(metric)
            for metric, key in metrics.items()]
    row = final.agg(*sums).collect()[0]
    return {metric: float(row[metric]) for metric in metrics}


# Drops joined back by broadcast up to this many rows (≈ 100 bytes each in the hash table);
# beyond it the planner picks the join (a run that drops most of a large input).
BROADCAST_DROPS_MAX = 500_000


def join_drops(df, drops, stage_name: str, keys: tuple[str, ...] = ("doc_id",)):
    """`df` with the drops of stage `stage_name` marked: `drops` (staged, one row per key) has
    the `keys` columns and `_reason`, `_detail` for each row the stage drops. Rows dropped by an
    earlier stage keep their marks. The keys match null-safely.

    The join broadcasts `drops` when it is small (the usual case: a few percent of the rows),
    so the frame's text is never shuffled."""
    from pyspark.sql import functions as F

    renamed = broadcast_if_small(drops, BROADCAST_DROPS_MAX).select(
        *[F.col(k).alias(f"_key_{k}") for k in keys], "_reason", "_detail")
    on = [F.col(k).eqNullSafe(F.col(f"_key_{k}")) for k in keys]
    joined = df.join(renamed, on[0] if len(on) == 1 else on, "left")
    new = F.col("drop_reason").isNull() & F.col("_reason").isNotNull()
    marks = {"drop_stage": F.lit(stage_name), "drop_reason": F.col("_reason"), "detail": F.col("_detail")}
    return joined.select(*[F.when(new, marks[c]).otherwise(F.col(c)).alias(c) if c in marks else F.col(c)
                           for c in df.columns])


def broadcast_if_small(df, max_rows: int):
    """`df` marked for a broadcast join when it has at most `max_rows` rows, else as it is (the
    planner then picks the join). `df` is materialized (staged or checkpointed), so counting it
    reads no input again."""
    from pyspark.sql import functions as F

    return F.broadcast(df) if df.count() <= max_rows else df


def stage_frame(df, workdir: str | None, name: str):
    """`df` computed once: written to `<workdir>/<name>` as Parquet and read back, so later reads
    neither recompute it nor keep it in memory; without a workdir (a stage built by hand, a
    test), a local checkpoint."""
    if workdir is None:
        return df.localCheckpoint(eager=True)
    path = f"{workdir.rstrip('/')}/{name}"
    # No dictionaries: staged columns are texts, ids, hashes and signatures, nearly all distinct,
    # and Parquet would fill a dictionary per column and row group only to fall back to plain
    # values (a tenth of the JVM's time in a profile of the dedup pipeline).
    df.write.mode("overwrite").option("parquet.enable.dictionary", "false").parquet(path)
    return df.sparkSession.read.parquet(path)


def _mark_stage(batch: pa.RecordBatch, stage_name: str) -> pa.RecordBatch:
    dropped = pc.is_valid(batch.column("drop_reason"))
    stage = pc.if_else(dropped, pa.scalar(stage_name), pa.scalar(None, pa.string()))
    return set_column(batch, "drop_stage", pc.coalesce(batch.column("drop_stage"), stage))


def arrow_schema(spark_schema) -> pa.Schema:
    """The Arrow schema mapInArrow expects for a Spark schema (timestamps in UTC)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(spark_schema, timezone="UTC")


def _align(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Order, fill (nulls) and cast `batch`'s columns to `schema`."""
    columns = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        column = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, field.type)
        if column.type != field.type:
            column = column.cast(field.type)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)
