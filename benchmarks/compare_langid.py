"""Compare the two language-ID backends on the real pages of ../shared/data/warc: speed and agreement.

    .venv/bin/python benchmarks/compare_langid.py [--repeat 5] [--prefix-chars 2000]

Every HTML response of every WARC under the data directory is decoded (resiliparse's encoding
detection, so the GBK/GB2312 and cp1251 pages read right), extracted with resiliparse's
main-content text extraction and normalized; each backend then identifies every page
`--repeat` times (one core, one process). Prints docs/s per backend, the agreement rate, and
every page on which the two disagree.
"""
from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding

from corpusforge.text.langid import LangIdParams, detect_language
from corpusforge.text.normalize import normalize_text

DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "warc"


def load_pages(data_dir: Path) -> list[tuple[str, str, str]]:
    """(file, target URI, normalized text) of every non-empty HTML response under `data_dir`."""
    pages = []
    for path in sorted(data_dir.rglob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True):
                content_type = (record.http_content_type or "").lower()
                if "html" not in content_type:
                    continue
                body = record.reader.read()
                text = normalize_text(extract_plain_text(bytes_to_str(body, detect_encoding(body)), main_content=True))
                if text:
                    pages.append((path.relative_to(data_dir).as_posix(), record.headers.get("WARC-Target-URI", ""), text))
    return pages


def time_backend(texts: list[str], params: LangIdParams, repeat: int) -> tuple[list[tuple[str | None, float]], float]:
    detect_language("warm up the model and profiles", params)  # load time is not per-document cost
    start = time.perf_counter()
    for _ in range(repeat):
        results = [detect_language(text, params) for text in texts]
    elapsed = time.perf_counter() - start
    return results, len(texts) * repeat / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--prefix-chars", type=int, default=LangIdParams().prefix_chars)
    args = parser.parse_args()

    pages = load_pages(args.data_dir)
    texts = [text for _, _, text in pages]
    mean_chars = sum(min(len(t), args.prefix_chars) for t in texts) / max(len(texts), 1)
    print(f"{len(pages)} HTML pages from {args.data_dir}, mean prefix {mean_chars:.0f} chars")

    results = {}
    for backend in ("langdetect", "fasttext"):
        params = LangIdParams(backend=backend, prefix_chars=args.prefix_chars)
        results[backend], docs_per_s = time_backend(texts, params, args.repeat)
        langs = Counter(lang for lang, _ in results[backend])
        print(f"{backend:>10}: {docs_per_s:8.0f} docs/s  languages {dict(langs.most_common())}")

    agree = [a[0] == b[0] for a, b in zip(results["langdetect"], results["fasttext"])]
    print(f"agreement: {sum(agree)}/{len(agree)} = {sum(agree) / max(len(agree), 1):.1%}")
    for (file, uri, text), (ld, ft), same in zip(pages, zip(results["langdetect"], results["fasttext"]), agree):
        if not same:
            print(f"  differ: {file} {uri[:60]} langdetect={ld[0]}({ld[1]:.2f}) fasttext={ft[0]}({ft[1]:.2f})"
                  f" text={text[:60]!r}")


if __name__ == "__main__":
    main()
