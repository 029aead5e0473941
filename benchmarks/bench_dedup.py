"""MinHash dedup benchmark: corpusforge's Spark path beside datasketch's MinHashLSH.

Both run on the same dedup keys of a planted corpus (benchmarks/dedup_corpus.py), with the same
shingles (corpusforge.dedup.minhash.shingles), the same permutation coefficients (a, b) and the
same bands (14 × 8 of 112) and the same check of candidates (estimated Jaccard ≥ the S-curve
threshold). Reported per size: docs/s and docs/s per core, peak memory (RSS of the whole process
tree, what the run added to it, and the peaks of the driver Python, the JVM and the Python
workers), and precision/recall per true-Jaccard bin.

    .venv/bin/python -m benchmarks.bench_dedup --sizes 5000 20000 --seed 1
    .venv/bin/python -m benchmarks.bench_dedup --sizes 50000 --repeats 3 --append-json /tmp/dedup.json  # one size per run
    .venv/bin/python -m benchmarks.bench_dedup --growth /tmp/dedup.json                                  # marginal cost ratio

Signatures use the compiled (numba) kernel when numba is installed, else the numpy reference
(`--kernel numpy` forces it, by CORPUSFORGE_MINHASH_KERNEL in the Spark workers).

Recall of a bin: planted pairs (copy, origin) of that true Jaccard that end in one cluster.
Removal precision: each dropped document is judged against the document it is said to
duplicate; pairs with true Jaccard ≥ 0.8 count as right, < 0.5 as wrong, 0.5–0.8 as neutral.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.dedup_corpus import WARC_ROOT, Doc, background_jaccard, corpus_hash, generate, load_sentences, planted_pairs
from corpusforge.dedup.components import union_find_roots
from corpusforge.dedup.lsh import lsh_threshold
from corpusforge.dedup.minhash import MinHashParams, jaccard, numba_available, shingles
from corpusforge.text.dedup_key import dedup_key

BINS = [(0.9, 1.01, "≥0.9"), (0.8, 0.9, "0.8–0.9"), (0.7, 0.8, "0.7–0.8"), (0.5, 0.7, "0.5–0.7"), (0.0, 0.5, "<0.5")]
SPARK_CORES = 2  # local[2]: the machine has two cores
# rows per Parquet row group of the input: Spark splits a file only between row groups, so one
# group would put the whole corpus in one task (one core) however many cores there are
PARQUET_ROW_GROUP = 5000
WARM_UP_DOCS = 10_000  # documents of the untimed run before the timed ones
DATASKETCH_CHUNK = 2000  # documents shingled and sketched at a time (their shingle strings are then freed)
MEMORY_SAMPLE_SECONDS = 0.2  # how often the RSS sampler looks at the process tree


class PeakMemory:
    """Samples the RSS of this process and all its descendants, summed and by part: this
    process (the harness and Spark's Python driver), the JVM (Spark's driver and, in local
    mode, its executor) and the Python workers under it. Also the CPU seconds by part
    (`cpu_seconds`): each process's last sampled user + system time, so a process that lived
    shorter than a sample is missed and the last interval of each is not counted."""

    PARTS = ("harness", "jvm", "python_workers")

    def __init__(self) -> None:
        self.peak_bytes = 0
        self.start_bytes = 0  # the tree's RSS when measuring began (the harness holds the corpus)
        self.part_peaks = dict.fromkeys(self.PARTS, 0)
        self._cpu: dict[int, tuple[str, float]] = {}  # pid → (part, CPU seconds when last seen)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> dict[str, int]:
        children: dict[int, list[int]] = defaultdict(list)
        rss: dict[int, int] = {}
        names: dict[int, str] = {}
        cpu: dict[int, float] = {}
        for process in psutil.process_iter(["ppid", "name", "memory_info", "cpu_times"]):
            info = process.info
            if info["memory_info"] is None:
                continue  # ended while we looked, or not ours to read
            children[info["ppid"]].append(process.pid)
            rss[process.pid] = info["memory_info"].rss
            names[process.pid] = info["name"]
            if info["cpu_times"] is not None:
                cpu[process.pid] = info["cpu_times"].user + info["cpu_times"].system
        parts = dict.fromkeys(self.PARTS, 0)
        stack = [(os.getpid(), "harness")]
        while stack:
            pid, part = stack.pop()
            if part != "harness":
                part = "jvm" if names.get(pid) == "java" else "python_workers"
            elif pid != os.getpid():
                part = "jvm" if names.get(pid) == "java" else "harness"
            parts[part] += rss.get(pid, 0)
            if pid in cpu:
                self._cpu[pid] = (part, cpu[pid])
            stack.extend((child, part) for child in children.get(pid, []))
        return parts

    def _sample(self) -> int:
        parts = self._tree_rss()
        for part, value in parts.items():
            self.part_peaks[part] = max(self.part_peaks[part], value)
        total = sum(parts.values())
        self.peak_bytes = max(self.peak_bytes, total)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(MEMORY_SAMPLE_SECONDS)

    @property
    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds by part of the processes sampled since `__enter__` (the harness's own
        CPU before it is left out)."""
        total = dict.fromkeys(self.PARTS, 0.0)
        for pid, (part, seconds) in self._cpu.items():
            total[part] += seconds - self._cpu_at_start.get(pid, 0.0)
        return total

    def __enter__(self) -> "PeakMemory":
        self.start_bytes = self._sample()
        self._cpu_at_start = {pid: seconds for pid, (_, seconds) in self._cpu.items()}
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _clusters(dropped: dict[str, str]) -> dict[str, str]:
    """doc → its representative, for every document in a predicted cluster."""
    representative = dict(dropped)
    for target in set(dropped.values()):
        representative.setdefault(target, target)
    return representative


