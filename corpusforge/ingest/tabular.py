"""CSV, TSV and Parquet → Records, streaming (CSV line by line, Parquet batch by batch).

CSV bytes are decoded line by line with `surrogateescape`, so one undecodable row becomes
one `ingest.undecodable` Record instead of failing the file; the csv module still sees
quoted fields that span lines. The header row names the columns; `opts.text_field`,
`opts.id_field`, `opts.label_field` and `opts.metadata_fields` pick them. A configured
column the file does not have makes every row a drop (`ingest.missing_column`), so the
rows are still counted.
"""
from __future__ import annotations

import codecs
import csv
import sys
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from corpusforge.errors import ConfigError
from corpusforge.ingest.base import IngestOptions, Record

PARQUET_BATCH_ROWS = 8192  # rows per Arrow batch: bounded memory, few Python round trips

# Quoted CSV fields may hold whole documents, far beyond the module's 128 KB default.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _decoded_lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    first = True
    for raw_line in stream:
        if first:
            first = False
            if encoding.replace("_", "-").lower() in ("utf-8", "utf8") and raw_line.startswith(codecs.BOM_UTF8):
                raw_line = raw_line[len(codecs.BOM_UTF8):]
        # surrogateescape keeps bad bytes as lone surrogates: the row, not the file, is lost.
        yield raw_line.decode(encoding, errors="surrogateescape")


def _has_undecodable(values: Iterable[str]) -> bool:
    return any(any("\udc80" <= ch <= "\udcff" for ch in value) for value in values)


def _row_record(
    row_number: int,
    values: dict[str, Any],
    opts: IngestOptions,
    record_type: str,
    missing: list[str],
) -> Record:
    """One Record from a row's column values (str, None, or bytes for Parquet binary)."""
    record = Record(locator=str(row_number), record_type=record_type, source_offset=None)
    record.metadata["row"] = str(row_number)
    if missing:
        record.drop_reason = "ingest.missing_column"
        record.detail = f"column(s) {missing} not in the file"
        return record
    if opts.id_field:
        identifier = values.get(opts.id_field)
        if identifier is None or str(identifier).strip() == "":
            record.drop_reason = "ingest.missing_id"
            record.detail = f"empty {opts.id_field!r}"
            return record
        record.locator = record.source_id = str(identifier)
    label = values.get(opts.label_field) if opts.label_field else None
    record.label = None if label is None or str(label) == "" else str(label)
    for name in opts.metadata_fields:
        if values.get(name) is not None:
            record.metadata[name] = str(values[name])
    text = values.get(opts.text_field)
    if isinstance(text, bytes):
        try:
            text = text.decode(opts.encoding)
        except UnicodeDecodeError:
            record.drop_reason = "ingest.undecodable"
            record.detail = f"{opts.text_field!r} is not {opts.encoding}"
            return record
    if text is not None and not isinstance(text, str):
        text = str(text)
    if not text or not text.strip():
        record.drop_reason = "ingest.no_text"
        record.detail = f"empty {opts.text_field!r}"
        return record
    record.text = text
    return record


def _missing_columns(columns: Iterable[str], opts: IngestOptions) -> list[str]:
    wanted = [opts.text_field, opts.id_field, opts.label_field, *opts.metadata_fields]
    present = set(columns)
    return [name for name in wanted if name and name not in present]


def read_csv(stream: BinaryIO, opts: IngestOptions) -> Iterator[Record]:
    """Records of a CSV file (comma-separated) with a header row; locator = 1-based data row
    number or the id.

    >>> import io
    >>> data = b"label,content\\npositive,Shares rose.\\nneutral,\\n"
    >>> opts = IngestOptions(text_field="content", label_field="label")
    >>> [(r.locator, r.label, r.text, r.drop_reason) for r in read_csv(io.BytesIO(data), opts)]
    [('1', 'positive', 'Shares rose.', None), ('2', 'neutral', None, 'ingest.no_text')]
    """
    return _read_delimited(stream, opts, csv.excel, "csv")


