"""Compact and vacuum a corpus output: `spark-submit jobs/maintain.py --output OUT [--zorder]`.

Run it daily or weekly beside the hourly builds (examples/). VACUUM keeps every file a
registered pin still needs (corpusforge.tables.pins). Exit codes: 0 done, 1 failed, 2 usage.
"""
import argparse
import logging
import sys

from corpusforge.errors import CorpusforgeError

if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="maintain.py", description=__doc__.splitlines()[0])
    p.add_argument("--output", required=True, metavar="DIR", help="output root of the corpus runs")
    p.add_argument("--table", action="append", default=[], help="table to maintain (repeatable; default: all)")
    p.add_argument("--retention-hours", type=float, default=168.0,
                   help="VACUUM retention (default 168, Delta's); raised to the age of the oldest pin")
    p.add_argument("--zorder", action="store_true", help="Z-order documents and tokens by doc_id (rewrites them)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from corpusforge.session import get_session
        from corpusforge.tables.maintain import MaintainParams, maintain_output

        params = MaintainParams(retention_hours=args.retention_hours, zorder=args.zorder, tables=tuple(args.table))
        for t in maintain_output(get_session("maintain"), args.output, params):
            print(f"{t.table}: {t.files_before} files -> {t.files_live} live, {t.files_after} on disk "
                  f"(retention {t.retention_hours:.2f} h{', pin ' + t.held_by_pin if t.held_by_pin else ''})")
    except CorpusforgeError as err:
        print(f"maintain: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)