def evaluate(
    dropped: dict[str, str], docs: list[Doc], keys: dict[str, str], pairs: list[tuple[str, str, str, float]]
) -> dict[str, object]:
    """Recall per true-Jaccard bin (planted pairs), removal precision, exact/skew/hard negatives apart."""
    cluster = _clusters(dropped)
    lang = {doc.doc_id: doc.lang for doc in docs}
    kind = {doc.doc_id: doc.kind for doc in docs}

    def together(left: str, right: str) -> bool:
        return cluster.get(left, left) == cluster.get(right, right)

    recall: dict[str, object] = {}
    for low, high, name in BINS:
        members = [pair for pair in pairs if pair[2] == "near" and low <= pair[3] < high]
        found = sum(together(member, origin) for member, origin, _, _ in members)
        recall[name] = {"pairs": len(members), "recall": round(found / len(members), 4) if members else None}
    for special in ("exact", "skew"):
        members = [pair for pair in pairs if pair[2] == special]
        recall[special] = {
            "pairs": len(members),
            "recall": round(sum(together(m, o) for m, o, _, _ in members) / len(members), 4) if members else None,
        }
    high_pairs = [pair for pair in pairs if pair[2] == "near" and pair[3] >= 0.85]
    recall["≥0.85"] = {
        "pairs": len(high_pairs),
        "recall": round(sum(together(m, o) for m, o, _, _ in high_pairs) / len(high_pairs), 4) if high_pairs else None,
    }
    removal_bins = {name: 0 for _, _, name in BINS}
    hard_bins = {name: 0 for _, _, name in BINS}  # removals that involve a hard negative
    for member, target in dropped.items():
        similarity = jaccard(shingles(keys[member], 5, lang[member]), shingles(keys[target], 5, lang[target]))
        for low, high, name in BINS:
            if low <= similarity < high:
                removal_bins[name] += 1
                if "hard_negative" in (kind[member], kind[target]):
                    hard_bins[name] += 1
    right = removal_bins["≥0.9"] + removal_bins["0.8–0.9"]
    wrong = removal_bins["<0.5"]
    return {
        "recall": recall,
        "removals_by_true_jaccard": removal_bins,
        "removal_precision": round(right / (right + wrong), 4) if right + wrong else None,
        "dropped": len(dropped),
        # a hard negative merged with a document it does not truly resemble (true Jaccard < 0.5)
        "hard_negatives_merged": hard_bins["<0.5"],
        "hard_negative_removals_by_true_jaccard": hard_bins,
    }


