"""Build a corpus: `spark-submit jobs/build_corpus.py --input DATA --output OUT` (see --help).

The job is a thin entry point; the pipeline lives in the corpusforge package.
"""
import sys

from corpusforge.cli import main

if __name__ == "__main__":
    sys.exit(main())
