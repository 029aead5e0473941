"""Truncated and corrupt compressed inputs: every record before the damage, then one
`ingest.unreadable` row with the byte offset where reading stopped (DESIGN.md, "Record").

The files are real compressed files written here with each codec's own library, then cut or
damaged; they are read through `read_file`, the function each Spark ingest task runs.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import zlib

import lz4.frame
import pytest
import zstandard

from corpusforge.ingest.base import IngestOptions
from corpusforge.ingest.compressed import PIECE_BYTES, DamagedInput, DecompressingReader
from corpusforge.ingest.files import read_file
from corpusforge.ingest.uris import local_uri

N_RECORDS = 2000


def _sentence(i: int) -> str:
    # Varied text, so the compressed file has many blocks and truncation lands mid-stream.
    words = [f"w{(i * 7919 + k * 104729) % 100003:x}" for k in range(30)]
    return f"record {i}: " + " ".join(words)


SENTENCES = [_sentence(i) for i in range(N_RECORDS)]
# Line-based formats: the file's bytes, and the text each record carries.
FORMATS = {
    "jsonl": ("".join(json.dumps({"text": s}) + "\n" for s in SENTENCES).encode(), IngestOptions()),
    "csv": ("text,label\n" + "".join(f'"{s}, quoted",pos\n' for s in SENTENCES)).encode(),
    "tsv": ("text\tlabel\n" + "".join(f"{s}\tneg\n" for s in SENTENCES)).encode(),
    "text": "".join(s + "\n" for s in SENTENCES).encode(),
}
OPTIONS = {"jsonl": IngestOptions(), "csv": IngestOptions(label_field="label"),
           "tsv": IngestOptions(label_field="label"), "text": IngestOptions(text_unit="line")}
EXPECTED_TEXT = {"jsonl": SENTENCES, "csv": [f"{s}, quoted" for s in SENTENCES],
                 "tsv": SENTENCES, "text": SENTENCES}
COMPRESSORS = {
    ".gz": lambda data: gzip.compress(data, mtime=0),
    ".zst": lambda data: zstandard.ZstdCompressor(write_checksum=True).compress(data),
    ".lz4": lambda data: lz4.frame.compress(data, content_checksum=True),
    ".bz2": lambda data: bz2.compress(data, compresslevel=1),
}
# What the codec's own one-shot decoder gets out of a cut file: the bytes that can be had.
PREFIX_DECODERS = {
    ".gz": lambda cut: zlib.decompressobj(wbits=31).decompress(cut),
    ".zst": lambda cut: zstandard.ZstdDecompressor().decompressobj().decompress(cut),
    ".lz4": lambda cut: lz4.frame.LZ4FrameDecompressor().decompress(cut),
    ".bz2": lambda cut: bz2.BZ2Decompressor().decompress(cut),
}


def _payload(fmt: str) -> bytes:
    value = FORMATS[fmt]
    return value[0] if isinstance(value, tuple) else value


def _read(path) -> list:
    fmt = {"jsonl": "jsonl", "csv": "csv", "tsv": "tsv", "txt": "text"}[path.name.split(".")[1]]
    return list(read_file(local_uri(str(path)), fmt, OPTIONS["text" if fmt == "text" else fmt]))


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_truncated_file_yields_every_record_before_the_cut(tmp_path, fmt: str, suffix: str) -> None:
    compressed = COMPRESSORS[suffix](_payload(fmt))
    cut = compressed[: len(compressed) * 2 // 3]
    path = tmp_path / f"part.{'txt' if fmt == 'text' else fmt}{suffix}"
    path.write_bytes(cut)

    records = _read(path)
    *kept, last = records
    # The complete records of the decodable prefix, in order, none altered, none dropped.
    readable = PREFIX_DECODERS[suffix](cut)
    complete_lines = readable.count(b"\n") - (0 if fmt in ("jsonl", "text") else 1)  # CSV/TSV header
    assert len(kept) == complete_lines > N_RECORDS // 4, (fmt, suffix)
    assert [r.text for r in kept] == EXPECTED_TEXT[fmt][: len(kept)]
    assert all(r.drop_reason is None for r in kept)
    # Then one unreadable row: where reading stopped is the end of the cut file.
    assert last.drop_reason == "ingest.unreadable" and last.source_offset == len(cut)
    assert f"after {len(kept)} records" in last.detail and "truncated" in last.detail


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_corrupt_bytes_keep_the_records_before_them_and_end_in_one_unreadable_row(tmp_path, suffix: str) -> None:
    payload = _payload("jsonl")
    compressed = bytearray(COMPRESSORS[suffix](payload))
    damage_at = len(compressed) // 2
    compressed[damage_at: damage_at + 64] = bytes(64)  # 64 zero bytes in mid-stream
    path = tmp_path / f"part.jsonl{suffix}"
    path.write_bytes(bytes(compressed))

    *kept, last = _read(path)
    assert last.drop_reason == "ingest.unreadable", suffix
    assert all(r.drop_reason != "ingest.unreadable" for r in kept)
    # Reading stops at the byte where the codec notices: in the bad bytes, or (gzip, lz4) as
    # late as the checksum at the end of the stream -- never before the damage.
    assert damage_at <= last.source_offset <= len(compressed), suffix
    # Every record wholly before the damage is there, intact and in order.
    before = PREFIX_DECODERS[suffix](bytes(compressed[:damage_at])).count(b"\n")
    assert before > N_RECORDS // 5
    assert [r.text for r in kept[:before]] == SENTENCES[:before]


def test_intact_multi_member_files_read_whole(tmp_path) -> None:
    # `cat a.gz b.gz` and `zstd` multi-frame files are legal: every member is read.
    data = _payload("jsonl")
    half = len(data) // 2
    half = data.index(b"\n", half) + 1
    for suffix, compress in COMPRESSORS.items():
        path = tmp_path / f"two.jsonl{suffix}"
        path.write_bytes(compress(data[:half]) + compress(data[half:]))
        records = _read(path)
        assert [r.text for r in records] == SENTENCES, suffix


def test_zero_padding_after_the_last_gzip_member_is_not_damage(tmp_path) -> None:
    path = tmp_path / "padded.jsonl.gz"
    path.write_bytes(gzip.compress(_payload("jsonl")) + bytes(3 * PIECE_BYTES + 5))
    assert [r.text for r in _read(path)] == SENTENCES


def test_garbage_after_the_last_member_is_one_unreadable_row_at_its_offset(tmp_path) -> None:
    whole = gzip.compress(_payload("jsonl"))
    path = tmp_path / "tail.jsonl.gz"
    path.write_bytes(whole + b"this is not gzip")
    *kept, last = _read(path)
    assert [r.text for r in kept] == SENTENCES
    # Reading stops in the header the decoder rejects: at most its few bytes in.
    assert last.drop_reason == "ingest.unreadable" and len(whole) <= last.source_offset < len(whole) + 10


def test_the_reader_raises_only_after_handing_over_what_it_decoded() -> None:
    data = b"".join(b"%d\n" % i for i in range(100_000))
    cut = gzip.compress(data)[:-100]
    raw = DecompressingReader(io.BytesIO(cut), "gzip")
    got = bytearray()
    buffer = bytearray(1000)
    with pytest.raises(DamagedInput) as damage:
        while size := raw.readinto(buffer):
            got += buffer[:size]
    assert bytes(got) == zlib.decompressobj(wbits=31).decompress(cut) and data.startswith(bytes(got))
    assert damage.value.offset == len(cut) and damage.value.decoded == len(got)


def test_tsv_rows_split_on_tabs_not_commas(tmp_path) -> None:
    # The shape of the defect: a TSV read as CSV made every row ingest.missing_column.
    path = tmp_path / "news.tsv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, dialect="excel-tab")
        writer.writerow(["label", "text"])
        writer.writerow(["positive", "Profit rose, the company said."])
        writer.writerow(["neutral", 'A "quoted"\ttab and a\nnew line.'])
    from corpusforge.ingest.plan import plan_inputs

    (input_file,) = plan_inputs([str(path)], None, IngestOptions()).files
    assert input_file.format == "tsv"
    records = list(read_file(input_file.uri, "tsv", IngestOptions(label_field="label")))
    assert [(r.label, r.text, r.drop_reason, r.record_type) for r in records] == [
        ("positive", "Profit rose, the company said.", None, "tsv"),
        ("neutral", 'A "quoted"\ttab and a\nnew line.', None, "tsv")]
    # The same file read as CSV has no "text" column: the rule that remains for a real CSV.
    as_csv = list(read_file(input_file.uri, "csv", IngestOptions(label_field="label")))
    assert {r.drop_reason for r in as_csv} == {"ingest.missing_column"}
