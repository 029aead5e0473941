"""End-to-end benchmark (issue 13): the user's own `spark-submit jobs/build_corpus.py` on JSONL
shards of real text, beside rensa, datasketch and a plain Python loop on the same input.

Per size (`--docs`) the corpus is made once (benchmarks/dedup_corpus.py, `write_e2e_corpus`:
50 % short texts, 47 % news-length, 3 % long pages, ~30 % Chinese, 5 % exact and 10 % near
copies; cached under `--corpus-root` and checked by sha256), then for each pipeline:

- **corpusforge**: `SPARK_CONF_DIR=spark-conf/local spark-submit --conf spark.master=local[2]
  jobs/build_corpus.py --input CORPUS/input --output OUT --config CFG --set input.id_field=id`
  as a subprocess; wall time around it (JVM start included), peak RSS of its process tree
  (JVM, Python driver + workers) sampled with psutil, the printed accounting line, and the
  `stats` table's `seconds` rows (read with delta-rs, no JVM) as time per phase and the share of
  wall time they cover. Pipelines: `dedup` = benchmarks/e2e_dedup.toml (normalize, exact_dedup,
  minhash_dedup); `web` = configs/web.toml (the default: langid, quality filters, pii, dedup).
- **rensa** / **datasketch** (each in its own Python process, one core): exact dedup by
  corpusforge's `text_hash(dedup_key(text))`, then MinHash LSH over the survivors with
  corpusforge's shingles of the dedup key, the same num_perm (112), bands (14 × 8) and threshold
  (the S-curve's, ≈ 0.72, checked on the estimated Jaccard); a duplicate group keeps its smallest
  corpusforge `doc_id`, as corpusforge does. What differs: the shingle hash and the permutation
  family are each library's own (rensa: its RMinHash with seed 42; datasketch: `scheme="legacy"`
  with corpusforge's (a, b) coefficients but its own SHA-1 shingle hash); every LSH candidate is
  checked (corpusforge checks star edges to the bucket's minimum); and the peers skip the
  `normalize` stage (the dedup key's own NFKC/case/punctuation folding still applies).
- **loop** (the web pipeline's per-core yardstick): the pure functions corpusforge's stages call,
  in one loop in one process: `ingest.files.file_batches`, each row-local stage's `transform`
  (normalize, langid, filters, pii), exact dedup by `text_hash`, and
  `dedup.lsh.near_duplicates_local` (the single-process MinHash reference).

Agreement: the kept documents of each run are mapped back to the JSONL `id` (corpusforge keeps
it in `source_id`); reported as the Jaccard of kept sets and precision/recall of the removed set,
against rensa for the dedup pipeline and against the loop for the web pipeline.

    python -m benchmarks.bench_e2e --docs 10000 --pipelines dedup,web
    python -m benchmarks.bench_e2e --docs 100000 --pipelines dedup,web --repeats 2 --json /tmp/e2e-100k.json
    python -m benchmarks.bench_e2e --docs 1000000 --pipelines dedup --peers rensa,datasketch --json /tmp/e2e-1m.json

Output: per run a phase table, then a Markdown table for benchmarks/RESULTS.md and the command.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared" / "data"
PIPELINE_CONFIGS = {"dedup": "benchmarks/e2e_dedup.toml", "web": "configs/web.toml"}
ID_OVERRIDE = "input.id_field=id"  # the JSONL records' own id → source_id and doc_id
ACCOUNTING_LINE = re.compile(r"records read (\d+) = kept (\d+) \+ dropped (\d+)")
# progress.Phase's log line at the end of each step: also the steps `stats` does not hold
PHASE_DONE_LINE = re.compile(r"phase (.+?): done in ([\d.]+) s")
SUMMARY_TIME_LINE = re.compile(r"^time: (.+?); named phases cover", re.MULTILINE)  # the run's printed summary
PEERS = ("rensa", "datasketch", "loop")
LIBRARY_PARTS = ("sketch", "insert", "query_verify", "components")  # a peer's time in its MinHash library
# Libraries that could start threads in a peer: one core means one thread of work.
ONE_THREAD_ENV = {"RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
                  "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# --- the corpus ------------------------------------------------------------------------------

def prepare_corpus(root: Path, docs: int, seed: int, shared: Path) -> tuple[Path, dict]:
    """The corpus directory for (docs, seed), generated unless a complete one with the same
    generator version is there; a cached one is checked against its manifest's sha256."""
    from benchmarks.dedup_corpus import E2E_VERSION, e2e_corpus_sha256, load_text_pools, write_e2e_corpus

    corpus = root / f"e2e-{docs}-seed{seed}-v{E2E_VERSION}"
    manifest_path = corpus / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if e2e_corpus_sha256(corpus, manifest["files"]) == manifest["sha256"]:
            return corpus, manifest
        print(f"{corpus}: shards do not match the manifest's sha256; generating again", flush=True)
    if corpus.exists():
        shutil.rmtree(corpus)
    started = time.perf_counter()
    manifest = write_e2e_corpus(corpus, docs, seed, load_text_pools(shared))
    print(f"generated {corpus} in {time.perf_counter() - started:.1f} s", flush=True)
    return corpus, manifest


