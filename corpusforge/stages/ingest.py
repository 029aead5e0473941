"""The ingest stage: input files → one row per record, distributed one task per file.

Gzip is not splittable, so a file is the unit of work: the file list is parallelized with one
partition per file and each task streams its file through `corpusforge.ingest.files.file_batches`
(the readers of ingest/, pure Python). The record schema is written once, as the Arrow schema
`RECORD_ARROW_SCHEMA`; `RECORD_SCHEMA` is the StructType derived from it.
"""
from __future__ import annotations

from typing import Iterator

import pyarrow as pa

from corpusforge.ingest.base import IngestOptions
from corpusforge.ingest.files import RECORD_ARROW_SCHEMA, file_batches
from corpusforge.ingest.plan import InputPlan
from corpusforge.stages.base import BatchStage, batch_pipeline

FILES_SCHEMA_DDL = "uri string, source string, source_key string, format string, split string"


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


def read_records(spark, plan: InputPlan, opts: IngestOptions, stages: list[BatchStage] = ()):
    """A DataFrame of every record of the plan's files (`record_schema()`), one task per file.

    `stages` (row-local, e.g. normalize) run on each batch as the reader yields it, in the
    same Python worker: the text does not go through the JVM between reading and them.

    Example::

        records = read_records(spark, plan_inputs(["data/warc"], None, cfg.input), cfg.input)
        records.where("candidate").count()
    """
    files = [(f.uri, f.source, f.source_key, f.format, f.split) for f in plan.files]
    rdd = spark.sparkContext.parallelize(files, max(1, len(files)))
    files_df = spark.createDataFrame(rdd, FILES_SCHEMA_DDL)
    s3 = plan.s3
    schema, run_stages = batch_pipeline(record_schema(), list(stages))

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for file_row in batch.to_pylist():  # one row per file: a handful per task
                for records in file_batches(file_row, opts, s3=s3):
                    yield run_stages(records)

    return files_df.mapInArrow(run, schema)
