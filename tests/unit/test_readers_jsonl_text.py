import io

from corpusforge.ingest.base import IngestOptions
from corpusforge.ingest.jsonl import read_jsonl
from corpusforge.ingest.text import read_text


def _jsonl(data: bytes, **opts):
    return list(read_jsonl(io.BytesIO(data), IngestOptions(**opts)))


def test_jsonl_fields_id_label_metadata():
    rows = _jsonl(b'{"id": 7, "body": "hi", "y": "pos", "site": "a", "n": 3}\n',
                  text_field="body", id_field="id", label_field="y", metadata_fields=("site", "n"))
    (r,) = rows
    assert (r.locator, r.source_id, r.text, r.label) == ("7", "7", "hi", "pos")
    assert r.metadata == {"site": "a", "n": "3"}


def test_jsonl_bad_lines_are_dropped_with_reasons_and_nothing_is_lost():
    data = (b'{"text": "ok"}\n'
            b'\xff\xfe{"text": "bad utf8"}\n'
            b'not json\n'
            b'"a string"\n'
            b'{"other": 1}\n'
            b'{"text": 5}\n'
            b'   \n')
    rows = _jsonl(data)
    assert [(r.locator, r.drop_reason) for r in rows] == [
        ("1", None), ("2", "ingest.undecodable"), ("3", "ingest.bad_json"),
        ("4", "ingest.not_object"), ("5", "ingest.no_text"), ("6", "ingest.no_text")]


def test_jsonl_too_large_line():
    (r,) = _jsonl(b'{"text": "' + b"x" * 100 + b'"}\n', max_record_bytes=50)
    assert r.drop_reason == "ingest.too_large" and r.text is None


def test_text_file_and_lines_and_encoding():
    assert [r.text for r in read_text(io.BytesIO("one doc\nline two".encode()), IngestOptions())] == [
        "one doc\nline two"]
    lines = list(read_text(io.BytesIO(b"a\r\n\r\nb"), IngestOptions(text_unit="line")))
    assert [(r.locator, r.text) for r in lines] == [("1", "a"), ("3", "b")]
    latin = list(read_text(io.BytesIO("café".encode("latin-1")), IngestOptions(encoding="latin-1")))
    assert latin[0].text == "café"
    bad = list(read_text(io.BytesIO("café".encode("latin-1")), IngestOptions()))
    assert bad[0].drop_reason == "ingest.undecodable"
    assert list(read_text(io.BytesIO(b""), IngestOptions())) == []
    (big,) = read_text(io.BytesIO(b"x" * 20), IngestOptions(max_record_bytes=10))
    assert big.drop_reason == "ingest.too_large"
