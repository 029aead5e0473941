"""Airflow DAGs: corpusforge's build_corpus every hour over a growing input prefix, maintenance weekly.

Put this file in the DAGs folder of an Airflow with `apache-airflow-providers-apache-spark`
installed and a Spark connection (`spark_default`, or set CORPUSFORGE_SPARK_CONN) pointing at
the cluster's master (`local[*]`, `spark://host:7077`, `yarn`, `k8s://...`). The paths come
from Airflow Variables so one file serves every environment.

- Each run reads the input prefix; the ledger skips files a finished run already read, so a
  run only processes what is new (or changed: a modified file supersedes its earlier rows in
  the same commit, see examples/scheduled/README.md); exact_index and minhash_index dedup the
  new documents against every earlier run; the tables are appended to.
- The run id is the DAG run's logical hour: an Airflow retry of a failed run re-uses it, and
  a killed run's rows are removed before the next run writes.
- `max_active_runs=1`: runs on one output never overlap (the output lock would refuse it).
- Each run writes `<output>/_runs/<run_id>/report.html` and prints its path in the task log.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG, Variable
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models import Variable
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

REPO = Variable.get("corpusforge_repo", default="/opt/corpusforge")  # the corpusforge checkout
INPUT = Variable.get("corpusforge_input", default="/data/crawl/")  # the growing input prefix
OUTPUT = Variable.get("corpusforge_output", default="/data/corpus")  # the Delta tables' root
PROFILE = Variable.get("corpusforge_spark_profile", default="standalone")  # spark-conf/<profile>
CONN_ID = os.environ.get("CORPUSFORGE_SPARK_CONN", "spark_default")

default_args = {"owner": "data", "retries": 2, "retry_delay": timedelta(minutes=10)}

with DAG(dag_id="corpusforge_build_hourly", schedule="@hourly", start_date=datetime(2026, 1, 1), catchup=False,
         max_active_runs=1, default_args=default_args, tags=["corpusforge"],
         doc_md=__doc__) as build_dag:
    SparkSubmitOperator(
        task_id="build_corpus",
        conn_id=CONN_ID,
        application=f"{REPO}/jobs/build_corpus.py",
        properties_file=f"{REPO}/spark-conf/{PROFILE}/spark-defaults.conf",
        application_args=["--input", INPUT, "--output", OUTPUT, "--run-id", "hourly-{{ ts_nodash }}"],
        name="corpusforge-build-{{ ts_nodash }}",
        execution_timeout=timedelta(minutes=55),
    )

with DAG(dag_id="corpusforge_maintain_weekly", schedule="@weekly", start_date=datetime(2026, 1, 1), catchup=False,
         max_active_runs=1, default_args=default_args, tags=["corpusforge"]) as maintain_dag:
    SparkSubmitOperator(
        task_id="maintain",
        conn_id=CONN_ID,
        application=f"{REPO}/jobs/maintain.py",
        properties_file=f"{REPO}/spark-conf/{PROFILE}/spark-defaults.conf",
        application_args=["--output", OUTPUT, "--zorder"],
        name="corpusforge-maintain-{{ ts_nodash }}",
    )
