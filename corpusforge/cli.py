"""`python -m corpusforge.cli`: kept so the old module path still runs the command line, which
lives in `corpusforge.pipeline.cli` (also `python -m corpusforge`)."""
import sys

from corpusforge.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
