"""read_records (the Spark ingest stage) against the pure readers, file by file.

The plan mixes real sample WARC/ARC/WET files (intact and damaged) with a JSONL, a CSV and a
binary file named .warc.gz made here. What the Spark path yields for each file must be what
the pure reader yields when it reads the same file with a plain `open()`; ids must not depend
on how the files are spread over tasks.
"""
from __future__ import annotations

import collections
import gzip
import hashlib
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from corpusforge.ingest import detect_format, reader_for
from corpusforge.ingest.base import IngestOptions
from corpusforge.ingest.files import RECORD_ARROW_SCHEMA
from corpusforge.ingest.plan import InputFile, InputPlan
from corpusforge.stages.ingest import read_records, record_schema

pytestmark = pytest.mark.spark

SAMPLE_FILES = (
    "resiliparse/warcfile.warc.gz",  # the Chinese pages
    "resiliparse/warcfile.warc.lz4",
    "dolma/sample-0000.warc.gz",
    "warcio/example-trunc.warc",  # damage the reader resyncs past (needs a seekable stream)
    "resiliparse/clipped.warc.gz",  # truncated gzip
    "warcio/example.arc.gz",
    "whirlwind/whirlwind.warc.wet.gz",
)
# url → a phrase of the page as it reads in Chinese (looked up in the raw HTML); the test
# also checks the phrase is really in the page bytes, in UTF-8 or GB18030.
CHINESE_PAGES = {
    "http://003338.cn/l41/481397.html": "要闻动态",
    "http://035.psb556.com/24/i/u_1090813/article.html": "车型搜索",
    "http://041696.com/15477/list_6_4.html": "耐磨板特价销售",
    "http://044545.com/topic/20200207/015849.html": "新一轮的赔付活动",
    "http://0513mt.com/index.php/art/detail/id/8884.html": "在线观看",
    "http://05925.net/index.php/vod/type/id/53.html": "您的位置",
    "http://0615235.com/02mjqjo%7Bibotij2.btq?odmbtt=106&tdmbtt=121": "笔记本",
    "http://0755krk.com/76104/list_4_1.html": "发布时间",
    "http://0760.jxtdw.com/area/sanxiang/": "热门招聘信息",
    "http://077678u.info/erxiaoshujinguang/list_6_2.html": "当前位置",
    "http://096355.com/video/11073.html?11073-0-2": "您的位置",
}
CFG = IngestOptions(label_field="label")  # the CSV's label column is carried
MOJIBAKE_MARKERS = ("\ufffd\ufffd", "ä¸", "ï¼", "Ã©")  # UTF-8 read as Latin-1, or lost bytes


def _input_file(path: Path, key: str, split: str | None = None) -> InputFile:
    stat = path.stat()
    return InputFile(uri=f"file://{path}", source="warc", source_key=key,
                     format=detect_format(path.name) or "warc", size=stat.st_size,
                     mtime=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc), split=split)


@pytest.fixture(scope="module")
def plan(test_data: Path, tmp_path_factory) -> InputPlan:
    local = tmp_path_factory.mktemp("ingest_inputs")
    (local / "docs.jsonl").write_bytes(
        b'{"text": "first document"}\n'
        b'not json at all\n'
        b'["a list", "not an object"]\n'
        b'{"text": "caf\xc3\xa9 au lait"}\n'
        b'{"text": "bad utf-8 \xff\xfe here"}\n'
    )
    (local / "rows.csv").write_text("text,label\nthe market rose,positive\n"
                                    "\"a quoted, comma\",neutral\n", encoding="utf-8")
    # Deterministic noise that no reader can parse (not gzip, not WARC).
    (local / "binary.warc.gz").write_bytes(bytes((i * 7919 + 13) % 256 for i in range(50_000)))
    files = [_input_file(test_data / "warc" / name, f"warc/{name}") for name in SAMPLE_FILES]
    files += [_input_file(local / name, f"local/{name}", split="train")
              for name in ("docs.jsonl", "rows.csv", "binary.warc.gz")]
    return InputPlan(files=sorted(files, key=lambda f: f.uri))