def read_truth(corpus: Path) -> list[str]:
    """Every input id, in file order of truth.tsv."""
    with open(corpus / "truth.tsv", encoding="utf-8") as stream:
        next(stream)
        return [line.split("\t", 1)[0] for line in stream]


# --- corpusforge through spark-submit --------------------------------------------------------

def corpusforge_command(corpus: Path, output: Path, pipeline: str, cores: int, run_id: str) -> list[str]:
    return ["spark-submit", "--conf", f"spark.master=local[{cores}]", "jobs/build_corpus.py",
            "--input", str(corpus / "input"), "--output", str(output),
            "--config", PIPELINE_CONFIGS[pipeline], "--set", ID_OVERRIDE, "--run-id", run_id]


def run_corpusforge(corpus: Path, output: Path, pipeline: str, cores: int, run_id: str, logs: Path) -> dict:
    """One `spark-submit` run: wall seconds, peak memory, accounting, phases, kept ids."""
    from benchmarks.bench_dedup import PeakMemory

    if output.exists():
        shutil.rmtree(output)
    command = corpusforge_command(corpus, output, pipeline, cores, run_id)
    env = dict(os.environ, SPARK_CONF_DIR=str(REPO / "spark-conf" / "local"))
    stdout_path, stderr_path = logs / f"{run_id}.out", logs / f"{run_id}.err"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err, PeakMemory() as memory:
        started = time.perf_counter()
        code = subprocess.call(command, cwd=REPO, env=env, stdout=out, stderr=err)
        wall = time.perf_counter() - started
    stdout = stdout_path.read_text(encoding="utf-8", errors="replace")
    if code != 0:
        tail = stderr_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"corpusforge exited {code}: {shlex.join(command)}\n{tail}")
    match = ACCOUNTING_LINE.search(stdout)
    if match is None:
        raise SystemExit(f"no 'records read … = kept … + dropped …' line in {stdout_path}")
    read, kept, dropped = map(int, match.groups())
    return {"command": shlex.join(command), "wall_s": wall, "records_read": read, "kept": kept,
            "dropped": dropped, "phases": read_phases(output, run_id),
            "run_phases": _manifest_phases(output, run_id),
            "summary_phases": summary_phases(stdout),
            "logged_phases": {name: float(seconds) for name, seconds in PHASE_DONE_LINE.findall(stdout)},
            "manifest_seconds": _manifest_seconds(output, run_id),
            "kept_ids": kept_source_ids(output), "dropped_by": _dropped_by(output),
            "peak_rss_mb": round(memory.peak_bytes / 2**20),
            "peak_rss_mb_by_part": {part: round(v / 2**20) for part, v in memory.part_peaks.items()},
            "cpu_s_by_part": {part: round(v, 1) for part, v in memory.cpu_seconds.items()}}