def read_tsv(stream: BinaryIO, opts: IngestOptions) -> Iterator[Record]:
    """Records of a TSV file (tab-separated) with a header row; as `read_csv` otherwise.

    Fields may be quoted as spreadsheet and pandas writers quote them (`csv.excel_tab`);
    commas are text.

    >>> import io
    >>> data = b"label\\tcontent\\npositive\\tShares rose, again.\\n"
    >>> opts = IngestOptions(text_field="content", label_field="label")
    >>> [(r.record_type, r.label, r.text) for r in read_tsv(io.BytesIO(data), opts)]
    [('tsv', 'positive', 'Shares rose, again.')]
    """
    return _read_delimited(stream, opts, csv.excel_tab, "tsv")


def _read_delimited(stream: BinaryIO, opts: IngestOptions, dialect: type[csv.Dialect],
                    record_type: str) -> Iterator[Record]:
    try:
        codecs.lookup(opts.encoding)
    except LookupError:
        raise ConfigError(f"input encoding {opts.encoding!r} is not a known codec") from None
    rows = csv.reader(_decoded_lines(stream, opts.encoding), dialect)
    try:
        header = next(rows)
    except StopIteration:
        return  # an empty file has no rows to account for
    except csv.Error as error:
        yield Record(locator="header", record_type=record_type, drop_reason="ingest.unreadable", detail=str(error))
        return
    header = [name.strip() for name in header]
    missing = _missing_columns(header, opts)
    if _has_undecodable(header):
        missing = missing or ["<undecodable header>"]
    row_number = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            # A broken quote runs to the end of the file: nothing after it can be split.
            row_number += 1
            yield Record(
                locator=str(row_number),
                record_type=record_type,
                drop_reason="ingest.unreadable",
                detail=f"{record_type}: {error} at data row {row_number}",
            )
            return
        if not values:
            continue  # a blank line is not a row
        row_number += 1
        if _has_undecodable(values):
            yield Record(
                locator=str(row_number),
                record_type=record_type,
                metadata={"row": str(row_number)},
                drop_reason="ingest.undecodable",
                detail=f"bytes not valid {opts.encoding}",
            )
            continue
        by_name = dict(zip(header, values))
        yield _row_record(row_number, by_name, opts, record_type, missing)


def read_parquet(stream: Any, opts: IngestOptions) -> Iterator[Record]:
    """Records of a Parquet file, read by batches of row groups; locator = row number or id.

    `stream` is a seekable Python file or a pyarrow NativeFile.

    >>> import io, pyarrow as pa, pyarrow.parquet as pq
    >>> buffer = io.BytesIO()
    >>> pq.write_table(pa.table({"text": ["a doc", ""], "id": ["x1", "x2"]}), buffer)
    >>> [(r.locator, r.drop_reason) for r in read_parquet(buffer, IngestOptions(id_field="id"))]
    [('x1', None), ('x2', 'ingest.no_text')]
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(stream)
    except (pa.ArrowException, OSError, ValueError) as error:
        yield Record(locator="0", record_type="parquet", source_offset=0, drop_reason="ingest.unreadable",
                     detail=f"{type(error).__name__}: {error}"[:300])
        return
    names = parquet.schema_arrow.names
    missing = _missing_columns(names, opts)
    wanted = [name for name in dict.fromkeys(
        [opts.text_field, opts.id_field, opts.label_field, *opts.metadata_fields]) if name and name in names]
    row_number = 0
    if not wanted:
        # None of the configured columns exist: count the rows from the footer, read nothing.
        for row_number in range(1, parquet.metadata.num_rows + 1):
            yield _row_record(row_number, {}, opts, "parquet", missing)
        return
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=wanted):
            columns = {name: batch.column(name).to_pylist() for name in wanted}
            for index in range(batch.num_rows):
                row_number += 1
                values = {name: column[index] for name, column in columns.items()}
                yield _row_record(row_number, values, opts, "parquet", missing)
    except (pa.ArrowException, OSError, ValueError) as error:
        yield Record(locator=f"{row_number + 1}!unreadable", record_type="parquet", drop_reason="ingest.unreadable",
                     detail=f"after row {row_number}: {type(error).__name__}: {error}"[:300])