@pytest.fixture(scope="module")
def rows(spark, plan: InputPlan) -> list:
    return read_records(spark, plan, CFG).collect()


def _pure(input_file: InputFile) -> list:
    """What the reader alone yields for the file, read with a plain open()."""
    with open(input_file.uri[len("file://"):], "rb") as stream:
        return list(reader_for(input_file.format)(stream, CFG))


def _outcome(records) -> tuple[int, dict[str, int], dict[str, int]]:
    """(kept candidates, non-candidates by type, drops by reason) of Records or Rows."""
    kept = sum(1 for r in records if r.candidate and r.drop_reason is None)
    non_candidates = collections.Counter(r.record_type for r in records if not r.candidate)
    drops = collections.Counter(r.drop_reason for r in records if r.drop_reason)
    return kept, dict(non_candidates), dict(drops)


def _blake(source_key: str, locator: str) -> str:
    # DESIGN.md's doc_id, computed here from its definition rather than through the package.
    return hashlib.blake2b(f"{source_key}\x00{locator}".encode(), digest_size=16).hexdigest()


def test_the_spark_schema_derived_from_the_arrow_schema_gives_it_back(spark) -> None:
    from pyspark.sql.types import _parse_datatype_string

    from corpusforge.stages.base import arrow_schema

    # The record schema is spelled once (Arrow); the Spark one derived from it is the DDL a
    # reader of the staged records sees, and mapInArrow's schema of it is the Arrow one again.
    assert arrow_schema(record_schema()) == RECORD_ARROW_SCHEMA
    assert record_schema() == _parse_datatype_string(
        "doc_id string, text string, url string, source string, source_key string, source_id string, "
        "source_uri string, source_offset bigint, crawl_ts timestamp, content_type string, label string, "
        "split string, metadata map<string,string>, candidate boolean, record_type string, "
        "drop_stage string, drop_reason string, detail string")


def test_per_file_outcome_equals_the_pure_reader(plan: InputPlan, rows: list) -> None:
    by_uri = collections.defaultdict(list)
    for row in rows:
        by_uri[row.source_uri].append(row)
    assert set(by_uri) == {f.uri for f in plan.files}
    for input_file in plan.files:
        pure = _pure(input_file)
        spark_rows = by_uri[input_file.uri]
        assert _outcome(spark_rows) == _outcome(pure), input_file.source_key
        # Not just the counts: the same records, ids and texts.
        assert sorted((r.doc_id, r.source_offset, r.text) for r in spark_rows) == sorted(
            (_blake(input_file.source_key, r.locator), r.source_offset, r.text) for r in pure
        ), input_file.source_key


def test_the_files_hold_what_they_are_known_to_hold(plan: InputPlan, rows: list) -> None:
    # A few anchors, so that "equal to the pure reader" cannot be "equally wrong".
    outcome = {f.source_key: _outcome([r for r in rows if r.source_uri == f.uri]) for f in plan.files}
    assert outcome["warc/resiliparse/warcfile.warc.gz"] == (16, {"warcinfo": 1, "request": 17, "metadata": 16}, {})
    assert outcome["warc/dolma/sample-0000.warc.gz"] == (24, {"warcinfo": 1, "request": 22, "metadata": 1}, {})
    # The request after the 2 stray bytes is read: the stream handed to the reader is seekable.
    assert outcome["warc/warcio/example-trunc.warc"] == (1, {"warcinfo": 2, "request": 1}, {"ingest.unreadable": 1})
    # 5 lines: 2 objects, 1 not JSON, 1 not an object, 1 invalid UTF-8.
    assert outcome["local/docs.jsonl"] == (
        2, {}, {"ingest.bad_json": 1, "ingest.not_object": 1, "ingest.undecodable": 1})
    assert outcome["local/rows.csv"] == (2, {}, {})


