"""read_warc / read_arc on every file of tests/data/warc, plus generated damage cases.

Expected type counts are computed independently of the reader: by counting `WARC-Type:`
header lines in the decompressed bytes, and (where it can read the file) with warcio's own
iterator. What each file must yield (kept / non-candidates / drops by reason) is stated
per file below with the reason for the decision.
"""
from __future__ import annotations

import collections
import gzip
import io
import re
import time
import zlib
from html.entities import codepoint2name
from pathlib import Path

import lz4.frame
import pytest

from corpusforge.ingest.base import IngestOptions, Record
from corpusforge.ingest.warc import clean_target_uri, parse_warc_date, read_arc, read_warc

ROOT = Path(__file__).resolve().parents[2]
WARC_DIR = ROOT / "tests" / "data" / "warc"


def outcome(records: list[Record]) -> tuple[int, dict[str, int], dict[str, int]]:
    """(kept documents, non-candidates by type, dropped by reason)."""
    kept = sum(1 for r in records if r.candidate and r.drop_reason is None)
    non_candidates = collections.Counter(r.record_type for r in records if not r.candidate)
    drops = collections.Counter(r.drop_reason for r in records if r.drop_reason)
    return kept, dict(non_candidates), dict(drops)


def read(path: Path, **options: object) -> list[Record]:
    opts = IngestOptions(**options)  # type: ignore[arg-type]
    with open(path, "rb") as stream:
        reader = read_arc if ".arc" in path.name else read_warc
        return list(reader(stream, opts))


def decompressed(path: Path) -> bytes:
    """The file's bytes with gzip members / lz4 frames undone, tolerating a clipped end."""
    data = path.read_bytes()
    if data.startswith(b"\x04\x22\x4d\x18"):
        frames, rest = [], data  # one lz4 frame per record
        while rest:
            decompressor = lz4.frame.LZ4FrameDecompressor()
            frames.append(decompressor.decompress(rest))
            rest = decompressor.unused_data
        return b"".join(frames)
    if not data.startswith(b"\x1f\x8b"):
        return data
    out, rest = [], data
    while rest.startswith(b"\x1f\x8b"):
        decompressor = zlib.decompressobj(31)
        out.append(decompressor.decompress(rest))
        if not decompressor.eof:
            break  # clipped member: keep what decompressed
        rest = decompressor.unused_data
    return b"".join(out)


def grep_types(path: Path) -> dict[str, int]:
    """WARC-Type header lines right after a WARC/1.x version line's header block."""
    headers = re.findall(rb"WARC/\d\.\d+\r\n(?:[^\r\n]+\r\n)*?WARC-Type: (\w+)\r\n", decompressed(path))
    return dict(collections.Counter(value.decode() for value in headers))


def warcio_types(path: Path) -> dict[str, int]:
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as stream:
        return dict(collections.Counter(r.rec_type for r in ArchiveIterator(stream, arc2warc=True)))


def types_seen(records: list[Record]) -> dict[str, int]:
    return dict(collections.Counter(r.record_type for r in records if r.record_type != "unreadable"))


