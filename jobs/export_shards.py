"""Export a pinned Delta version of `tokens`/`packed` as Arrow IPC shards (+ index.json) or Megatron.

    python jobs/export_shards.py --table OUT/tokens --version 3 --out shards/ --split train
    python jobs/export_shards.py --table OUT/tokens --version 3 --out shards/ --megatron   # shards/corpus.bin/.idx

Exit codes: 0 done, 2 bad arguments or table (nothing written). The logic is corpusforge.tokenize.shards.
"""
import argparse
import sys
from pathlib import Path

from corpusforge.errors import CorpusforgeError
from corpusforge.tokenize.shards import ShardParams, export_delta_megatron, export_delta_shards


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", required=True, help="Delta table URI, e.g. OUT/tokens")
    p.add_argument("--version", type=int, required=True, help="Delta version to pin (see the table's history)")
    p.add_argument("--out", required=True, help="output directory (must hold no earlier export)")
    p.add_argument("--split", help="export only rows of this split")
    p.add_argument("--max-bytes", type=int, default=ShardParams().max_bytes, help="Arrow bytes per shard file")
    p.add_argument("--megatron", action="store_true", help="write OUT/corpus.bin + .idx instead of Arrow shards")
    args = p.parse_args(argv)
    try:
        if args.megatron:
            count = export_delta_megatron(args.table, Path(args.out) / "corpus", version=args.version, split=args.split)
            print(f"{count} documents → {args.out}/corpus.bin/.idx (table {args.table} v{args.version})")
        else:
            index = export_delta_shards(args.table, args.out, ShardParams(max_bytes=args.max_bytes),
                                        version=args.version, split=args.split)
            print(f"{index.rows} rows, {index.tokens} tokens in {len(index.files)} files → {args.out} "
                  f"(table v{index.delta_version}, tokenizer {index.tokenizer})")
    except CorpusforgeError as err:
        print(f"export_shards: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
