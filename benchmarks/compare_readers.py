"""Compare WARC readers (FastWARC vs warcio) and HTML extractors (resiliparse vs trafilatura).

Run: .venv/bin/python benchmarks/compare_readers.py [--repeat N]
Reads the shared samples (../shared/data/warc); prints MB/s and records/s per reader
(iteration + reading every block, one core) and MB/s, pages/s and mean output length per
extractor (on the decoded HTML of the samples' 200-responses).
"""
from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

from corpusforge.ingest.base import IngestOptions
from corpusforge.ingest.html import decode_html, html_to_text
from corpusforge.ingest.warc import _BACKENDS, _ForwardReader, _read_payload

ROOT = Path(__file__).resolve().parents[1]
WARC_DIR = ROOT.parent / "shared" / "data" / "warc"
SAMPLES = [
    "resiliparse/warcfile.warc.gz",
    "resiliparse/warcfile.warc",
    "resiliparse/clueweb-quirk.warc.gz",
    "dolma/sample-0000.warc.gz",
    "dolma/sample-0001.warc.gz",
    "whirlwind/whirlwind.warc.gz",
]


def iterate(backend_name: str, data: bytes) -> int:
    """Records seen, reading every block to its end (what the ingest stage must do)."""
    count = 0
    for raw in _BACKENDS[backend_name](_ForwardReader(io.BytesIO(data), 0)):
        while raw.block.read(1 << 16):
            pass
        count += 1
    return count


def html_pages(data_by_file: dict[str, bytes]) -> list[str]:
    pages = []
    opts = IngestOptions()
    for data in data_by_file.values():
        for raw in _BACKENDS["fastwarc"](_ForwardReader(io.BytesIO(data), 0)):
            if raw.headers.get("warc-type") != "response":
                continue
            payload = _read_payload(raw, opts, is_http=True)
            if payload.drop_reason or payload.http_status != 200 or "html" not in (payload.content_type or ""):
                continue
            decoded = decode_html(payload.body, payload.content_type)
            if decoded is not None:
                pages.append(decoded.text)
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the samples per reader")
    parser.add_argument("--data", type=Path, default=WARC_DIR, help="folder of the sample WARC files")
    args = parser.parse_args()
    data_by_file = {name: (args.data / name).read_bytes() for name in SAMPLES}
    total_bytes = sum(len(d) for d in data_by_file.values())

    print(f"WARC iteration: {len(SAMPLES)} files, {total_bytes / 1e6:.2f} MB on disk, x{args.repeat}")
    print(f"{'reader':<10} {'MB/s':>8} {'records/s':>10} {'records':>8}")
    for backend_name in ("fastwarc", "warcio"):
        started = time.perf_counter()
        records = 0
        for _ in range(args.repeat):
            for data in data_by_file.values():
                records += iterate(backend_name, data)
        seconds = time.perf_counter() - started
        print(f"{backend_name:<10} {total_bytes * args.repeat / seconds / 1e6:>8.1f} {records / seconds:>10.0f} "
              f"{records // args.repeat:>8}")

    pages = html_pages(data_by_file)
    html_bytes = sum(len(p.encode("utf-8")) for p in pages)
    print(f"\nHTML extraction: {len(pages)} pages, {html_bytes / 1e6:.2f} MB of HTML (UTF-8)")
    print(f"{'extractor':<12} {'MB/s':>8} {'pages/s':>8} {'chars out/page':>15} {'empty':>6}")
    for extractor in ("resiliparse", "trafilatura"):
        html_to_text(pages[0], extractor)  # import and warm up outside the timing
        repeat = max(1, args.repeat // 4)
        started = time.perf_counter()
        for _ in range(repeat):
            texts = [html_to_text(page, extractor) for page in pages]
        seconds = time.perf_counter() - started
        mean_chars = sum(len(t) for t in texts) / len(texts)
        empty = sum(1 for t in texts if not t)
        print(f"{extractor:<12} {html_bytes * repeat / seconds / 1e6:>8.2f} {len(pages) * repeat / seconds:>8.1f} "
              f"{mean_chars:>15.0f} {empty:>6}")


if __name__ == "__main__":
    main()
