"""The user's `spark-submit jobs/build_corpus.py` on `local[2]` beside a standalone cluster of
2 workers × 1 core (issue 12): wall time and time per phase, on a ~200 MB WARC input.

    .venv/bin/python -m benchmarks.bench_cluster --mb 200 [--sides local,cluster,cluster-s3a]

The input is bench_ingest's: the real WARC files of ../shared/data/warc (per-record gzip)
concatenated into `--files` files until they hold `--mb` MB. The copies repeat the same
pages, so exact dedup keeps one of each and the later stages see few documents: this measures
ingest (reading, HTML → text) and the run's fixed costs at scale, not dedup.

Sides, each one `spark-submit` subprocess timed from outside (JVM start and exit included),
default pipeline, one after another:
- `local`: `SPARK_CONF_DIR=spark-conf/local`, `spark.master=local[2]`, output on local disk;
- `cluster`: a master and 2 workers × 1 core on 127.0.0.1, the `standalone` profile, executors
  in the packed environment (`spark.archives`, as `make cluster-demo`), output on local disk;
- `cluster-s3a`: the same cluster, output `s3a://` on a local moto server.

The phases come from each run's `_runs/<run_id>.json`. The `documents` tables of all sides must
hold the same `doc_id`s: the script stops if they do not.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_e2e import ACCOUNTING_LINE, top_level_seconds
from benchmarks.bench_ingest import WARC_DIR, replicate

REPO = Path(__file__).resolve().parents[1]
SIDES = ("local", "cluster", "cluster-s3a")


def run_submit(command: list[str], env: dict[str, str], logs: Path, name: str) -> dict:
    """One spark-submit: wall seconds and the accounting line of its summary."""
    with open(logs / f"{name}.out", "wb") as out, open(logs / f"{name}.err", "wb") as err:
        started = time.perf_counter()
        code = subprocess.call(command, cwd=REPO, env=env, stdout=out, stderr=err)
        wall = time.perf_counter() - started
    stdout = (logs / f"{name}.out").read_text(errors="replace")
    if code != 0:
        tail = (logs / f"{name}.err").read_text(errors="replace")[-3000:]
        raise SystemExit(f"{name}: spark-submit exited {code}: {shlex.join(command)}\n{tail}")
    read, kept, dropped = map(int, ACCOUNTING_LINE.search(stdout).groups())
    return {"side": name, "wall_s": wall, "read": read, "kept": kept, "dropped": dropped,
            "command": shlex.join(command)}


def local_manifest(output: Path, run_id: str) -> dict:
    return json.loads((output / "_runs" / f"{run_id}.json").read_text())


def local_doc_ids(output: Path) -> set[str]:
    from corpusforge.tables.deltars import read_delta

    return set(read_delta(str(output / "documents"), columns=["doc_id"]).column("doc_id").to_pylist())


def s3_manifest(s3, bucket: str, prefix: str, run_id: str) -> dict:
    body = s3.client().get_object(Bucket=bucket, Key=f"{prefix}/_runs/{run_id}.json")["Body"].read()
    return json.loads(body)


def s3_doc_ids(s3, uri: str) -> set[str]:
    from deltalake import DeltaTable

    table = DeltaTable(uri.replace("s3a://", "s3://", 1) + "/documents", storage_options=s3.storage_options())
    return set(table.to_pyarrow_table(columns=["doc_id"]).column("doc_id").to_pylist())


def print_table(runs: list[dict], megabytes: float) -> None:
    phases = sorted({name for run in runs for name in run["phases"] if "/" not in name},
                    key=lambda name: -max(run["phases"].get(name, 0.0) for run in runs))
    header = "| phase | " + " | ".join(run["side"] for run in runs) + " |"
    print(header)
    print("|---" * (len(runs) + 1) + "|")
    print("| **wall (spark-submit)** | " + " | ".join(f"**{run['wall_s']:.1f}**" for run in runs) + " |")
    for name in phases:
        print(f"| {name} | " + " | ".join(f"{run['phases'].get(name, 0.0):.1f}" for run in runs) + " |")
    print("| named phases, % of wall | "
          + " | ".join(f"{100 * top_level_seconds(run['phases']) / run['wall_s']:.1f} %" for run in runs) + " |")
    print("| MB/s of WARC | " + " | ".join(f"{megabytes / run['wall_s']:.2f}" for run in runs) + " |")
    print("| records read = kept + dropped | "
          + " | ".join(f"{run['read']} = {run['kept']} + {run['dropped']}" for run in runs) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="MB of replicated WARC input")
    parser.add_argument("--files", type=int, default=8, help="input files (ingest tasks)")
    parser.add_argument("--sides", default=",".join(SIDES), help=f"comma-separated, of {', '.join(SIDES)}")
    parser.add_argument("--workdir", help="input copies, outputs and logs (default: a temp dir, removed after)")
    args = parser.parse_args()
    sides = [side for side in args.sides.split(",") if side]
    if unknown := set(sides) - set(SIDES):
        parser.error(f"unknown sides: {', '.join(sorted(unknown))}")
    if not WARC_DIR.is_dir():
        parser.error(f"{WARC_DIR} is missing: this benchmark reads ../shared/data/warc")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        run(sides, args.mb, args.files, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def run(sides: list[str], mb: int, n_files: int, workdir: Path) -> None:
    from corpusforge.cluster_demo import submit_command, submit_env
    from corpusforge.localcluster import ClusterParams, LocalS3, StandaloneCluster, pack_environment

    inputs = replicate(mb * 10**6, n_files, workdir / "input")
    megabytes = sum(path.stat().st_size for path in inputs) / 1e6
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    print(f"input: {len(inputs)} WARC files, {megabytes:.1f} MB, in {workdir / 'input'}", flush=True)
    job_args = ["--input", str(workdir / "input")]
    runs, doc_ids = [], {}

    if "local" in sides:
        output = workdir / "out-local"
        env = dict(os.environ, SPARK_CONF_DIR=str(REPO / "spark-conf" / "local"), SPARK_LOCAL_IP="127.0.0.1",
                   PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)  # as the Makefile
        command = [str(Path(sys.executable).parent / "spark-submit"), "--conf", "spark.master=local[2]",
                   str(REPO / "jobs" / "build_corpus.py"), *job_args, "--output", str(output), "--run-id", "local"]
        result = run_submit(command, env, logs, "local")
        result["phases"] = local_manifest(output, "local")["phases"]
        runs.append(result)
        doc_ids["local"] = local_doc_ids(output)
        print(f"local: {result['wall_s']:.1f} s", flush=True)

    cluster_sides = [side for side in sides if side.startswith("cluster")]
    if cluster_sides:
        archive = pack_environment(REPO / "build" / "corpusforge-env.tar.gz", repo=REPO)
        with LocalS3() as s3, StandaloneCluster(workdir / "cluster", ClusterParams(workers=2, cores=1, memory="1g")) as cluster:
            bucket = "bench"
            for side in cluster_sides:
                if side == "cluster":
                    output = str(workdir / "out-cluster")
                else:
                    output = f"{s3.create_bucket(bucket)}/out"
                run_id = side.replace("-", "_")
                command = submit_command(cluster, s3, archive, [*job_args, "--output", output, "--run-id", run_id])
                result = run_submit(command, submit_env(), logs, side)
                if side == "cluster":
                    result["phases"] = local_manifest(Path(output), run_id)["phases"]
                    doc_ids[side] = local_doc_ids(Path(output))
                else:
                    result["phases"] = s3_manifest(s3, bucket, "out", run_id)["phases"]
                    doc_ids[side] = s3_doc_ids(s3, output)
                runs.append(result)
                print(f"{side}: {result['wall_s']:.1f} s", flush=True)

    first = next(iter(doc_ids))
    for side, ids in doc_ids.items():
        if ids != doc_ids[first]:
            raise SystemExit(f"{side}'s documents differ from {first}'s: "
                             f"{len(ids - doc_ids[first])} more, {len(doc_ids[first] - ids)} fewer")
    print(f"\nthe documents of every side hold the same {len(doc_ids[first])} doc_ids\n")
    print_table(runs, megabytes)
    print("\ncommands:")
    for result in runs:
        print(f"  {result['side']}: {result['command']}")


if __name__ == "__main__":
    main()