def _check_plan(frame, params: MinHashParams) -> None:
    """Print the star-edge plan and the bucket sizes: no cartesian or nested-loop join, and the
    largest bucket (the skewed cluster) gives n − 1 edges, not n²."""
    from pyspark.sql import functions as F

    from corpusforge.stages.lsh import _buckets, minhash_signatures, star_edges

    sigs = minhash_signatures(frame, params)
    plan = star_edges(sigs)._jdf.queryExecution().executedPlan().toString()
    quadratic = [name for name in ("CartesianProduct", "BroadcastNestedLoopJoin") if name in plan]
    sizes = _buckets(sigs).groupBy("band", "band_hash").agg(F.count(F.lit(1)).alias("n"))
    row = sizes.agg(F.max("n").alias("largest"), F.sum(F.col("n") - 1).alias("star_edges"),
                    F.sum(F.col("n") * (F.col("n") - 1) / 2).alias("all_pairs")).first()
    print(json.dumps({"plan_quadratic_operators": quadratic, "largest_bucket": row["largest"],
                      "star_edges_upper_bound": row["star_edges"], "all_pairs_in_buckets": row["all_pairs"]}), flush=True)


def run_spark(docs: list[Doc], keys: dict[str, str], params: MinHashParams, workdir: Path,
              plan_check: bool = False, repeats: int = 1) -> tuple[dict[str, str], list[float], PeakMemory]:
    from corpusforge.session import get_session
    from corpusforge.stages.lsh import near_duplicates

    source = workdir / "input.parquet"
    pq.write_table(
        pa.table(
            {
                "doc_id": [doc.doc_id for doc in docs],
                "dedup_key": [keys[doc.doc_id] for doc in docs],
                "lang": [doc.lang for doc in docs],
                "split_rank": pa.array([2] * len(docs), pa.int32()),
            }
        ),
        source,
        row_group_size=PARQUET_ROW_GROUP,
    )
    spark = get_session(
        "bench-dedup",
        profile="local",
        overrides={
            "spark.master": f"local[{SPARK_CORES}]",
            "spark.driver.memory": "4g",
            "spark.sql.shuffle.partitions": str(2 * SPARK_CORES),
            "spark.sql.execution.arrow.maxRecordsPerBatch": "2000",
            # splits of 32 MB (≈ 3 row groups): the default 128 MB cuts 200k documents into
            # 60k + 60k + 60k + 20k, two waves on two cores with 20 % more work in the longer one
            "spark.sql.files.maxPartitionBytes": "32m",
        },
    )
    spark.range(1).count()  # JVM and Python worker start-up is not part of the measurement
    # warm-up on a sample, so the timed runs are not the first on either core: each Python worker
    # loads numba's kernels once, and the JVM compiles its shuffle/sort/window paths while they
    # run (200 documents left the first timed run ~15 % slower at 200k)
    warm = spark.read.parquet(str(source)).limit(WARM_UP_DOCS).repartition(SPARK_CORES)
    near_duplicates(warm, params, verify="signature").count()
    output = workdir / "dropped.parquet"
    elapsed = []
    with PeakMemory() as memory:
        for _ in range(repeats):  # the same work again in the same session: the fastest is the least disturbed
            started = time.perf_counter()
            frame = spark.read.parquet(str(source))
            near_duplicates(frame, params, verify="signature").write.mode("overwrite").parquet(str(output))
            elapsed.append(time.perf_counter() - started)
    if plan_check:
        _check_plan(spark.read.parquet(str(source)), params)
    table = pq.read_table(output)
    dropped = dict(zip(table.column("doc_id").to_pylist(), table.column("duplicate_of").to_pylist()))
    return dropped, elapsed, memory