# file → (kept, non-candidates by type, drops by reason); intact files first.
INTACT = {
    "dolma/sample-0000.warc.gz": (24, {"warcinfo": 1, "request": 22, "metadata": 1}, {}),  # 22 HTML + 2 wget text resources
    "dolma/sample-0001.warc.gz": (17, {"warcinfo": 1, "request": 15, "metadata": 1}, {}),
    "jwarc/cc.warc.gz": (1, {}, {}),
    "jwarc/gzip_extra_sl.warc.gz": (0, {"warcinfo": 1}, {}),  # gzip FEXTRA header is read
    "resiliparse/warcfile.warc": (16, {"warcinfo": 1, "request": 17, "metadata": 16}, {}),
    "resiliparse/warcfile.warc.gz": (16, {"warcinfo": 1, "request": 17, "metadata": 16}, {}),
    "resiliparse/warcfile.warc.lz4": (16, {"warcinfo": 1, "request": 17, "metadata": 16}, {}),
    "resiliparse/block-sized-records.warc": (0, {"unknown": 3}, {}),  # WARC-Type: unknown → counted only
    "resiliparse/block-sized-records.warc.gz": (0, {"unknown": 3}, {}),
    "resiliparse/block-sized-records.warc.lz4": (0, {"unknown": 3}, {}),
    "resiliparse/clueweb-quirk.warc.gz": (29, {"warcinfo": 1}, {}),  # malformed dates are not drops
    "warcio/example.warc": (1, {"warcinfo": 2, "request": 2, "revisit": 1}, {}),
    "warcio/example.warc.gz": (1, {"warcinfo": 2, "request": 2, "revisit": 1}, {}),
    "warcio/example-digest.warc": (0, {"request": 4}, {}),  # digests are not verified
    "warcio/example-iana.org-chunked.warc": (1, {"warcinfo": 1, "request": 1}, {}),  # chunked body undone
    "warcio/example-resource.warc.gz": (1, {"warcinfo": 2}, {}),  # text/html resource → document
    "warcio/example-space-in-target-uri.warc.gz": (0, {"warcinfo": 1}, {"ingest.not_text": 1}),  # image/png
    "warcio/example-wget-bad-target-uri.warc.gz": (3, {"warcinfo": 1, "request": 1, "metadata": 1}, {}),
    "warcio/post-test.warc.gz": (0, {"request": 3}, {"ingest.not_text": 3}),  # application/json answers
    "whirlwind/whirlwind.warc": (1, {"warcinfo": 1, "request": 1, "metadata": 1}, {}),
    "whirlwind/whirlwind.warc.gz": (1, {"warcinfo": 1, "request": 1, "metadata": 1}, {}),
    "whirlwind/whirlwind.warc.wat": (0, {"warcinfo": 1, "metadata": 1}, {}),
    "whirlwind/whirlwind.warc.wat.gz": (0, {"warcinfo": 1, "metadata": 1}, {}),
    "whirlwind/whirlwind.warc.wet": (1, {"warcinfo": 1}, {}),  # conversion record is text already
    "whirlwind/whirlwind.warc.wet.gz": (1, {"warcinfo": 1}, {}),
    "warcio/example.arc": (1, {"warcinfo": 1}, {}),  # ARC filedesc → warcinfo
    "warcio/example.arc.gz": (1, {"warcinfo": 1}, {}),
}

DAMAGED = {
    # One gzip member for the whole file: the records are intact, FastWARC reads all 6.
    "warcio/example-bad-non-chunked.warc.gz": (1, {"warcinfo": 2, "request": 2, "revisit": 1}, {}),
    # Same layout; its second response is an HTTP 302 redirect.
    "warcio/example-bad.warc.gz.bad": (1, {"warcinfo": 1, "request": 2, "revisit": 1}, {"ingest.http_status": 1}),
    # Gzip members not aligned to records: the decompressed stream is still valid WARC.
    "warcio/example-wrong-chunks.warc.gz": (1, {"request": 1}, {}),
    # A Content-Length 2 bytes short: the response reads, 2 stray bytes are reported and
    # skipped, and the request after them is read.
    "warcio/example-trunc.warc": (1, {"warcinfo": 2, "request": 1}, {"ingest.unreadable": 1}),
    # Gzip cut inside the only record: fewer bytes than its Content-Length.
    "resiliparse/clipped.warc.gz": (0, {}, {"ingest.truncated_record": 1}),
    # ARC with bad lengths: three URL records with empty (0/1-byte) payloads.
    "warcio/bad.arc": (0, {"warcinfo": 1}, {"ingest.no_text": 3}),
    # ARC whose record length counts CRLFs the file no longer has: the data ends early.
    "warcio/example-space-in-url.arc": (0, {"warcinfo": 1}, {"ingest.truncated_record": 1}),
}


def test_every_sample_file_has_an_expectation() -> None:
    on_disk = {
        str(path.relative_to(WARC_DIR)) for path in WARC_DIR.rglob("*")
        if path.is_file() and path.name not in ("LICENSE", "NOTICE")
    }
    assert on_disk == set(INTACT) | set(DAMAGED)


