"""Read Delta tables without a JVM: delta-rs for the log, pyarrow for the Parquet files.

delta-rs 1.6.6's own scan (`to_pyarrow_table`, `to_pandas`) with pyarrow 26 sometimes aborts
the interpreter at exit ("terminate called without an active exception"), so the log gives
the live files of the version and pyarrow reads them. That is exact for the tables
corpusforge writes: no deletion vectors, no column mapping, no partitions (checked).

Example::

    documents = read_delta("out/documents", version=3, columns=["doc_id", "n_chars"])
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds

from corpusforge.errors import CorpusforgeError


def read_delta(path: str, version: int | None = None, columns: list[str] | None = None) -> pa.Table:
    """Version `version` (default: latest) of the Delta table at `path`, as a pyarrow Table."""
    from deltalake import DeltaTable

    table = DeltaTable(str(path), version=version)
    features = set(table.protocol().reader_features or [])
    if features & {"deletionVectors", "columnMapping"} or table.metadata().partition_columns:
        raise CorpusforgeError(f"Delta table {path}: deletion vectors, column mapping or partitions "
                               "are not supported by this reader; use delta-spark")
    schema = pa.schema(table.schema().to_arrow())
    files = [uri.removeprefix("file://") for uri in table.file_uris()]
    if not files:
        return schema.empty_table().select(columns) if columns else schema.empty_table()
    # The table's schema, not the first file's: files of older runs may lack newer columns.
    return ds.dataset(files, schema=schema, format="parquet").to_table(columns=columns)
