"""`python -m corpusforge.report OUT [--run-id ID]`: (re)build a run's HTML report, no Spark needed.

Exit codes: 0 written, 2 the output or the run is not there (one line on stderr).
"""
from __future__ import annotations

import argparse
import sys

from corpusforge.errors import CorpusforgeError
from corpusforge.report.html import write_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m corpusforge.report",
                                description="Write <OUT>/_runs/<run_id>/report.html from the run's Delta tables.")
    p.add_argument("output", metavar="OUT", help="the --output root of the runs")
    p.add_argument("--run-id", help="the run to report on (default: the latest finished run)")
    args = p.parse_args(argv)
    try:
        path = write_report(args.output, args.run_id)
    except CorpusforgeError as err:
        print(f"report: error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
