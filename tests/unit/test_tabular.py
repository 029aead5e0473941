"""read_csv / read_parquet on the labelled sentences of tests/data/fin-sentences and generated edge cases."""
from __future__ import annotations

import collections
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusforge.errors import ConfigError
from corpusforge.ingest.base import IngestOptions
from corpusforge.ingest.tabular import read_csv, read_parquet

ROOT = Path(__file__).resolve().parents[2]
FINSENT = ROOT / "tests" / "data" / "fin-sentences"  # the PhraseBank's columns and encodings
SENTIMENT = IngestOptions(text_field="content", label_field="label")


def csv_records(data: bytes, **options: object) -> list:
    return list(read_csv(io.BytesIO(data), IngestOptions(**options)))  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "rows"), [("Train_Data.csv", 69), ("Test_Data.csv", 16)])
def test_finsent_splits_read_whole(name: str, rows: int) -> None:
    with open(FINSENT / name, "rb") as stream:
        records = list(read_csv(stream, SENTIMENT))
    assert len(records) == rows
    assert all(r.drop_reason is None and r.text for r in records)
    assert {r.label for r in records} == {"neutral", "positive", "negative"}
    assert [r.locator for r in records] == [str(n) for n in range(1, rows + 1)]
    # No Latin-1 mojibake in a UTF-8 file read as UTF-8.
    assert not any("Ã" in r.text for r in records)


def test_all_data_is_latin1_with_a_header_row() -> None:
    # The file does start with "label,content" (checked: it is a header, not a data row).
    assert (FINSENT / "all-data.csv").read_bytes().startswith(b"label,content\n")
    with open(FINSENT / "all-data.csv", "rb") as stream:
        records = list(read_csv(stream, IngestOptions(text_field="content", label_field="label", encoding="latin-1")))
    assert len(records) == 85 and all(r.drop_reason is None for r in records)
    assert {r.text for r in records if not r.text.isascii()} == {
        "The café chain opened its first outlet in Tallinn last month.",
        "The company's Zürich office handles sales in central Europe.",
        "The £25 million facility will be repaid over five years."}


def test_all_data_read_as_utf8_drops_only_the_bad_rows() -> None:
    raw_lines = (FINSENT / "all-data.csv").read_bytes().splitlines()[1:]
    bad_lines = 0
    for line in raw_lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad_lines += 1
    with open(FINSENT / "all-data.csv", "rb") as stream:
        records = list(read_csv(stream, SENTIMENT))
    reasons = collections.Counter(r.drop_reason for r in records)
    assert len(records) == 85
    assert reasons["ingest.undecodable"] == bad_lines == 3  # the rows with é, ü, £


def test_empty_and_missing_text_rows_are_dropped() -> None:
    records = csv_records(b"id,text\na,hello\nb,\nc,   \nd\n", id_field="id")
    assert [(r.locator, r.drop_reason) for r in records] == [
        ("a", None), ("b", "ingest.no_text"), ("c", "ingest.no_text"), ("d", "ingest.no_text")
    ]


def test_quoted_multiline_field_and_bom() -> None:
    records = csv_records(b'\xef\xbb\xbftext,label\n"line one\nline two",x\nplain,y\n', label_field="label")
    assert [(r.text, r.label, r.locator) for r in records] == [("line one\nline two", "x", "1"), ("plain", "y", "2")]


def test_undecodable_row_does_not_lose_the_file() -> None:
    records = csv_records(b"text\ngood\nbad \xff\xfe here\nalso good\n")
    assert [r.drop_reason for r in records] == [None, "ingest.undecodable", None]
    assert records[2].locator == "3"


def test_missing_column_drops_every_row_with_reason() -> None:
    records = csv_records(b"content\none\ntwo\n")  # text_field defaults to "text"
    assert [r.drop_reason for r in records] == ["ingest.missing_column"] * 2


def test_empty_csv_and_bad_encoding_option() -> None:
    assert csv_records(b"") == []
    with pytest.raises(ConfigError, match="encoding"):
        csv_records(b"text\nx\n", encoding="no-such-codec")


def test_metadata_fields_are_kept() -> None:
    (record,) = csv_records(b"text,source,extra\nhi,wire,z\n", metadata_fields=("source",))
    assert record.metadata["source"] == "wire" and "extra" not in record.metadata


def write_parquet(path: Path, table: pa.Table, row_group_size: int) -> None:
    pq.write_table(table, path, row_group_size=row_group_size)


def test_parquet_streams_row_groups_with_ids_and_drops(tmp_path: Path) -> None:
    n = 20_000
    texts = [f"document {i}" if i % 1000 else None for i in range(n)]
    table = pa.table({"doc": [f"d{i}" for i in range(n)], "body": texts, "label": ["a", "b"] * (n // 2)})
    write_parquet(tmp_path / "x.parquet", table, row_group_size=3000)
    with pa.OSFile(str(tmp_path / "x.parquet")) as stream:  # a pyarrow NativeFile
        records = list(read_parquet(stream, IngestOptions(text_field="body", id_field="doc", label_field="label")))
    assert len(records) == n
    assert sum(r.drop_reason == "ingest.no_text" for r in records) == n // 1000
    assert records[1].locator == "d1" and records[1].text == "document 1" and records[1].label == "b"


def test_parquet_row_numbers_binary_text_and_missing_column(tmp_path: Path) -> None:
    table = pa.table({"text": pa.array([b"ok", b"\xff\xfe bad", b""], type=pa.binary())})
    write_parquet(tmp_path / "b.parquet", table, row_group_size=2)
    with open(tmp_path / "b.parquet", "rb") as stream:  # a Python file
        records = list(read_parquet(stream, IngestOptions()))
    assert [(r.locator, r.drop_reason) for r in records] == [
        ("1", None), ("2", "ingest.undecodable"), ("3", "ingest.no_text")
    ]
    with open(tmp_path / "b.parquet", "rb") as stream:
        records = list(read_parquet(stream, IngestOptions(text_field="content")))
    assert [r.drop_reason for r in records] == ["ingest.missing_column"] * 3


def test_not_a_parquet_file_is_one_unreadable_row() -> None:
    (record,) = list(read_parquet(io.BytesIO(b"this is not parquet at all"), IngestOptions()))
    assert record.drop_reason == "ingest.unreadable"


def test_the_labelled_set_holds_its_planted_duplicates_and_overlap() -> None:
    # tests/data/fin-sentences/README.md: 3 duplicate pairs inside train (equal dedup keys),
    # 2 sentences in both train and test. Tests of dedup and decontamination rely on them.
    from corpusforge.text.dedup_key import dedup_key

    def keys(name: str) -> collections.Counter:
        with open(FINSENT / name, "rb") as stream:
            return collections.Counter(dedup_key(r.text) for r in read_csv(stream, SENTIMENT))

    train, test = keys("Train_Data.csv"), keys("Test_Data.csv")
    assert sorted(train.values()).count(2) == 3 and max(train.values()) == 2
    assert max(test.values()) == 1 and len(set(train) & set(test)) == 2
