"""Read Delta tables without a JVM: delta-rs for the log, pyarrow for the Parquet files.

delta-rs 1.6.6's own scans (`to_pyarrow_table`, `to_pyarrow_dataset`, `to_pandas`) with
pyarrow 26 sometimes abort the interpreter at exit ("terminate called without an active
exception"), which fails a test run or a training job after its work is done. So the log
gives the live files of the version and pyarrow reads them. That is exact for the tables
corpusforge and its tests write: no deletion vectors, no column mapping (both refused), and
partition values, if any, in Hive-style directories as Delta writers lay them out.

Example::

    documents = read_delta("out/documents", version=3, columns=["doc_id", "n_chars"])
    dataset = delta_dataset(DeltaTable("out/tokens", version=7))   # stream it by batches
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds

from corpusforge.errors import CorpusforgeError


def delta_dataset(table) -> ds.Dataset:
    """A pyarrow Dataset over the live files of an open `deltalake.DeltaTable` version."""
    features = set(table.protocol().reader_features or [])
    if features & {"deletionVectors", "columnMapping"}:
        raise CorpusforgeError(f"Delta table {table.table_uri}: deletion vectors or column mapping "
                               "are not supported by this reader; use delta-spark")
    schema = pa.schema(table.schema().to_arrow())
    partition_columns = table.metadata().partition_columns
    files = [uri.removeprefix("file://") for uri in table.file_uris()]
    partitioning = None
    if partition_columns:
        partitioning = ds.partitioning(pa.schema([schema.field(c) for c in partition_columns]), flavor="hive")
    # The table's schema, not the first file's: files of older runs may lack newer columns.
    root = table.table_uri.removeprefix("file://")
    return ds.dataset(files, schema=schema, format="parquet", partitioning=partitioning,
                      partition_base_dir=root if partitioning else None)


def read_delta(path: str, version: int | None = None, columns: list[str] | None = None) -> pa.Table:
    """Version `version` (default: latest) of the Delta table at `path`, as a pyarrow Table."""
    from deltalake import DeltaTable

    return delta_dataset(DeltaTable(str(path), version=version)).to_table(columns=columns)
