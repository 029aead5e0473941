"""Build a corpus: `spark-submit jobs/build_corpus.py --input DATA --output OUT` (see --help).

The job is a thin entry point; the command line is corpusforge/pipeline/cli.py (also
`python -m corpusforge`), the run corpusforge/pipeline/run.py.
"""
import sys

try:
    from corpusforge.pipeline.cli import main
except ModuleNotFoundError as missing:  # spark-submit started a Python that is not the venv's
    print(f"build_corpus: error: {sys.executable} cannot import {missing.name}: run from the venv "
          "(source .venv/bin/activate, or PYSPARK_PYTHON=.venv/bin/python) with "
          "SPARK_CONF_DIR=spark-conf/local", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
