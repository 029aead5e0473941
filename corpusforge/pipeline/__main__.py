"""`python -m corpusforge.pipeline`: the build_corpus command line (pipeline/cli.py)."""
import sys

from corpusforge.pipeline.cli import main

sys.exit(main())
