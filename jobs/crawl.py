"""Crawl: `spark-submit jobs/crawl.py --seeds FILE --output DIR [--rounds N] [--config crawl.toml]
[--set crawl.KEY=VALUE]` (see --help). Then `jobs/build_corpus.py --input DIR/warc` reads it.

The job is a thin entry point; the crawler lives in corpusforge.crawl.
"""
import sys

from corpusforge.crawl.cli import main

if __name__ == "__main__":
    sys.exit(main())