def test_rows_carry_file_metadata(plan: InputPlan, rows: list) -> None:
    keys = {f.uri: f.source_key for f in plan.files}
    for row in rows:
        assert row.source == "warc" and row.source_key == keys[row.source_uri]
        assert (row.drop_stage == "ingest") == (row.drop_reason is not None)
        assert len(row.doc_id) == 32 and int(row.doc_id, 16) >= 0
    csv_rows = [r for r in rows if r.source_key == "local/rows.csv"]
    assert {(r.text, r.label, r.split) for r in csv_rows} == {
        ("the market rose", "positive", "train"), ("a quoted, comma", "neutral", "train")}
    response = next(r for r in rows if r.url == "http://003338.cn/l41/481397.html"
                    and r.record_type == "response")
    assert response.crawl_ts is not None and response.source_id.startswith("<urn:uuid:")
    assert response.source_offset is not None and response.content_type == "text/html"


def test_doc_id_is_per_file_and_offset_whatever_the_tasks(spark, plan: InputPlan, rows: list) -> None:
    many = {r.doc_id: (r.source_uri, r.source_offset, r.record_type) for r in rows}
    assert len(many) == len(rows)  # unique across files
    # coalesce(1) is narrow: the one task runs mapInArrow over every file in turn.
    one_task = read_records(spark, plan, CFG).coalesce(1)
    assert one_task.rdd.getNumPartitions() == 1
    assert {r.doc_id: (r.source_uri, r.source_offset, r.record_type) for r in one_task.collect()} == many
    # Another order of the files, one file per plan: still the same ids.
    alone = {}
    for input_file in reversed(plan.files):
        for r in read_records(spark, InputPlan(files=[input_file]), CFG).collect():
            alone[r.doc_id] = (r.source_uri, r.source_offset, r.record_type)
    assert alone == many
    # A WARC record's id is the hash of source key and byte offset.
    key = "warc/resiliparse/warcfile.warc.gz"
    warc_rows = [r for r in rows if r.source_key == key]
    assert all(r.doc_id == _blake(key, str(r.source_offset)) for r in warc_rows)


def test_chinese_pages_are_chinese_through_spark(test_data: Path, rows: list) -> None:
    raw = gzip.decompress((test_data / "warc/resiliparse/warcfile.warc.gz").read_bytes())
    by_url = {r.url: r for r in rows if r.source_key == "warc/resiliparse/warcfile.warc.gz"
              and r.record_type == "response"}
    for url, phrase in CHINESE_PAGES.items():
        row = by_url[url]
        assert row.drop_reason is None, url
        assert phrase.encode("utf-8") in raw or phrase.encode("gb18030") in raw, url
        assert phrase in row.text, url
        assert sum("\u4e00" <= ch <= "\u9fff" for ch in row.text) >= 10, url
        assert not any(marker in row.text for marker in MOJIBAKE_MARKERS), url
        assert row.metadata["charset"] in ("utf-8", "gb18030"), url


def test_unreadable_file_is_a_dropped_row_not_a_failed_task(plan: InputPlan, rows: list) -> None:
    binary = [r for r in rows if r.source_key == "local/binary.warc.gz"]
    assert len(binary) == 1
    (row,) = binary
    assert row.candidate and row.drop_stage == "ingest" and row.drop_reason == "ingest.unreadable"
    assert row.source_offset == 0 and row.detail
    # The other files of the same job were read in full.
    assert len({r.source_uri for r in rows}) == len(plan.files)


