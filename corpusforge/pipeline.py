"""Run the configured stages over the inputs, write the tables, check the accounting.

The order of a run (DESIGN.md, commit protocol):

1. take the output lock; delete rows of earlier runs that never finished;
2. plan the inputs; skip files a finished run already processed (unless `reprocess`);
3. ingest into staging, count records per file, write the ledger rows as `started`;
4. run the stages (one frame of live and dropped rows), materialized into staging;
5. write `documents`, `dropped`, `exact_index`, `stats` (each replaced by run_id);
6. read back what was written and compare kept + dropped with the readers' counts per file;
7. commit the ledger rows as `done` — the run counts from here on.

A run killed anywhere before 7 leaves rows of an unfinished run_id only; step 1 of the next
run removes them and that run processes the same inputs again, exactly once.
"""
from __future__ import annotations

import importlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from corpusforge import failpoints
from corpusforge.config import RunConfig, config_dict, config_hash
from corpusforge.errors import AccountingError, ConfigError
from corpusforge.ingest.plan import InputPlan
from corpusforge.stage import BatchStage, Stage, run_batch_stages
from corpusforge.tables import ledger
from corpusforge.tables import fs
from corpusforge.tables.delta import read_table, run_tables, table_path, write_run_rows
from corpusforge.tables.lock import LockOptions, OutputLock

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class RunSummary:
    run_id: str
    output: str
    files_read: int = 0
    files_skipped_done: int = 0
    files_skipped_unknown_format: int = 0
    records_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # "stage/reason" → rows
    noncandidates: dict[str, int] = field(default_factory=dict)  # WARC-Type → records
    seconds: float = 0.0
    recovered_runs: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        dropped_total = sum(self.dropped.values())
        out = [
            f"run {self.run_id}: {self.files_read} files read, "
            f"{self.files_skipped_done} already done, {self.files_skipped_unknown_format} of unknown format",
            f"records read {self.records_read} = kept {self.kept} + dropped {dropped_total}",
        ]
        out += [f"  dropped {n:>7}  {key}" for key, n in sorted(self.dropped.items())]
        if self.noncandidates:
            out.append("  not documents: " + ", ".join(f"{k}={v}" for k, v in sorted(self.noncandidates.items())))
        if self.recovered_runs:
            out.append("  removed rows of unfinished runs: " + ", ".join(self.recovered_runs))
        out.append(f"wall time {self.seconds:.1f} s; tables under {self.output}: "
                   + ", ".join(run_tables(self.output)))
        return out


@dataclass(frozen=True, kw_only=True)
class StageContext:
    """What a stage factory may use to build its stage."""

    spark: object
    cfg: RunConfig
    output: str
    run_id: str


# Stage name in `pipeline.stages` → "module:factory"; a factory takes a StageContext and
# returns the Stage, or None when its config turns it off.
STAGE_FACTORIES = {
    "normalize": "corpusforge.text.stage:normalize_stage",
    "exact_dedup": "corpusforge.dedup.exact:exact_dedup_stage",
    "langid": "corpusforge.langid_stage:langid_stage",
    "filters.gopher_quality": "corpusforge.filters.stage:gopher_quality_stage",
    "filters.gopher_repetition": "corpusforge.filters.stage:gopher_repetition_stage",
    "filters.cjk": "corpusforge.filters.stage:cjk_stage",
    "filters.c4": "corpusforge.filters.stage:c4_stage",
    "filters.fineweb": "corpusforge.filters.stage:fineweb_stage",
    "pii": "corpusforge.text.pii_stage:pii_stage",
    "boilerplate": "corpusforge.text.boilerplate:boilerplate_stage",
    "minhash_dedup": "corpusforge.dedup.stage:minhash_dedup_stage",
    "dedup_lines": "corpusforge.dedup.lines:line_dedup_stage",
}


# Output name in `pipeline.outputs` → "module:function"; the function takes the StageContext
# and the kept documents (run_id column included) and writes its tables by run_id
# (tables/delta.write_run_rows), before the run is committed.
OUTPUT_WRITERS: dict[str, str] = {
    "tokens": "corpusforge.tokenize.stage:write_tokens",
    "minhash_index": "corpusforge.dedup.index:write_minhash_index",
}


def check_pipeline(cfg: RunConfig) -> None:
    """Before any work: every stage and output name is known, and each output module's
    `check_config(cfg)` passes (a missing tokenizer, say)."""
    for name in cfg.pipeline.stages:
        if name not in STAGE_FACTORIES:
            raise ConfigError(f"pipeline.stages: unknown stage {name!r}; expected one of "
                              f"{sorted(STAGE_FACTORIES)}")
    for name in cfg.pipeline.outputs:
        if name not in OUTPUT_WRITERS:
            raise ConfigError(f"pipeline.outputs: unknown output {name!r}; expected one of "
                              f"{sorted(OUTPUT_WRITERS)}")
        check = getattr(importlib.import_module(OUTPUT_WRITERS[name].partition(":")[0]), "check_config", None)
        if check is not None:
            check(cfg)