def summary_phases(stdout: str) -> dict[str, float]:
    """The phases of the run's printed `time:` line: all of them, the report and the session's
    stop included, which come after `_runs/<run>.json` is written.

    >>> summary_phases("time: ingest 17.6 s, plan stages 0.0 s, stop 0.7 s; named phases cover 97.5% of 67.1 s")
    {'ingest': 17.6, 'plan stages': 0.0, 'stop': 0.7}
    """
    match = SUMMARY_TIME_LINE.search(stdout)
    if match is None:
        return {}
    phases = {}
    for item in match.group(1).split(", "):
        name, seconds, _unit = item.rsplit(" ", 2)
        phases[name] = float(seconds)
    return phases


def read_phases(output: Path, run_id: str) -> dict[str, float]:
    """The run's `seconds` rows of the stats table (phase → seconds), read with delta-rs."""
    from corpusforge.tables.deltars import read_delta

    table = read_delta(str(output / "stats"), columns=["run_id", "stage", "metric", "value"]).to_pylist()
    return {row["stage"]: row["value"] for row in table if row["run_id"] == run_id and row["metric"] == "seconds"}


def _manifest_phases(output: Path, run_id: str) -> dict[str, float]:
    """Every phase of the run, the ledger commit included (`_runs/<run>.json`, written after it)."""
    path = output / "_runs" / f"{run_id}.json"
    return json.loads(path.read_text(encoding="utf-8")).get("phases", {}) if path.exists() else {}


def top_level_seconds(phases: dict[str, float]) -> float:
    """Seconds of the phases that follow each other: nested ones ("stages/dedup.minhash") are
    parts of their top-level phase and are not added again.

    >>> top_level_seconds({"ingest": 3.0, "ingest/read": 2.5, "write": 1.0})
    4.0
    """
    return sum(seconds for name, seconds in phases.items() if "/" not in name)


def _manifest_seconds(output: Path, run_id: str) -> float | None:
    """The pipeline's own wall time (from run_pipeline's start to the ledger commit)."""
    path = output / "_runs" / f"{run_id}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("summary", {}).get("seconds")


def kept_source_ids(output: Path) -> set[str]:
    from corpusforge.tables.deltars import read_delta

    return set(read_delta(str(output / "documents"), columns=["source_id"]).column("source_id").to_pylist())


def _dropped_by(output: Path) -> dict[str, int]:
    from collections import Counter

    from corpusforge.tables.deltars import read_delta

    table = read_delta(str(output / "dropped"), columns=["drop_stage", "drop_reason"])
    pairs = zip(table.column("drop_stage").to_pylist(), table.column("drop_reason").to_pylist())
    return dict(Counter(f"{stage}/{reason}" for stage, reason in pairs).most_common())


# --- peers, each in its own process ----------------------------------------------------------

