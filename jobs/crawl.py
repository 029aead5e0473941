"""Crawl: `spark-submit jobs/crawl.py --seeds FILE --output DIR [--rounds N] [--config crawl.toml]
[--set crawl.KEY=VALUE]` (see --help). Then `jobs/build_corpus.py --input DIR/warc` reads it.

The job is a thin entry point; the crawler lives in corpusforge.crawl.
"""
import sys

try:
    from corpusforge.crawl.cli import main
except ModuleNotFoundError as missing:  # spark-submit started a Python that is not the venv's
    print(f"crawl: error: {sys.executable} cannot import {missing.name}: run from the venv "
          "(source .venv/bin/activate, or PYSPARK_PYTHON=.venv/bin/python) with "
          "SPARK_CONF_DIR=spark-conf/local", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