@pytest.mark.parametrize("name", sorted(INTACT))
def test_intact_file_yields_what_it_holds(name: str) -> None:
    path = WARC_DIR / name
    records = read(path)
    assert outcome(records) == INTACT[name]
    if ".arc" in name:
        assert types_seen(records) == warcio_types(path)
    else:
        # Independent counts: header lines in the bytes, and warcio where it reads lz4 too.
        assert types_seen(records) == grep_types(path)
        if not name.endswith(".lz4"):
            assert types_seen(records) == warcio_types(path)
    locators = [r.locator for r in records]
    assert len(set(locators)) == len(locators)


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_file_yields_what_was_decided(name: str) -> None:
    records = read(WARC_DIR / name)
    assert outcome(records) == DAMAGED[name]
    locators = [r.locator for r in records]
    assert len(set(locators)) == len(locators)


def test_damaged_files_keep_every_record_header_we_can_count() -> None:
    # The whole-file gzip holds 6 WARC headers; nothing of it is lost.
    path = WARC_DIR / "warcio/example-bad-non-chunked.warc.gz"
    assert sum(grep_types(path).values()) == len(read(path)) == 6
    # example-trunc: 4 headers in the bytes, 4 records + 1 report of the skipped bytes.
    trunc = read(WARC_DIR / "warcio/example-trunc.warc")
    assert sum(grep_types(WARC_DIR / "warcio/example-trunc.warc").values()) == 4
    unreadable = [r for r in trunc if r.drop_reason == "ingest.unreadable"]
    assert unreadable[0].source_offset == 2564
    assert "resumed at offset 2566" in unreadable[0].detail
    assert [r.source_offset for r in trunc][-1] == 2566


def test_warcio_backend_on_the_named_files() -> None:
    assert outcome(read(WARC_DIR / "resiliparse/warcfile.warc.gz", warc_reader="warcio")) == INTACT[
        "resiliparse/warcfile.warc.gz"
    ]
    # warcio refuses whole-file gzip after the first record: one unreadable row, not a crash.
    kept, non_candidates, drops = outcome(read(WARC_DIR / "warcio/example-bad-non-chunked.warc.gz", warc_reader="warcio"))
    assert (kept, non_candidates, drops) == (0, {"warcinfo": 1}, {"ingest.unreadable": 1})
    # warcio cannot read lz4 at all.
    assert outcome(read(WARC_DIR / "resiliparse/warcfile.warc.lz4", warc_reader="warcio")) == (
        0, {}, {"ingest.unreadable": 1}
    )


def test_backends_agree_on_documents() -> None:
    path = WARC_DIR / "dolma/sample-0000.warc.gz"
    fast = [(r.locator, r.url, r.text) for r in read(path)]
    slow = [(r.locator, r.url, r.text) for r in read(path, warc_reader="warcio")]
    assert fast == slow


def test_named_acceptance_counts() -> None:
    records = read(WARC_DIR / "resiliparse/warcfile.warc.gz")
    assert len(records) == 50
    responses = [r for r in records if r.record_type == "response"]
    assert len(responses) == 16 and all(r.candidate for r in responses)
    dolma = read(WARC_DIR / "dolma/sample-0000.warc.gz")
    assert len(dolma) == 48
    html = [r for r in dolma if r.record_type == "response" and r.content_type == "text/html"]
    assert len(html) == 22 and all(r.text for r in html)


# url → a phrase from the page body (read from the raw HTML by eye, in its own charset).
CHINESE_PAGES = {
    "http://003338.cn/l41/481397.html": "广东省人民政府首页",
    "http://035.psb556.com/24/i/u_1090813/article.html": "网上车市",
    "http://041696.com/15477/list_6_4.html": "企业公告",
    "http://044545.com/topic/20200207/015849.html": "好消息",
    "http://0513mt.com/index.php/art/detail/id/8884.html": "我女友的女友",
    "http://05925.net/index.php/vod/type/id/53.html": "您的位置",
    "http://0615235.com/02mjqjo%7Bibotij2.btq?odmbtt=106&tdmbtt=121": "产品搜索",
    "http://0755krk.com/76104/list_4_1.html": "博文资讯",
    "http://0760.jxtdw.com/area/sanxiang/": "中山英才网热线",
    "http://077678u.info/erxiaoshujinguang/list_6_2.html": "二肖输尽光",
    "http://096355.com/video/11073.html?11073-0-2": "您的位置",
}


