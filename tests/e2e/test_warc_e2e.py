"""The acceptance run of issue 3: `spark-submit jobs/build_corpus.py --input tests/data/warc`.

One real spark-submit builds the corpus (module fixture, shared by every test here) and a
second one over the same output must add nothing. The tables are read without a JVM, with
`deltalake` (delta-rs) for the log and pyarrow for the files it lists. Every expected count
is computed here from the input bytes (WARC headers counted in the decompressed files, and
warcio's own iterator), never copied from the pipeline's output.
"""
from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
RUN_TIMEOUT_S = 600
CANDIDATE_TYPES = ("response", "resource", "conversion")  # DESIGN.md: document candidates
NON_CANDIDATE_TYPES = ("request", "metadata", "warcinfo", "revisit")
# Files of the real crawls (not the hand-made damage cases) that warcio can read, with the
# number of HTML responses the samples' origin (tests/data/README.md) says they hold (None: not stated there).
REAL_CRAWLS = {"resiliparse/warcfile.warc.gz": 16, "resiliparse/clueweb-quirk.warc.gz": None,
               "dolma/sample-0000.warc.gz": 22, "dolma/sample-0001.warc.gz": 15,
               "jwarc/cc.warc.gz": None, "whirlwind/whirlwind.warc.gz": None}
# url → a phrase of the page as it reads in Chinese (looked up in the raw HTML); also checked
# to be in the page bytes, in UTF-8 or GB18030.
CHINESE_PAGES = {
    "http://003338.cn/l41/481397.html": "广东省人民政府",
    "http://035.psb556.com/24/i/u_1090813/article.html": "网上车市",
    "http://041696.com/15477/list_6_4.html": "企业公告",
    "http://044545.com/topic/20200207/015849.html": "好消息",
    "http://0513mt.com/index.php/art/detail/id/8884.html": "在线观看",
    "http://05925.net/index.php/vod/type/id/53.html": "首页",
    "http://0615235.com/02mjqjo%7Bibotij2.btq?odmbtt=106&tdmbtt=121": "产品搜索",
    "http://0755krk.com/76104/list_4_1.html": "博文资讯",
    "http://0760.jxtdw.com/area/sanxiang/": "用心专注",
    "http://077678u.info/erxiaoshujinguang/list_6_2.html": "二肖输尽光",
    "http://096355.com/video/11073.html?11073-0-2": "您的位置",
}
MOJIBAKE_MARKERS = ("\ufffd\ufffd", "ä¸", "ï¼", "Ã©")
_WARC_TYPE = re.compile(rb"WARC/\d\.\d+\r?\n(?:[^\r\n]+\r?\n)*?WARC-Type: *(\w+)\r?\n")


# ---------------------------------------------------------------- independent counts


def decompressed(path: Path) -> bytes:
    """The file's bytes with gzip members / lz4 frames undone (a clipped end is kept)."""
    data = path.read_bytes()
    if data.startswith(b"\x04\x22\x4d\x18"):
        import lz4.frame

        frames, rest = [], data
        while rest:
            decompressor = lz4.frame.LZ4FrameDecompressor()
            frames.append(decompressor.decompress(rest))
            rest = decompressor.unused_data
        return b"".join(frames)
    out, rest = [], data
    while rest.startswith(b"\x1f\x8b"):
        decompressor = zlib.decompressobj(31)
        try:
            out.append(decompressor.decompress(rest))
        except zlib.error:
            break
        if not decompressor.eof:
            break
        rest = decompressor.unused_data
    return b"".join(out) if out else data


def header_types(path: Path) -> collections.Counter:
    """WARC-Type values of the file's WARC headers; an ARC file's `filedesc://` is its warcinfo."""
    raw = decompressed(path)
    if ".arc" in path.name:
        return collections.Counter({"warcinfo": raw.count(b"filedesc://")})
    return collections.Counter(value.decode() for value in _WARC_TYPE.findall(raw))


def warcio_html_responses(path: Path) -> dict[str, str]:
    """WARC-Record-ID → URL of every HTTP response whose Content-Type is HTML, by warcio."""
    from warcio.archiveiterator import ArchiveIterator

    found = {}
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            content_type = (record.http_headers.get_header("Content-Type") or "").lower()
            if "html" in content_type:
                found[record.rec_headers.get_header("WARC-Record-ID")] = record.rec_headers.get_header("WARC-Target-URI")
    return found