def test_odd_names_truncated_gzip_and_tsv_through_the_stage(spark, tmp_path) -> None:
    """Files found by plan_inputs, read by Spark tasks: a name with a space and a non-ASCII
    letter reads whole, a truncated .jsonl.gz gives its records before the cut and one
    unreadable row at the cut, a .tsv splits on tabs."""
    from corpusforge.ingest.plan import plan_inputs
    from corpusforge.ingest.uris import local_uri

    root = tmp_path / "odd inputs"
    root.mkdir()
    (root / "bad lines ü.jsonl").write_text('{"text": "ein Dokument"}\n{"text": "zwei"}\n', encoding="utf-8")
    lines = b"".join(b'{"text": "record %d of a cut file"}\n' % i for i in range(3000))
    whole = gzip.compress(lines, mtime=0)
    (root / "cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (root / "news.tsv").write_text("label\ttext\npositive\tSales rose, it said.\n", encoding="utf-8")
    plan = plan_inputs([str(root)], None, IngestOptions(label_field="label"))
    assert [f.format for f in plan.files] == ["jsonl", "jsonl", "tsv"]

    rows = read_records(spark, plan, CFG).collect()
    by_key = collections.defaultdict(list)
    for row in rows:
        by_key[row.source_key].append(row)
    odd = sorted(by_key["odd inputs/bad lines ü.jsonl"], key=lambda r: r.source_offset)
    assert [(r.text, r.drop_reason) for r in odd] == [("ein Dokument", None), ("zwei", None)]
    assert odd[0].source_uri == local_uri(str(root / "bad lines ü.jsonl")) and "%20" in odd[0].source_uri
    # doc_id hashes the decoded key: the same ids whatever the URI scheme that reaches the file.
    assert odd[0].doc_id == _blake("odd inputs/bad lines ü.jsonl", "1")

    cut = by_key["odd inputs/cut.jsonl.gz"]
    kept = sorted((r for r in cut if r.drop_reason is None), key=lambda r: r.source_offset)
    readable_lines = zlib.decompressobj(wbits=31).decompress(whole[: len(whole) // 2]).count(b"\n")
    assert len(kept) == readable_lines > 1000
    assert [r.text for r in kept] == [f"record {i} of a cut file" for i in range(len(kept))]
    (unreadable,) = [r for r in cut if r.drop_reason is not None]
    assert unreadable.drop_reason == "ingest.unreadable" and unreadable.source_offset == len(whole) // 2
    assert f"after {len(kept)} records" in unreadable.detail

    (tsv,) = by_key["odd inputs/news.tsv"]
    assert (tsv.text, tsv.label, tsv.drop_reason) == ("Sales rose, it said.", "positive", None)


def test_records_staged_by_the_workers_are_the_records_read(spark, plan: InputPlan, rows: list, tmp_path) -> None:
    """`stage_records` (the pipeline's ingest on a local staging directory) writes one Parquet
    file per input with pyarrow and reads them back: the same rows, timestamps and maps
    included, as `read_records` gives; an attempt run again for a file leaves one copy."""
    from corpusforge.stages.base import arrow_schema
    from corpusforge.stages.ingest import _write_file_records, stage_records

    staged = stage_records(spark, plan, CFG, [], tmp_path / "records")
    assert staged.schema == record_schema()

    def comparable(row):  # an ARC record gets a fresh urn:uuid as its id at each read
        values = row.asDict()
        if values["source_key"].endswith(".arc.gz"):
            values["source_id"] = None
        return tuple(values.values())

    assert sorted(map(comparable, staged.collect()), key=str) == sorted(map(comparable, rows), key=str)
    written = sorted(p.name for p in (tmp_path / "records").iterdir())
    assert written == [f"part-{index:05d}.parquet" for index in range(len(plan.files))]

    first = plan.files[0]
    file_row = {"index": 0, "uri": first.uri, "source": first.source, "source_key": first.source_key,
                "format": first.format, "split": first.split}
    _write_file_records(file_row, CFG, None, lambda batch: batch, arrow_schema(record_schema()), str(tmp_path / "records"))
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == written
    assert spark.read.schema(record_schema()).parquet(str(tmp_path / "records")).count() == len(rows)
