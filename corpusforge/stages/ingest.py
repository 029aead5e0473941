"""The ingest stage: input files → one row per record, distributed one task per file.

Gzip is not splittable, so a file is the unit of work: the file list is parallelized with one
partition per file and each task streams its file through `corpusforge.ingest.files.file_batches`
(the readers of ingest/, pure Python). The record schema is written once, as the Arrow schema
`RECORD_ARROW_SCHEMA`; `RECORD_SCHEMA` is the StructType derived from it.

`read_records` returns the records as a lazy frame. `stage_records` is how a run ingests into a
local staging directory: the same tasks write the records as Parquet themselves (pyarrow),
and Spark reads the files back; elsewhere (object storage) the pipeline stages `read_records`
with Spark's writer.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from corpusforge.ingest.base import IngestOptions
from corpusforge.ingest.files import RECORD_ARROW_SCHEMA, file_batches
from corpusforge.ingest.plan import InputPlan
from corpusforge.stages.base import BatchStage, arrow_schema, batch_pipeline

# `index`: the file's place in the plan, which names its staged file (stage_records)
FILES_SCHEMA_DDL = "index long, uri string, source string, source_key string, format string, split string"


def record_schema():
    """The Spark StructType of the ingest rows, derived from RECORD_ARROW_SCHEMA.

    >>> record_schema()["crawl_ts"].dataType.simpleString(), record_schema()["metadata"].dataType.simpleString()
    ('timestamp', 'map<string,string>')
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(RECORD_ARROW_SCHEMA)


def record_columns() -> tuple[str, ...]:
    """The columns ingest gives the first stage (the pipeline checks stage inputs against them
    in --dry-run, before any work); `candidate` and `record_type` are consumed by the pipeline.

    >>> "lang" in record_columns(), "text" in record_columns(), "candidate" in record_columns()
    (False, True, False)
    """
    return tuple(n for n in RECORD_ARROW_SCHEMA.names if n not in ("candidate", "record_type"))


def _files_frame(spark, plan: InputPlan):
    """The plan's files (`FILES_SCHEMA_DDL`), one partition (one task) per file."""
    files = [(index, f.uri, f.source, f.source_key, f.format, f.split) for index, f in enumerate(plan.files)]
    rdd = spark.sparkContext.parallelize(files, max(1, len(files)))
    return spark.createDataFrame(rdd, FILES_SCHEMA_DDL)


def read_records(spark, plan: InputPlan, opts: IngestOptions, stages: list[BatchStage] = ()):
    """A DataFrame of every record of the plan's files (`record_schema()`), one task per file.

    `stages` (row-local, e.g. normalize) run on each batch as the reader yields it, in the
    same Python worker: the text does not go through the JVM between reading and them.

    Example::

        records = read_records(spark, plan_inputs(["data/warc"], None, cfg.input), cfg.input)
        records.where("candidate").count()
    """
    files_df = _files_frame(spark, plan)
    s3 = plan.s3
    schema, run_stages = batch_pipeline(record_schema(), list(stages))

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for file_row in batch.to_pylist():  # one row per file: a handful per task
                for records in file_batches(file_row, opts, s3=s3):
                    yield run_stages(records)

    return files_df.mapInArrow(run, schema)


# A staged file's row groups: batches are gathered up to this much text before a write, so a
# reader is not handed a row group per 1000-record batch.
_ROW_GROUP_BYTES = 64 << 20


def stage_records(spark, plan: InputPlan, opts: IngestOptions, stages: list[BatchStage], directory: Path):
    """`read_records`, staged: each task writes its files' records as Parquet into `directory`
    (a local path every Python worker sees) and the frame read back from there is returned.

    The workers write with pyarrow, so the records never travel to the JVM to be written: at 1M
    documents that saves the JVM's row conversion and Parquet encoding of every text and
    signature. A file is written under a hidden name and renamed into place, so a retried or
    speculative task leaves one whole copy and readers skip an attempt that died.
    """
    directory = Path(directory).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    files_df = _files_frame(spark, plan)
    s3 = plan.s3
    schema, run_stages = batch_pipeline(record_schema(), list(stages))
    target_schema = arrow_schema(schema)
    target = str(directory)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for file_row in batch.to_pylist():
                rows = _write_file_records(file_row, opts, s3, run_stages, target_schema, target)
                yield pa.record_batch({"index": [file_row["index"]], "rows": [rows]})

    files_df.mapInArrow(run, "index long, rows long").collect()
    return spark.read.schema(schema).parquet(target)


def _write_file_records(file_row: dict, opts: IngestOptions, s3, run_stages, schema: pa.Schema, directory: str) -> int:
    import pyarrow.parquet as pq

    final = os.path.join(directory, f"part-{file_row['index']:05d}.parquet")
    partial = os.path.join(directory, f".part-{file_row['index']:05d}.{uuid.uuid4().hex}.tmp")
    rows, pending, pending_bytes = 0, [], 0
    with pq.ParquetWriter(partial, schema, compression="snappy", use_dictionary=False,
                          write_statistics=False) as writer:
        for records in file_batches(file_row, opts, s3=s3):
            batch = run_stages(records)
            pending.append(batch)
            pending_bytes += batch.nbytes
            rows += batch.num_rows
            if pending_bytes >= _ROW_GROUP_BYTES:
                writer.write_table(_as_table(pending, schema))
                pending, pending_bytes = [], 0
        if pending or not rows:
            writer.write_table(_as_table(pending, schema))
    os.replace(partial, final)
    return rows


def _as_table(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    table = pa.Table.from_batches(batches) if batches else schema.empty_table()
    return table if table.schema.equals(schema) else table.cast(schema)
