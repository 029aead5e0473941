"""`make cluster-demo`: build_corpus on a real Spark standalone cluster, writing to S3.

It starts, all on 127.0.0.1: an S3-compatible server (moto), a Spark master and two workers
(1 core each); packs the environment the executors run in (`spark.archives`); submits
`jobs/build_corpus.py` with the `standalone` profile on the bundled sample and
`--output s3a://corpus/demo`; prints the run summary; reads the written `documents` table
back with delta-rs (no JVM); and stops everything it started, also when a step fails.

    python -m corpusforge.cluster_demo [--workdir build/cluster-demo] [--input DIR]

Exit code: the job's (0 done, 1 failed, 2 usage, 3 output busy), or 1 when the cluster or
the read-back fails.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from corpusforge.localcluster import ClusterParams, LocalS3, StandaloneCluster, pack_environment

REPO = Path(__file__).resolve().parent.parent
BUCKET = "corpus"


def submit_command(cluster: StandaloneCluster, s3: LocalS3, archive: Path, job_args: list[str],
                   extra_conf: dict[str, str] | None = None, job: Path | None = None) -> list[str]:
    """spark-submit of a job (default build_corpus) on `cluster`, executors in the packed env."""
    conf = {
        "spark.master": cluster.master_url,
        # The executors' Python is the one inside the archive, unpacked by each executor as
        # ./environment; the driver (client mode) keeps this interpreter.
        "spark.archives": f"{archive.resolve()}#environment",
        "spark.pyspark.python": "./environment/bin/python",
        "spark.pyspark.driver.python": sys.executable,
        "spark.driver.memory": "1g",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        **cluster.job_conf(),
        **s3.spark_conf(),
        **(extra_conf or {}),
    }
    command = [str(Path(sys.executable).parent / "spark-submit")]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    return command + [str(job or REPO / "jobs" / "build_corpus.py"), *job_args]


def submit_env(profile: str = "standalone") -> dict[str, str]:
    env = dict(os.environ, SPARK_CONF_DIR=str(REPO / "spark-conf" / profile), SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_DRIVER_PYTHON=sys.executable)
    env.pop("PYSPARK_PYTHON", None)  # the profile's spark.pyspark.python decides for executors
    return env


def read_back(s3: LocalS3, output: str) -> int:
    """Documents in the table the run wrote, counted by delta-rs from its log (no JVM)."""
    from deltalake import DeltaTable

    table = DeltaTable(output.replace("s3a://", "s3://", 1) + "/documents", storage_options=s3.storage_options())
    actions = table.get_add_actions(flatten=True)
    return int(sum(actions.column("num_records").to_pylist()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=str(REPO / "build" / "cluster-demo"),
                        help="pid, log and work directories of the daemons")
    parser.add_argument("--input", default=str(REPO / "corpusforge" / "data" / "sample"))
    parser.add_argument("--archive", default=str(REPO / "build" / "corpusforge-env.tar.gz"),
                        help="the packed environment (built when missing or older than the sources)")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    started = time.monotonic()
    print(f"packing the executors' environment into {args.archive} ...", flush=True)
    archive = pack_environment(Path(args.archive), repo=REPO)
    print(f"  {archive.stat().st_size / 1e6:.0f} MB", flush=True)
    with LocalS3() as s3, StandaloneCluster(workdir, ClusterParams(workers=2, cores=1, memory="1g")) as cluster:
        print(f"S3 server {s3.endpoint}; Spark master {cluster.master_url}, "
              f"{cluster.params.workers} workers x {cluster.params.cores} core", flush=True)
        output = f"{s3.create_bucket(BUCKET)}/demo"
        command = submit_command(cluster, s3, archive, ["--input", args.input, "--output", output])
        log_path = workdir / "submit.log"
        with open(log_path, "w") as log:
            job = subprocess.run(command, cwd=REPO, env=submit_env(), stdout=subprocess.PIPE, stderr=log,
                                 text=True, check=False)
        print(job.stdout, end="")
        if job.returncode != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-30:]
            print("\n".join(tail), file=sys.stderr)
            print(f"cluster-demo: the job exited {job.returncode}; its log: {log_path}", file=sys.stderr)
            return job.returncode
        print(f"delta-rs reads {read_back(s3, output)} documents from {output}/documents")
    print(f"cluster-demo done in {time.monotonic() - started:.0f} s; every daemon stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