# ---------------------------------------------------------------- the runs


def _submit(input_dir: Path, output: Path, log: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SPARK_CONF_DIR=str(REPO / "spark-conf" / "local"), SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    command = [str(VENV_BIN / "spark-submit"), str(REPO / "jobs" / "build_corpus.py"),
               "--input", str(input_dir), "--output", str(output),
               # Ingest is under test: no quality filter may hide what the readers yield.
               "--set", 'pipeline.stages=["normalize", "exact_dedup"]']
    with open(log, "w") as handle:
        done = subprocess.run(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
                              timeout=RUN_TIMEOUT_S, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n" + log.read_text()[-4000:])
    return done


def read_delta(path: Path):
    """The current version of a Delta table as a pyarrow Table, without a JVM.

    delta-rs's own scan (`to_pyarrow_table`) sometimes aborts the interpreter at exit here
    ("terminate called without an active exception"), so the log gives the live files and
    pyarrow reads them; that is exact as long as the table has no deletion vectors.
    """
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    table = DeltaTable(str(path))
    assert "deletionVectors" not in (table.protocol().reader_features or [])
    return pq.read_table([uri.removeprefix("file://") for uri in table.file_uris()])


@pytest.fixture(scope="module")
def warc_dir(test_data: Path) -> Path:
    return test_data / "warc"


@pytest.fixture(scope="module")
def corpus(warc_dir: Path, tmp_path_factory) -> dict:
    """One build over the sample WARC folder, then a second over the same output."""
    root = tmp_path_factory.mktemp("warc_e2e")
    output = root / "out"
    first = _submit(warc_dir, output, root / "first.log")
    tables = {name: read_delta(output / name).to_pylist() for name in ("documents", "dropped", "stats", "ledger")}
    versions = {name: _version(output / name) for name in ("documents", "dropped")}
    second = _submit(warc_dir, output, root / "second.log")
    return {"output": output, "tables": tables, "versions": versions, "first": first, "second": second,
            "second_log": (root / "second.log").read_text()}


def _version(path: Path) -> int:
    from deltalake import DeltaTable

    return DeltaTable(str(path)).version()


def _rows_by_file(corpus: dict, warc_dir: Path, name: str) -> list[dict]:
    uri = f"file://{(warc_dir / name).resolve()}"
    tables = corpus["tables"]
    return [r for r in tables["documents"] + tables["dropped"] if r["source_uri"] == uri]


def _stat(corpus: dict, stage: str, metric: str) -> float:
    values = [r["value"] for r in corpus["tables"]["stats"] if r["stage"] == stage and r["metric"] == metric]
    assert len(values) == 1, (stage, metric, values)
    return values[0]


# ---------------------------------------------------------------- the assertions


def test_license_files_are_skipped_as_unknown_format(corpus: dict, warc_dir: Path) -> None:
    on_disk = sorted(p for p in warc_dir.rglob("*") if p.is_file())
    licenses = [p for p in on_disk if p.name in ("LICENSE", "NOTICE")]
    # The other name no reader claims: a WARC renamed with a `.bad` suffix.
    unknown = licenses + [p for p in on_disk if p.suffix == ".bad"]
    assert len(licenses) >= 5
    assert _stat(corpus, "ingest", "files.skipped_unknown_format") == len(unknown)
    read = {r["input_uri"] for r in corpus["tables"]["ledger"]}
    assert read == {p.resolve().as_uri() for p in on_disk if p not in unknown}
    assert all(r["status"] == "done" for r in corpus["tables"]["ledger"])
    assert _stat(corpus, "ingest", "files.read") == len(read)


def test_records_read_equal_documents_plus_dropped(corpus: dict) -> None:
    tables = corpus["tables"]
    records_read = sum(r["records_read"] for r in tables["ledger"])
    assert records_read == len(tables["documents"]) + len(tables["dropped"])
    assert records_read == _stat(corpus, "ingest", "records.read")
    per_file = collections.Counter(r["source_uri"] for r in tables["documents"] + tables["dropped"])
    assert per_file == collections.Counter({r["input_uri"]: r["records_read"] for r in tables["ledger"]
                                            if r["records_read"]})


def test_warcfile_counts(corpus: dict, warc_dir: Path) -> None:
    types = header_types(warc_dir / "resiliparse/warcfile.warc.gz")
    assert sum(types.values()) == 50
    assert (types["response"], types["request"], types["metadata"], types["warcinfo"]) == (16, 17, 16, 1)
    rows = _rows_by_file(corpus, warc_dir, "resiliparse/warcfile.warc.gz")
    assert len(rows) == sum(types[t] for t in CANDIDATE_TYPES) == 16
    assert len({r["source_offset"] for r in rows}) == 16  # 16 distinct records, none twice


def test_dolma_counts(corpus: dict, warc_dir: Path) -> None:
    path = warc_dir / "dolma/sample-0000.warc.gz"
    types = header_types(path)
    assert sum(types.values()) == 48
    assert len(warcio_html_responses(path)) == 22
    rows = _rows_by_file(corpus, warc_dir, "dolma/sample-0000.warc.gz")
    assert len(rows) == sum(types[t] for t in CANDIDATE_TYPES)
    assert sum(1 for r in rows if r["content_type"] == "text/html") == 22


def test_non_documents_are_counted_in_stats(corpus: dict, warc_dir: Path) -> None:
    # Stats are per run: the expected totals are the header counts of every file the run read.
    expected: collections.Counter = collections.Counter()
    for input_uri in {r["input_uri"] for r in corpus["tables"]["ledger"]}:
        expected += header_types(Path(input_uri.removeprefix("file://")))
    for record_type in NON_CANDIDATE_TYPES:
        assert _stat(corpus, "ingest", f"records.not_document.{record_type}") == expected[record_type], record_type


def test_every_html_response_is_a_document_or_a_dropped_row(corpus: dict, warc_dir: Path) -> None:
    tables = corpus["tables"]
    kept_ids = {(r["source_uri"], r["source_id"]) for r in tables["documents"]}
    dropped = {(r["source_uri"], r["source_id"]): r for r in tables["dropped"]}
    for name, stated in REAL_CRAWLS.items():
        uri = f"file://{(warc_dir / name).resolve()}"
        responses = warcio_html_responses(warc_dir / name)
        assert stated is None or len(responses) == stated, name
        assert responses, name
        for record_id in responses:
            key = (uri, record_id)
            if key in kept_ids:
                continue
            assert key in dropped, (name, record_id)
            row = dropped[key]
            assert row["drop_stage"] and row["drop_reason"], (name, record_id)


def test_chinese_pages_are_readable_chinese(corpus: dict, warc_dir: Path) -> None:
    raw = decompressed(warc_dir / "resiliparse/warcfile.warc.gz")
    rows = {r["url"]: r for r in _rows_by_file(corpus, warc_dir, "resiliparse/warcfile.warc.gz")}
    documents = {r["doc_id"]: r for r in corpus["tables"]["documents"]}
    for url, phrase in CHINESE_PAGES.items():
        assert phrase.encode("utf-8") in raw or phrase.encode("gb18030") in raw, url
        row = rows[url]
        if row.get("drop_reason") is not None:
            # Only dedup may remove a real page (warcfile.warc and .lz4 hold the same pages):
            # then the copy that was kept carries the text.
            assert row["drop_reason"] == "dedup.exact_duplicate", (url, row["drop_reason"])
            row = documents[row["detail"]]
        text = row["text"]
        assert phrase in text, url
        assert sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= 10, url
        assert not any(marker in text for marker in MOJIBAKE_MARKERS), url


def test_second_run_adds_nothing(corpus: dict) -> None:
    done_before = len(corpus["tables"]["ledger"])
    assert re.search(rf": 0 files read, {done_before} already done", corpus["second_log"]), corpus["second_log"][-2000:]
    for name in ("documents", "dropped"):
        assert _version(corpus["output"] / name) == corpus["versions"][name]
    documents = read_delta(corpus["output"] / "documents").to_pylist()
    assert len(documents) == len(corpus["tables"]["documents"])
    assert {r["doc_id"] for r in documents} == {r["doc_id"] for r in corpus["tables"]["documents"]}