def run_peer(peer: str, corpus: Path, pipeline: str, logs: Path) -> dict:
    """Run one peer as `python -m benchmarks.bench_e2e --peer …` and return what it reported,
    with the subprocess's wall time (interpreter start and imports included)."""
    result_path = logs / f"peer-{peer}-{pipeline}.json"
    command = [sys.executable, "-m", "benchmarks.bench_e2e", "--peer", peer, "--corpus", str(corpus),
               "--pipeline", pipeline, "--result", str(result_path)]
    env = dict(os.environ, **ONE_THREAD_ENV)
    with open(logs / f"peer-{peer}-{pipeline}.err", "wb") as err:
        started = time.perf_counter()
        code = subprocess.call(command, cwd=REPO, env=env, stdout=err, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - started
    if code != 0:
        tail = (logs / f"peer-{peer}-{pipeline}.err").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"peer {peer} exited {code}: {shlex.join(command)}\n{tail}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["wall_s"] = wall
    result["command"] = shlex.join(command)
    return result


def _input_files(corpus: Path, cfg) -> list:
    from corpusforge.ingest.plan import plan_inputs

    return plan_inputs([str(corpus / "input")], None, cfg.input).files


def _jsonl_docs(files):
    """(doc_id, input id, text) of every record, with corpusforge's doc_id (source key + id)."""
    from corpusforge.ingest.uris import local_path
    from corpusforge.text.dedup_key import doc_id

    for info in files:
        with open(local_path(info.uri), encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                yield doc_id(info.source_key, record["id"]), record["id"], record["text"]


class _Timer:
    """Seconds spent per named part of a peer's loop."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, part: str) -> None:
        now = time.perf_counter()
        self.seconds[part] = self.seconds.get(part, 0.0) + now - self._last
        self._last = now


def _exact_then_sketch(files, params, sketch_chunk, timer):
    """Exact dedup by text_hash (smallest doc_id kept) and one sketch per distinct key.

    `sketch_chunk(list of shingle lists) → list of sketches`. Returns (ids, removed, sketches,
    representative) where ids maps doc_id → input id, removed maps removed input ids → reason,
    and sketches/representative are per distinct text_hash."""
    from corpusforge.dedup.minhash import shingles
    from corpusforge.text.dedup_key import dedup_key, text_hash

    ids: dict[str, str] = {}
    first_of: dict[str, str] = {}  # text_hash → smallest doc_id
    members: list[tuple[str, str]] = []  # (doc_id, text_hash)
    sketches: dict[str, object] = {}
    pending: list[tuple[str, list[str]]] = []

    def flush() -> None:
        for (key_hash, _), sketch in zip(pending, sketch_chunk([values for _, values in pending])):
            sketches[key_hash] = sketch
        pending.clear()
        timer.lap("sketch")

    for identifier, input_id, text in _jsonl_docs(files):
        ids[identifier] = input_id
        key = dedup_key(text)
        key_hash = text_hash(key)
        members.append((identifier, key_hash))
        if key_hash in first_of:
            first_of[key_hash] = min(first_of[key_hash], identifier)
            timer.lap("read_key_shingle")
            continue
        first_of[key_hash] = identifier
        values = shingles(key, params.ngram, None, params.cjk_shingles)
        timer.lap("read_key_shingle")
        if values:  # fewer tokens than one shingle: left to exact dedup, as corpusforge does
            pending.append((key_hash, values))
            if len(pending) >= 2000:
                flush()
    flush()
    removed = {ids[identifier]: "exact" for identifier, key_hash in members if first_of[key_hash] != identifier}
    return ids, removed, sketches, first_of


def _near_removals(ids, sketches, representative, query, similar, timer) -> dict[str, str]:
    """Union-find over verified LSH candidate pairs; each component keeps its smallest doc_id."""
    from corpusforge.dedup.components import union_find_roots

    keys = list(sketches)
    edges = []
    for position, key_hash in enumerate(keys):
        for other in query(position, sketches[key_hash]):
            if other != position and similar(sketches[key_hash], sketches[keys[other]]):
                edges.append((representative[key_hash], representative[keys[other]]))
    timer.lap("query_verify")
    roots = union_find_roots(edges)
    timer.lap("components")
    return {ids[node]: "near" for node, root in roots.items() if node != root}


def peer_rensa(cfg, files, timer) -> dict[str, str]:
    from rensa import RMinHash, RMinHashLSH

    from corpusforge.dedup.lsh import lsh_threshold

    params = cfg.minhash.params()
    threshold = cfg.minhash.threshold or lsh_threshold(params)

    def sketch_chunk(chunk):
        out = []
        for values in chunk:
            sketch = RMinHash(num_perm=params.num_perm, seed=params.seed)
            sketch.update(values)
            out.append(sketch)
        return out

    ids, removed, sketches, representative = _exact_then_sketch(files, params, sketch_chunk, timer)
    index = RMinHashLSH(threshold=threshold, num_perm=params.num_perm, num_bands=params.bands)
    for position, sketch in enumerate(sketches.values()):
        index.insert(position, sketch)
    timer.lap("insert")
    removed.update(_near_removals(ids, sketches, representative, lambda _, sketch: index.query(sketch),
                                  lambda left, right: left.jaccard(right) >= threshold, timer))
    return removed


def peer_datasketch(cfg, files, timer) -> dict[str, str]:
    from datasketch import MinHash, MinHashLSH

    from corpusforge.dedup.lsh import lsh_threshold

    params = cfg.minhash.params()
    threshold = cfg.minhash.threshold or lsh_threshold(params)
    a, b = params.permutations()

    def sketch_chunk(chunk):
        if not chunk:
            return []
        return MinHash.bulk([[value.encode("utf-8") for value in values] for values in chunk],
                            num_perm=params.num_perm, permutations=(a, b), scheme="legacy")

    ids, removed, sketches, representative = _exact_then_sketch(files, params, sketch_chunk, timer)
    index = MinHashLSH(num_perm=params.num_perm, params=(params.bands, params.rows))
    with index.insertion_session() as session:
        for position, sketch in enumerate(sketches.values()):
            session.insert(position, sketch)
    timer.lap("insert")
    removed.update(_near_removals(ids, sketches, representative, lambda _, sketch: index.query(sketch),
                                  lambda left, right: left.jaccard(right) >= threshold, timer))
    return removed


def peer_loop(cfg, files, timer) -> dict[str, str]:
    """The stages' pure functions in one loop: ingest, each row-local stage's transform, exact
    dedup (smallest doc_id per text_hash), near_duplicates_local."""
    import pyarrow.compute as pc

    from corpusforge.dedup.exact import split_rank, text_hashes
    from corpusforge.dedup.lsh import near_duplicates_local
    from corpusforge.ingest.files import file_batches
    from corpusforge.pipeline import registry
    from corpusforge.pipeline.registry import StageContext
    from corpusforge.stages.base import BatchStage
    from corpusforge.text.dedup_key import dedup_key

    ctx = StageContext(spark=None, cfg=cfg, output="", run_id="loop")
    batch_stages = []
    for name in cfg.pipeline.stages:
        if name in ("exact_dedup", "minhash_dedup"):
            continue
        stage = registry.stage_factory(name)(ctx)
        if not isinstance(stage, BatchStage):
            raise SystemExit(f"loop peer: stage {name!r} is not row-local; the loop cannot run it")
        batch_stages.append(stage)
    removed: dict[str, str] = {}
    survivors: list[tuple[str, str, str, str | None, str | None]] = []  # doc_id, id, text, lang, split
    for info in files:
        row = {"uri": info.uri, "source": info.source, "source_key": info.source_key,
               "format": info.format, "split": info.split}
        for batch in file_batches(row, cfg.input):
            timer.lap("ingest")
            for stage in batch_stages:
                live = batch.filter(pc.is_null(batch.column("drop_reason")))
                gone = batch.filter(pc.invert(pc.is_null(batch.column("drop_reason"))))
                removed.update((sid, reason) for sid, reason in zip(gone.column("source_id").to_pylist(),
                                                                   gone.column("drop_reason").to_pylist()))
                batch = stage.transform(live) if live.num_rows else live
                timer.lap(stage.name)
            live = batch.filter(pc.is_null(batch.column("drop_reason")))
            gone = batch.filter(pc.invert(pc.is_null(batch.column("drop_reason"))))
            removed.update(zip(gone.column("source_id").to_pylist(), gone.column("drop_reason").to_pylist()))
            langs = live.column("lang").to_pylist() if "lang" in live.schema.names else [None] * live.num_rows
            survivors.extend(zip(live.column("doc_id").to_pylist(), live.column("source_id").to_pylist(),
                                 live.column("text").to_pylist(), langs, live.column("split").to_pylist()))
            timer.lap("collect")
    if "exact_dedup" in cfg.pipeline.stages:
        best: dict[str, tuple[int, str]] = {}
        hashes = text_hashes([text for _, _, text, _, _ in survivors])
        for (identifier, _, _, _, split), key_hash in zip(survivors, hashes):
            rank = (split_rank(split), identifier)
            if key_hash not in best or rank < best[key_hash]:
                best[key_hash] = rank
        kept = []
        for record, key_hash in zip(survivors, hashes):
            if best[key_hash][1] == record[0]:
                kept.append(record)
            else:
                removed[record[1]] = "dedup.exact_duplicate"
        survivors = kept
        timer.lap("exact_dedup")
    if "minhash_dedup" in cfg.pipeline.stages:
        input_id = {identifier: source_id for identifier, source_id, _, _, _ in survivors}
        records = [(identifier, dedup_key(text), lang, split_rank(split))
                   for identifier, _, text, lang, split in survivors]
        duplicates = near_duplicates_local(records, cfg.minhash.params(), verify=cfg.minhash.verify,
                                           threshold=cfg.minhash.threshold)
        removed.update((input_id[identifier], "dedup.near_duplicate") for identifier in duplicates)
        timer.lap("minhash_dedup")
    return removed


def peer_main(args: argparse.Namespace) -> None:
    """Child mode: run one peer on one corpus, write its removed ids and timings as JSON."""
    from corpusforge.config import load_config

    cfg = load_config(REPO / PIPELINE_CONFIGS[args.pipeline], [ID_OVERRIDE])
    started = time.perf_counter()
    timer = _Timer()
    files = _input_files(args.corpus, cfg)
    removed = {"rensa": peer_rensa, "datasketch": peer_datasketch, "loop": peer_loop}[args.peer](cfg, files, timer)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    args.result.write_text(json.dumps({
        "peer": args.peer, "work_s": time.perf_counter() - started, "parts_s": timer.seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "removed": removed}), encoding="utf-8")


# --- comparison and report -------------------------------------------------------------------

def agreement(kept: set[str], reference_kept: set[str], all_ids: set[str]) -> dict[str, float]:
    """Jaccard of kept sets; precision and recall of the removed set against the reference's.

    >>> agreement({"a", "b"}, {"a", "c"}, {"a", "b", "c", "d"})
    {'kept_jaccard': 0.3333, 'removed_precision': 0.5, 'removed_recall': 0.5}
    """
    removed, reference_removed = all_ids - kept, all_ids - reference_kept
    both = len(removed & reference_removed)
    return {"kept_jaccard": round(len(kept & reference_kept) / max(1, len(kept | reference_kept)), 4),
            "removed_precision": round(both / len(removed), 4) if removed else 1.0,
            "removed_recall": round(both / len(reference_removed), 4) if reference_removed else 1.0}


def print_phases(run: dict) -> None:
    wall = run["wall_s"]
    print(f"  phases of {run['run_id']} (stats table, seconds; wall {wall:.1f} s, "
          f"pipeline's own {run['manifest_seconds'] or 0:.1f} s):")
    for phase, seconds in sorted(run["phases"].items(), key=lambda item: -item[1]):
        print(f"    {phase:<28} {seconds:8.1f} s  {100 * seconds / wall:5.1f} %")
    covered = top_level_seconds(run["phases"])
    print(f"    {'named phases (stats)':<28} {covered:8.1f} s  {100 * covered / wall:5.1f} % of wall "
          f"(up to the accounting; unaccounted {wall - covered:.1f} s)")
    every = top_level_seconds(run.get("run_phases", {}))
    print(f"    {'named phases (_runs json)':<28} {every:8.1f} s  {100 * every / wall:5.1f} % of wall "
          f"(with the commit)")
    printed = top_level_seconds(run.get("summary_phases", {}))
    print(f"    {'named phases (summary)':<28} {printed:8.1f} s  {100 * printed / wall:5.1f} % of wall "
          f"(with the report and the stop; the rest is the JVM's exit)")
    logged = run["logged_phases"]
    if logged:
        print("    logged by the run (progress lines; stats lacks those not listed above): "
              + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in logged.items())
              + f"; together {sum(logged.values()):.1f} s = {100 * sum(logged.values()) / wall:.1f} % of wall")
    if run["manifest_seconds"] is not None:
        # run_pipeline's own clock starts after the JVM, the session and the imports, and stops
        # before the summary is printed and the JVM exits: the rest is start-up and shut-down
        outside = wall - run["manifest_seconds"]
        print(f"    {'outside run_pipeline':<28} {outside:8.1f} s  {100 * outside / wall:5.1f} % "
              "(JVM + session start, imports, exit)")
    sys.stdout.flush()


def markdown_table(rows: list[dict]) -> str:
    """The results as a Markdown table for benchmarks/RESULTS.md. A peer's wall is its process's
    (interpreter start included); in brackets the library's own part (sketch, insert, query,
    verify, components: without reading, dedup key and shingles). "per core vs X" is corpusforge's
    docs/s per core over X's docs/s on its one core (1.0 = equal). corpusforge's peak RSS is
    the JVM's peak plus the peak of its Python processes (driver and workers together), without
    the harness."""
    head = ("| docs | pipeline | corpusforge wall s | phases cover | docs/s | docs/s/core | rensa wall s (library) "
            "| datasketch wall s (library) | loop wall s | per core vs rensa | vs datasketch | vs loop "
            "| peak RSS corpusforge MB (JVM / Python) | peak RSS rensa / datasketch / loop MB | kept | agreement |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        def wall(peer: str) -> str:
            if peer not in row:
                return "–"
            library = sum(v for k, v in row[peer]["parts_s"].items() if k in LIBRARY_PARTS)
            return f"{row[peer]['wall_s']:.1f}" + (f" ({library:.1f})" if peer != "loop" else "")

        def ratio(peer: str) -> str:
            if peer not in row:
                return "–"
            return f"{row['docs_per_s_per_core'] / (row['docs'] / row[peer]['wall_s']):.3f}"

        def rss(peer: str) -> str:
            return str(row[peer]["peak_rss_mb"]) if peer in row else "–"

        cf = row["corpusforge"]
        parts = cf["peak_rss_mb_by_part"]
        lines.append(
            f"| {row['docs']:,} | {row['pipeline']} | {cf['wall_s']:.1f} "
            f"| {100 * top_level_seconds(cf.get('summary_phases') or cf.get('run_phases') or cf['phases']) / cf['wall_s']:.0f} % | {row['docs_per_s']:.0f} "
            f"| {row['docs_per_s_per_core']:.0f} | {wall('rensa')} | {wall('datasketch')} | {wall('loop')} "
            f"| {ratio('rensa')} | {ratio('datasketch')} | {ratio('loop')} "
            f"| {parts['jvm'] + parts['python_workers']} ({parts['jvm']} / {parts['python_workers']}) "
            f"| {rss('rensa')} / {rss('datasketch')} / {rss('loop')} | {cf['kept']:,} | {row['agreement_text']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="10000", help="comma-separated corpus sizes, e.g. 10000,100000")
    parser.add_argument("--pipelines", default="dedup,web", help="comma-separated: dedup, web")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated: rensa, datasketch, loop "
                        "(the loop runs for the web pipeline; rensa and datasketch once per size)")
    parser.add_argument("--repeats", type=int, default=1, help="corpusforge runs per (size, pipeline); the fastest is reported")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2, help="spark.master=local[N]")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="../shared/data: warc/ and finsent/")
    parser.add_argument("--corpus-root", type=Path, default=Path("/tmp/corpusforge-e2e"),
                        help="where corpora are generated and cached")
    parser.add_argument("--workdir", type=Path, default=None, help="outputs and logs (default: CORPUS_ROOT/runs)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    # child mode (one peer in its own process)
    parser.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pipeline", choices=sorted(PIPELINE_CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        peer_main(args)
        return
    sizes = [int(value) for value in args.docs.split(",") if value]
    pipelines = [value for value in args.pipelines.split(",") if value]
    peers = [value for value in args.peers.split(",") if value]
    for name in pipelines:
        if name not in PIPELINE_CONFIGS:
            parser.error(f"--pipelines: unknown pipeline {name!r}; expected one of {sorted(PIPELINE_CONFIGS)}")
    for name in peers:
        if name not in PEERS:
            parser.error(f"--peers: unknown peer {name!r}; expected one of {list(PEERS)}")
    if not (args.shared / "warc").is_dir() or not (args.shared / "finsent").is_dir():
        parser.error(f"--shared {args.shared}: no warc/ and finsent/ there (the shared data folder, ../shared/data)")
    if shutil.which("spark-submit") is None:
        parser.error("spark-submit is not on PATH: activate the venv (source .venv/bin/activate)")
    workdir = args.workdir or args.corpus_root / "runs"
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in sizes:
        corpus, manifest = prepare_corpus(args.corpus_root, size, args.seed, args.shared)
        from benchmarks.dedup_corpus import describe_e2e_corpus

        print(describe_e2e_corpus(manifest), flush=True)
        all_ids = set(read_truth(corpus))
        dedup_peers = {}
        for peer in ("rensa", "datasketch"):
            if peer in peers:
                result = run_peer(peer, corpus, "dedup", workdir)
                result["kept"] = all_ids - set(result.pop("removed"))
                dedup_peers[peer] = result
                print(f"  {peer}: {result['wall_s']:.1f} s wall ({result['work_s']:.1f} s of work, "
                      f"cpu {result['cpu_s']:.1f} s), kept {len(result['kept'])}, peak RSS {result['peak_rss_mb']} MB, "
                      f"parts {json.dumps({k: round(v, 1) for k, v in result['parts_s'].items()})}", flush=True)
        for pipeline in pipelines:
            runs = []
            for repeat in range(args.repeats):
                run_id = f"bench-{pipeline}-{size}-{repeat}"
                run = run_corpusforge(corpus, workdir / f"out-{pipeline}-{size}", pipeline, args.cores, run_id, workdir)
                run["run_id"] = run_id
                runs.append(run)
                print(f"  corpusforge {pipeline} {size}: {run['wall_s']:.1f} s wall, records read {run['records_read']} "
                      f"= kept {run['kept']} + dropped {run['dropped']}, peak RSS {run['peak_rss_mb']} MB "
                      f"{run['peak_rss_mb_by_part']}, CPU s {run['cpu_s_by_part']}", flush=True)
                print_phases(run)
            best = min(runs, key=lambda run: run["wall_s"])
            if best["kept_ids"] - all_ids or best["records_read"] != size:
                raise SystemExit(f"corpusforge read {best['records_read']} records of {size}, "
                                 f"{len(best['kept_ids'] - all_ids)} kept ids not in the input")
            row = {"docs": size, "pipeline": pipeline, "corpus_sha256": manifest["sha256"],
                   "corpusforge": {key: value for key, value in best.items() if key != "kept_ids"},
                   "corpusforge_wall_each_s": [round(run["wall_s"], 2) for run in runs],
                   "docs_per_s": size / best["wall_s"], "docs_per_s_per_core": size / best["wall_s"] / args.cores}
            # rensa and datasketch do the dedup pipeline's work only: beside the web pipeline
            # (langid, filters) their times would give meaningless ratios, so the loop is its peer
            peers_here = dict(dedup_peers) if pipeline == "dedup" else {}
            if pipeline == "web" and "loop" in peers:
                loop = run_peer("loop", corpus, "web", workdir)
                loop["kept"] = all_ids - set(loop.pop("removed"))
                peers_here["loop"] = loop
                print(f"  loop web: {loop['wall_s']:.1f} s wall ({loop['work_s']:.1f} s of work), kept {len(loop['kept'])}, "
                      f"peak RSS {loop['peak_rss_mb']} MB, parts "
                      f"{json.dumps({k: round(v, 1) for k, v in loop['parts_s'].items()})}", flush=True)
            reference = "loop" if pipeline == "web" else "rensa"
            for peer, result in peers_here.items():
                row[peer] = {key: value for key, value in result.items() if key != "kept"}
                row[peer]["kept_count"] = len(result["kept"])
                row[peer]["docs_per_s"] = size / result["wall_s"]  # one core: also its docs/s per core
                row[peer]["agreement_with_corpusforge"] = agreement(best["kept_ids"], result["kept"], all_ids)
            if pipeline == "dedup" and "rensa" in peers_here and "datasketch" in peers_here:
                row["datasketch"]["agreement_with_rensa"] = agreement(
                    peers_here["datasketch"]["kept"], peers_here["rensa"]["kept"], all_ids)
            if reference in peers_here:
                a = row[reference]["agreement_with_corpusforge"]
                row["agreement_text"] = (f"vs {reference}: kept J={a['kept_jaccard']:.4f}, removed "
                                         f"P={a['removed_precision']:.3f} R={a['removed_recall']:.3f}")
            else:
                row["agreement_text"] = "–"
            print(json.dumps({k: v for k, v in row.items()}, indent=1, default=str), flush=True)
            rows.append(row)
    command = "python -m benchmarks.bench_e2e " + shlex.join(sys.argv[1:])
    print("\n" + markdown_table(rows))
    print(f"\nCommand: `{command}` (corpusforge: `SPARK_CONF_DIR=spark-conf/local "
          f"{rows[0]['corpusforge']['command'] if rows else ''}`)")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "rows": rows}, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
