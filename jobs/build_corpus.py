"""Build a corpus: `spark-submit jobs/build_corpus.py --input DATA --output OUT` (see --help).

The job is a thin entry point; the command line is corpusforge/pipeline/cli.py (also
`python -m corpusforge`), the run corpusforge/pipeline/run.py.
"""
import sys

from corpusforge.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