def test_chinese_pages_come_out_as_chinese() -> None:
    by_url = {r.url: r for r in read(WARC_DIR / "resiliparse/warcfile.warc.gz") if r.record_type == "response"}
    raw = decompressed(WARC_DIR / "resiliparse/warcfile.warc.gz")
    gbk_pages = 0
    for url, phrase in CHINESE_PAGES.items():
        record = by_url[url]
        assert record.drop_reason is None, url
        assert phrase in record.text, url
        # The phrase really is in the page bytes in the charset we decoded with.
        assert phrase.encode(record.metadata["charset"]) in raw, url
        gbk_pages += record.metadata["charset"] == "gb18030"
        cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in record.text)
        assert cjk >= 10, url
        assert "\ufffd\ufffd" not in record.text
        assert "ä¸" not in record.text  # UTF-8 Chinese read as Latin-1
        for marker in ("Ã", "å"):
            # Only where the page itself has it (044545.com writes "781&Atilde;" in its HTML).
            in_page = marker.encode(record.metadata["charset"]) in raw or f"&{codepoint2name[ord(marker)]};".encode() in raw
            assert marker not in record.text or in_page, url
    assert gbk_pages == 5


def test_clueweb_quirks_euc_jp_and_bad_dates() -> None:
    records = [r for r in read(WARC_DIR / "resiliparse/clueweb-quirk.warc.gz") if r.candidate]
    assert all(r.crawl_ts is None for r in records)  # "2008-10-294T05:21:46-0700"
    assert all(r.metadata["charset"] == "euc_jp" and "吉田カバン" in r.text for r in records)


def test_record_metadata() -> None:
    records = read(WARC_DIR / "warcio/example.warc.gz")
    response = next(r for r in records if r.record_type == "response")
    assert response.url == "http://example.com/"
    assert response.crawl_ts is not None and response.crawl_ts.isoformat() == "2017-03-06T04:02:06+00:00"
    assert response.content_type == "text/html"
    assert response.source_id and response.source_id.startswith("<urn:uuid:")
    assert response.source_offset == 784 and response.locator == "784"
    assert response.text.startswith("Example Domain")
    png = read(WARC_DIR / "warcio/example-space-in-target-uri.warc.gz")[-1]
    assert png.url == "file:///example%20with%20spaces.png"


def test_metadata_helpers() -> None:
    assert parse_warc_date("2024-04-25T16:24:44Z").isoformat() == "2024-04-25T16:24:44+00:00"
    assert parse_warc_date("2024-04-25T18:24:44+02:00").hour == 16
    assert parse_warc_date("20140216050221").year == 2014
    assert parse_warc_date("not a date") is None
    assert clean_target_uri("<http://a.b/>") == "http://a.b/"


# ------------------------------------------------------------------ generated cases


def warc_record(warc_type: str, block: bytes, content_type: str = "application/http; msgtype=response") -> bytes:
    head = (
        f"WARC/1.1\r\nWARC-Type: {warc_type}\r\nWARC-Record-ID: <urn:uuid:{len(block)}-{warc_type}>\r\n"
        f"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Target-URI: http://x.test/\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(block)}\r\n\r\n"
    ).encode()
    return head + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str = "text/html; charset=utf-8") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n\r\n".encode() + body


def read_bytes(data: bytes, **options: object) -> list[Record]:
    return list(read_warc(io.BytesIO(data), IngestOptions(**options)))  # type: ignore[arg-type]


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.warc.gz").write_bytes(b"")
    with open(tmp_path / "empty.warc.gz", "rb") as stream:
        assert list(read_warc(stream, IngestOptions())) == []