def build_stages(ctx: StageContext) -> list[Stage]:
    """The configured stages, in order, with their params."""
    check_pipeline(ctx.cfg)
    stages: list[Stage] = []
    for name in ctx.cfg.pipeline.stages:
        module_name, _, factory = STAGE_FACTORIES[name].partition(":")
        stage = getattr(importlib.import_module(module_name), factory)(ctx)
        if stage is not None:
            stages.append(stage)
    return stages


def run_pipeline(spark, cfg: RunConfig, plan: InputPlan, output: str, run_id: str, *,
                 reprocess: bool = False, stages: list[Stage] | None = None,
                 lock_options: LockOptions | None = None) -> RunSummary:
    """Run the whole pipeline for one run; see the module docstring for the order."""
    check_pipeline(cfg)  # a bad stage or output fails before the lock, the recovery and the ingest
    started = time.monotonic()
    summary = RunSummary(run_id=run_id, output=output,
                         files_skipped_unknown_format=len(plan.skipped_unknown_format))
    with OutputLock(output, run_id, spark=spark, options=lock_options,
                    on_lost=spark.sparkContext.cancelAllJobs):
        summary.recovered_runs = ledger.recover(spark, output)
        files = plan.files
        if not reprocess:
            done = ledger.done_inputs(spark, output)
            files = [f for f in files if (f.uri, f.size, ledger.millis(f.mtime)) not in done]
        summary.files_skipped_done = len(plan.files) - len(files)
        summary.files_read = len(files)
        staging = _staging_dir(output, run_id)
        if files:
            stages = stages if stages is not None else build_stages(StageContext(spark=spark, cfg=cfg, output=output, run_id=run_id))
            _run_files(spark, cfg, InputPlan(files=files), output, run_id, staging, stages, summary)
        else:
            log.info("nothing to do: every input is done (use --reprocess to redo)")
        fs.delete(spark, staging)
        summary.seconds = time.monotonic() - started
        _write_run_manifest(spark, output, run_id, cfg, summary)
    return summary


def _run_files(spark, cfg, plan, output, run_id, staging, stages, summary) -> None:
    from pyspark.sql import functions as F

    from corpusforge.ingest.stage import read_records

    started_at = datetime.now(timezone.utc)
    timings: dict[str, float] = {}
    clock = time.monotonic()
    # Materialize: the records are counted, then read by the stages; extraction runs once.
    records = _materialize(spark, read_records(spark, plan, cfg.input), staging, "records")
    timings["ingest"] = time.monotonic() - clock

    # One pass over the staged records gives both the per-file candidate counts (the ledger's
    # records_read) and the non-candidate WARC records by type (stats).
    per_file: dict[str, int] = {}
    noncandidates: dict[str, int] = {}
    for r in records.groupBy("source_uri", "candidate", "record_type").count().collect():
        if r.candidate:
            per_file[r.source_uri] = per_file.get(r.source_uri, 0) + r["count"]
        else:
            noncandidates[r.record_type] = noncandidates.get(r.record_type, 0) + r["count"]
    summary.noncandidates = noncandidates
    summary.records_read = sum(per_file.values())
    chash = config_hash(cfg)
    ledger_rows = [
        {"run_id": run_id, "input_uri": f.uri, "source_key": f.source_key, "format": f.format,
         "size": f.size, "mtime": f.mtime, "records_read": per_file.get(f.uri, 0),
         "status": "started", "config_hash": chash, "started_at": started_at, "finished_at": None}
        for f in plan.files
    ]
    ledger.write_ledger(spark, output, run_id, ledger_rows)

    frame = records.where("candidate").drop("candidate", "record_type")
    for index, group in enumerate(_fuse_batch_stages(stages)):
        if isinstance(group, list):  # consecutive row-local stages: one pass over the data
            frame = run_batch_stages(frame, group)
            continue
        group.check_schema(frame)
        if group.needs_materialized_input:
            frame = _materialize(spark, frame, staging, f"before-{index}-{group.name}")
        frame = group.flag(frame)
    clock = time.monotonic()
    final = _materialize(spark, frame.withColumn("run_id", F.lit(run_id)), staging, "final")
    timings["stages"] = time.monotonic() - clock

    clock = time.monotonic()
    kept = final.where("drop_reason IS NULL").withColumn("n_chars", F.length("text"))
    dropped = final.where("drop_reason IS NOT NULL").withColumn(
        "text", F.substring("text", 1, cfg.pipeline.dropped_text_chars))
    write_run_rows(spark, failpoints.in_task(kept, "documents_write"), output, "documents", run_id)
    failpoints.hit("after_documents")
    write_run_rows(spark, dropped, output, "dropped", run_id)
    failpoints.hit("after_dropped")
    if "text_hash" in final.columns:
        from corpusforge.text.dedup_key import DEDUP_KEY_VERSION

        index_rows = kept.where("text_hash IS NOT NULL").select(
            "text_hash", "doc_id", F.lit(DEDUP_KEY_VERSION).alias("key_version"), "run_id")
        write_run_rows(spark, index_rows, output, "exact_index", run_id)
    for name in cfg.pipeline.outputs:
        if name not in OUTPUT_WRITERS:
            raise ConfigError(f"pipeline.outputs: unknown output {name!r}; expected one of "
                              f"{sorted(OUTPUT_WRITERS)}")
        module_name, _, function = OUTPUT_WRITERS[name].partition(":")
        ctx = StageContext(spark=spark, cfg=cfg, output=output, run_id=run_id)
        getattr(importlib.import_module(module_name), function)(ctx, kept)
    timings["write"] = time.monotonic() - clock

    _check_accounting(spark, output, run_id, per_file, summary)
    stats = _stats_rows(run_id, summary, timings, plan, stages, final)
    from corpusforge.schemas import table_schema

    write_run_rows(spark, spark.createDataFrame(stats, table_schema("stats")), output, "stats", run_id)
    failpoints.hit("before_commit")
    finished_at = datetime.now(timezone.utc)
    for row in ledger_rows:
        row.update(status="done", finished_at=finished_at)
    ledger.write_ledger(spark, output, run_id, ledger_rows)  # the commit point of the run