def run_datasketch(
    docs: list[Doc], keys: dict[str, str], params: MinHashParams
) -> tuple[dict[str, str], float, PeakMemory, float]:
    """datasketch on the same keys: (dropped, seconds, memory, seconds until every sketch was
    inserted, i.e. without the queries)."""
    from datasketch import MinHash, MinHashLSH

    a, b = params.permutations()
    threshold = lsh_threshold(params)
    with PeakMemory() as memory:
        started = time.perf_counter()
        ids = sorted(doc.doc_id for doc in docs)  # visit in doc_id order: the minimum represents
        lang = {doc.doc_id: doc.lang for doc in docs}
        index = MinHashLSH(num_perm=params.num_perm, params=(params.bands, params.rows))
        sketch_of = {}
        # in chunks, as a user with a big corpus would: all shingle strings at once need
        # ~17 GB at 100k documents
        with index.insertion_session() as session:
            for first in range(0, len(ids), DATASKETCH_CHUNK):
                chunk = [(identifier, shingles(keys[identifier], params.ngram, lang[identifier]))
                         for identifier in ids[first : first + DATASKETCH_CHUNK]]
                chunk = [(identifier, values) for identifier, values in chunk if values]
                sketches = MinHash.bulk(
                    [[value.encode("utf-8") for value in values] for _, values in chunk],
                    num_perm=params.num_perm,
                    permutations=(a, b),
                    scheme="legacy",  # the (a·h + b) mod (2^61 − 1) family, with our coefficients
                )
                for (identifier, _), sketch in zip(chunk, sketches):
                    session.insert(identifier, sketch)
                    sketch_of[identifier] = sketch
        # querying every document returns all its bucket-mates: n² pairs in the skewed cluster
        sketched_seconds = time.perf_counter() - started
        verified = (
            (identifier, candidate)
            for identifier, sketch in sketch_of.items()
            for candidate in index.query(sketch)
            if candidate != identifier and sketch.jaccard(sketch_of[candidate]) >= threshold
        )
        dropped = {node: root for node, root in union_find_roots(verified).items() if root != node}
        elapsed = time.perf_counter() - started
    return dropped, elapsed, memory, sketched_seconds


def _memory_fields(memory: PeakMemory) -> dict[str, object]:
    """Peak RSS of the process tree, how much of it the run added over the harness, and the
    peak of each part (harness/driver Python, JVM, Python workers)."""
    return {
        "peak_rss_mb": round(memory.peak_bytes / 2**20),
        "rss_added_mb": round((memory.peak_bytes - memory.start_bytes) / 2**20),
        "peak_rss_mb_by_part": {part: round(value / 2**20) for part, value in memory.part_peaks.items()},
    }


def _marginal(seconds_by_size: dict[int, float]) -> tuple[list[dict[str, float]], float | None]:
    by_size = sorted(seconds_by_size.items())
    marginal = [
        {"from": low, "to": high, "seconds_per_1k_docs": round(1000 * (t_high - t_low) / (high - low), 3)}
        for (low, t_low), (high, t_high) in zip(by_size, by_size[1:])
    ]
    ratio = None
    if len(marginal) >= 2 and marginal[-2]["seconds_per_1k_docs"] > 0:
        ratio = round(marginal[-1]["seconds_per_1k_docs"] / marginal[-2]["seconds_per_1k_docs"], 3)
    return marginal, ratio