def test_binary_file_named_warc_gz_is_one_unreadable_row(tmp_path: Path) -> None:
    path = tmp_path / "random.warc.gz"
    path.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(50_000)))
    records = read(path)
    assert outcome(records) == (0, {}, {"ingest.unreadable": 1})
    assert records[0].source_offset == 0


def test_garbage_between_gzip_members_is_skipped_and_reported() -> None:
    page = http_response(b"<html><body><p>A page about nothing in particular.</p></body></html>")
    member = gzip.compress(warc_record("response", page))
    data = member + b"GARBAGE" * 100 + member
    records = read_bytes(data)
    assert outcome(records) == (2, {}, {"ingest.unreadable": 1})
    assert records[1].source_offset == len(member)
    assert records[2].source_offset == len(member) + 700


def test_truncated_record_is_dropped_with_reason() -> None:
    page = http_response(b"<html><body><p>" + b"long text " * 500 + b"</p></body></html>")
    whole = warc_record("response", page)
    records = read_bytes(whole[: len(whole) // 2])
    assert outcome(records) == (0, {}, {"ingest.truncated_record": 1})


def test_gzip_content_encoding_and_meta_charset() -> None:
    html = "<html><head><meta charset='gb2312'></head><body><p>这是一个中文网页的正文内容。</p></body></html>"
    body = gzip.compress(html.encode("gb18030"))
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n" + body
    (record,) = read_bytes(warc_record("response", block))
    assert record.text == "这是一个中文网页的正文内容。"
    assert record.metadata["charset_source"] == "meta"


def test_content_type_rules() -> None:
    pdf = warc_record("response", http_response(b"%PDF-1.4 ...", "application/pdf"))
    text_resource = warc_record("resource", b"Plain words here.", "text/plain")
    css_resource = warc_record("resource", b"body { color: red }", "text/css")
    empty_page = warc_record("response", http_response(b"<html><body></body></html>"))
    records = read_bytes(pdf + text_resource + css_resource + empty_page)
    assert [r.drop_reason for r in records] == ["ingest.not_text", None, "ingest.not_text", "ingest.no_text"]
    assert records[1].text == "Plain words here."


def test_undecodable_payload() -> None:
    # Bytes no charset decodes cleanly and detection cannot place.
    body = b"<html>" + bytes(range(0x80, 0x100)) * 40
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body
    (record,) = read_bytes(warc_record("response", block))
    assert record.drop_reason == "ingest.undecodable"


def test_non_seekable_stream_still_reads() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            chunk = self._inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    data = (WARC_DIR / "warcio/example.warc.gz").read_bytes()
    records = list(read_warc(Pipe(data), IngestOptions()))  # type: ignore[arg-type]
    assert outcome(records) == INTACT["warcio/example.warc.gz"]


def test_100mb_record_is_capped_then_kept_when_cap_raised(tmp_path: Path) -> None:
    size = 100 * 1024 * 1024
    path = tmp_path / "big.warc"
    head = (
        "WARC/1.1\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:big>\r\n"
        "WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Target-URI: http://big.test/\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    line = b"all work and no play makes a very long document\n"
    with open(path, "wb") as out:
        out.write(head)
        chunk = line * (4 * 1024 * 1024 // len(line))
        written = 0
        while written < size:
            piece = chunk[: size - written]
            out.write(piece)
            written += len(piece)
        out.write(b"\r\n\r\n")
        out.write(warc_record("resource", b"small after big", "text/plain"))
    started = time.monotonic()
    records = read(path)
    assert outcome(records) == (1, {}, {"ingest.too_large": 1})
    assert records[0].text is None and records[1].text == "small after big"
    records = read(path, max_record_bytes=200 * 1024 * 1024)
    assert outcome(records) == (2, {}, {})
    assert size - len(line) <= len(records[0].text) <= size  # all of it, less trailing whitespace
    assert records[0].text.startswith("all work")
    assert time.monotonic() - started < 20