def _fuse_batch_stages(stages: list[Stage]) -> list[Stage | list[BatchStage]]:
    """Consecutive BatchStages grouped into lists (run as one mapInArrow), other stages alone."""
    groups: list[Stage | list[BatchStage]] = []
    for stage in stages:
        if isinstance(stage, BatchStage) and not stage.needs_materialized_input:
            if groups and isinstance(groups[-1], list):
                groups[-1].append(stage)
            else:
                groups.append([stage])
        else:
            groups.append(stage)
    return groups


def _check_accounting(spark, output, run_id, per_file, summary) -> None:
    """Kept + dropped written for the run, per file, must equal the readers' counts."""
    from pyspark.sql import functions as F

    written: dict[str, int] = {}
    documents = read_table(spark, output, "documents").where(F.col("run_id") == run_id)
    for row in documents.groupBy("source_uri").count().collect():
        written[row.source_uri] = written.get(row.source_uri, 0) + row["count"]
    summary.kept = sum(written.values())
    dropped = read_table(spark, output, "dropped").where(F.col("run_id") == run_id)
    summary.dropped = {}
    for row in dropped.groupBy("source_uri", "drop_stage", "drop_reason").count().collect():
        written[row.source_uri] = written.get(row.source_uri, 0) + row["count"]
        key = f"{row.drop_stage}/{row.drop_reason}"
        summary.dropped[key] = summary.dropped.get(key, 0) + row["count"]
    mismatched = {uri: (n, written.get(uri, 0)) for uri, n in per_file.items() if written.get(uri, 0) != n}
    mismatched.update({uri: (0, n) for uri, n in written.items() if uri not in per_file})
    if mismatched:
        uri, (read, wrote) = sorted(mismatched.items())[0]
        raise AccountingError(
            f"accounting failed for run {run_id}: {len(mismatched)} file(s) differ, e.g. {uri}: "
            f"read {read} records, wrote kept + dropped = {wrote}; the run is not committed"
        )


def _stats_rows(run_id, summary, timings, plan, stages, final) -> list[dict]:
    def row(stage, metric, value):
        return {"run_id": run_id, "stage": stage, "metric": metric, "value": float(value)}

    rows = [row("ingest", "files.read", summary.files_read),
            row("ingest", "files.skipped_done", summary.files_skipped_done),
            row("ingest", "files.skipped_unknown_format", summary.files_skipped_unknown_format),
            row("ingest", "bytes.read", plan.total_bytes),
            row("ingest", "records.read", summary.records_read),
            row("pipeline", "documents.kept", summary.kept)]
    rows += [row("ingest", f"records.not_document.{t}", n) for t, n in summary.noncandidates.items()]
    for key, n in summary.dropped.items():
        stage, reason = key.split("/", 1)
        rows.append(row(stage, f"dropped.{reason}", n))
    rows += [row(phase, "seconds", s) for phase, s in timings.items()]
    for stage in stages:
        rows += [row(stage.name, metric, value) for metric, value in stage.stats_from(final).items()]
    return rows


def _staging_dir(output: str, run_id: str) -> str:
    return table_path(output, f"_staging/{run_id}")


def _materialize(spark, df, staging: str, step: str):
    """Write `df` to staging Parquet and read it back: later reads reuse it, never recompute."""
    path = f"{staging}/{step}"
    df.write.mode("overwrite").parquet(path)
    return spark.read.parquet(path)


def _write_run_manifest(spark, output: str, run_id: str, cfg: RunConfig, summary: RunSummary) -> None:
    """The resolved config and the summary of the run, beside the tables (`_runs/<run>.json`)."""
    payload = {"run_id": run_id, "config_hash": config_hash(cfg), "config": config_dict(cfg),
               "summary": {k: v for k, v in summary.__dict__.items()}}
    fs.write_text(spark, fs.join(output, "_runs", f"{run_id}.json"), json.dumps(payload, indent=1, default=str))