def growth(results: list[dict[str, object]]) -> dict[str, object]:
    """Marginal cost per document between consecutive sizes, and the ratio of the last two
    (acceptance: (t200k − t100k)/100k over (t100k − t50k)/50k ≤ 1.25), on the fastest run of
    each size and, apart, on each size's first run.

    >>> growth([{"docs": n, "corpusforge": {"seconds": n / 1000, "seconds_each_run": [n / 1000]}}
    ...         for n in (50_000, 100_000, 200_000)])["marginal_cost_ratio"]
    1.0
    """
    best = {int(r["docs"]): float(r["corpusforge"]["seconds"]) for r in results}
    first = {int(r["docs"]): float(r["corpusforge"].get("seconds_each_run", [r["corpusforge"]["seconds"]])[0])
             for r in results}
    marginal, ratio = _marginal(best)
    marginal_first, ratio_first = _marginal(first)
    return {
        "seconds_by_size": dict(sorted(best.items())),
        "marginal": marginal,
        "marginal_cost_ratio": ratio,
        "first_run_seconds_by_size": dict(sorted(first.items())),
        "first_run_marginal": marginal_first,
        "first_run_marginal_cost_ratio": ratio_first,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-datasketch", action="store_true")
    parser.add_argument("--repeats", type=int, default=1, help="corpusforge runs per size; the fastest is reported")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--append-json", type=Path, help="append each size's result to this JSON list")
    parser.add_argument("--growth", type=Path, help="print the marginal cost ratio of the results in this file and exit")
    parser.add_argument("--plan", action="store_true", help="check the star-edge plan and bucket sizes")
    parser.add_argument("--kernel", choices=["auto", "numba", "numpy"], default="auto")
    parser.add_argument("--data", type=Path, default=WARC_ROOT, help="folder of the sample WARC files the text comes from")
    args = parser.parse_args()
    if args.growth:
        print(json.dumps(growth(json.loads(args.growth.read_text(encoding="utf-8"))), indent=1))
        return
    os.environ["CORPUSFORGE_MINHASH_KERNEL"] = args.kernel  # inherited by the Spark Python workers
    params = MinHashParams()
    sentences = load_sentences(args.data)
    results = []
    for size in args.sizes:
        docs = generate(size, args.seed, sentences)
        keys = {doc.doc_id: dedup_key(doc.text) for doc in docs}
        pairs = planted_pairs(docs, keys)
        entry: dict[str, object] = {
            "docs": size,
            "seed": args.seed,
            "corpus_hash": corpus_hash(docs),
            "mean_chars": round(float(np.mean([len(doc.text) for doc in docs])), 1),
            "background_max_jaccard": round(background_jaccard(docs, keys, 2000, args.seed), 4),
        }
        with tempfile.TemporaryDirectory() as workdir:
            dropped, runs, memory = run_spark(docs, keys, params, Path(workdir), args.plan, args.repeats)
        seconds = min(runs)
        entry["corpusforge"] = {
            "seconds": round(seconds, 2),
            "seconds_each_run": [round(run, 2) for run in runs],
            "docs_per_s": round(size / seconds, 1),
            "cores": SPARK_CORES,
            "kernel": args.kernel if args.kernel != "auto" else ("numba" if numba_available() else "numpy"),
            "docs_per_s_per_core": round(size / seconds / SPARK_CORES, 1),
            **_memory_fields(memory),
            **evaluate(dropped, docs, keys, pairs),
        }
        if not args.skip_datasketch:
            dropped, seconds, memory, sketched_seconds = run_datasketch(docs, keys, params)
            entry["datasketch"] = {
                "seconds": round(seconds, 2),
                "sketch_and_insert_seconds": round(sketched_seconds, 2),
                "docs_per_s": round(size / seconds, 1),
                "cores": 1,
                "docs_per_s_per_core": round(size / seconds, 1),
                **_memory_fields(memory),
                **evaluate(dropped, docs, keys, pairs),
            }
        if "datasketch" in entry:
            entry["speedup_per_core"] = round(
                entry["corpusforge"]["docs_per_s_per_core"] / entry["datasketch"]["docs_per_s_per_core"], 2)
            # the conservative ratio: datasketch's sketching and inserting alone, without its queries
            entry["speedup_per_core_vs_sketching_only"] = round(
                entry["datasketch"]["sketch_and_insert_seconds"] / (SPARK_CORES * entry["corpusforge"]["seconds"]), 2)
        print(json.dumps(entry, ensure_ascii=False, indent=1), flush=True)
        results.append(entry)
        if args.append_json:
            earlier = json.loads(args.append_json.read_text(encoding="utf-8")) if args.append_json.exists() else []
            earlier.append(entry)
            args.append_json.write_text(json.dumps(earlier, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
