"""Run the configured stages over the inputs, write the tables, check the accounting.

A run is a sequence of named steps (DESIGN.md, commit protocol):

1. `check_pipeline` — before any work (also in --dry-run): every stage and output name is
   known, each output's config is usable, and each stage's input columns are provided by ingest
   or an earlier stage;
2. take the output lock; `recover` deletes rows of earlier runs that never finished;
3. `select_files` — skip files a finished run already processed (unless `reprocess`);
   `superseded_inputs` — files a finished run read at another size or mtime (modified);
4. `ingest` — read the records into staging; `count_records` per file;
   `write_ledger_started` records the counts with the ledger rows as `started`;
5. `run_stages` — one frame of live and dropped rows, staged unless it is the staged records
   joined with the stages' staged drops;
6. `write_tables` — `documents`, `dropped`, `exact_index` and the configured outputs (each
   replaced by run_id; the rows of the superseded files go in the same commits);
7. `check_accounting` — read back what was written and compare kept + dropped with the
   readers' counts per file; `write_stats`;
8. `commit_ledger` — the ledger rows as `done`: the run counts from here on;
9. `report_after_run` — `<output>/_runs/<run_id>/report.html` (a failure is a warning).

Each step logs a line as it starts and one as it ends, with counts and time (progress.Phase).

A run killed anywhere before 8 leaves rows of an unfinished run_id only; step 2 of the next
run removes them and that run processes the same inputs again, exactly once.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone

from corpusforge import failpoints
from corpusforge.config import RunConfig, config_dict, config_hash
from corpusforge.dedup.lsh import BAND_HASHES_COLUMN, SIGNATURE_COLUMN
from corpusforge.errors import AccountingError, ConfigError
from corpusforge.ingest.plan import InputFile, InputPlan
from corpusforge.pipeline import registry
from corpusforge.pipeline.registry import StageContext, staging_dir
from corpusforge.progress import Phase, RunClock
from corpusforge.stages.base import DROP_COLUMNS, BatchStage, Stage, run_batch_stages, stage_frame
from corpusforge.stages.exact_dedup import share_dedup_key
from corpusforge.tables import ledger
from corpusforge.tables import fs
from corpusforge.tables.delta import read_table, run_tables, write_run_rows
from corpusforge.tables.lock import LockOptions, OutputLock

log = logging.getLogger(__name__)

# Frame columns a table does not store, by table: the drop columns of kept rows (always null),
# the MinHash columns left for the minhash_index writer, and what `dropped` leaves out of the
# judged text's row. Any other column the schema does not declare is a SchemaError at write.
NOT_STORED = {
    "documents": (*DROP_COLUMNS, SIGNATURE_COLUMN, BAND_HASHES_COLUMN),
    # `quality` stays: the report shows the signals of the rows a filter dropped.
    "dropped": ("lang_score", "text_hash", "metadata", SIGNATURE_COLUMN, BAND_HASHES_COLUMN),
}
# Nullable table columns that only an optional stage provides (langid, exact_dedup, the quality
# stages): a run without that stage writes them as null. Every other declared column must be
# in the frame.
OPTIONAL_STAGE_COLUMNS = ("lang", "lang_score", "text_hash", "quality")

__all__ = ["RunSummary", "StageContext", "check_pipeline", "check_stage_columns", "build_stages", "run_pipeline"]


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
    files_superseded: int = 0  # modified files read again; their earlier rows were replaced
    report: str = ""  # path of the run's HTML report ('' when none was written)

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
        if self.files_superseded:
            out.append(f"  {self.files_superseded} modified file(s) read again: their earlier rows were replaced")
        out.append(f"wall time {self.seconds:.1f} s; tables under {self.output}: "
                   + ", ".join(run_tables(self.output)))
        if self.report:
            out.append(f"report: {self.report}")
        return out


def check_pipeline(cfg: RunConfig) -> None:
    """Before any work: every stage and output name is known, each output module's
    `check_config(cfg)` passes (a missing tokenizer, say), and every stage's input columns are
    there (`check_stage_columns`)."""
    from corpusforge.stages.ingest import record_columns

    registry.check_names(cfg)
    for name in cfg.pipeline.outputs:
        check = registry.output_check(name)
        if check is not None:
            check(cfg)
    check_stage_columns(cfg.pipeline.stages, record_columns())


def check_stage_columns(stage_names: tuple[str, ...] | list[str], ingest_columns: tuple[str, ...]) -> None:
    """Walk the stage list with the columns ingest gives and each stage's `requires`/`provides`:
    a column a stage reads that neither ingest nor an earlier stage provides is a ConfigError
    naming the column, the stage, and the stage that would provide it.

    >>> check_stage_columns(["normalize", "langid", "filters.c4"], ("doc_id", "text", "drop_stage", "drop_reason", "detail"))
    >>> check_stage_columns(["normalize", "filters.c4"], ("doc_id", "text", "drop_stage", "drop_reason", "detail"))
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: pipeline.stages: stage 'filters.c4' needs column 'lang', which neither ingest nor an earlier stage provides; put 'langid' before it
    """
    available = set(ingest_columns) | set(DROP_COLUMNS)
    for name in stage_names:
        cls = registry.stage_class(name)
        for column in cls.requires:
            if column.startswith("_"):  # a stage-internal column, joined in by the stage itself
                continue
            if column not in available:
                providers = [n for n in registry.STAGES
                             if column in {c for c, _ in registry.stage_class(n).provides}]
                hint = f"; put {providers[0]!r} before it" if providers else ""
                raise ConfigError(f"pipeline.stages: stage {name!r} needs column {column!r}, which neither "
                                  f"ingest nor an earlier stage provides{hint}")
        available.update(column for column, _ in cls.provides)


def build_stages(ctx: StageContext) -> list[Stage]:
    """The configured stages, in order, with their params."""
    check_pipeline(ctx.cfg)
    return [registry.stage_factory(name)(ctx) for name in ctx.cfg.pipeline.stages]


def run_pipeline(spark, cfg: RunConfig, plan: InputPlan, output: str, run_id: str, *,
                 reprocess: bool = False, stages: list[Stage] | None = None,
                 lock_options: LockOptions | None = None, clock: RunClock | None = None) -> RunSummary:
    """Run the whole pipeline for one run; see the module docstring for the steps.

    Every step is a phase of `clock` (the caller's, which also timed the start-up; else a new
    one from now): the `stats` rows get the phases up to the accounting, and `_runs/<run>.json`
    all of them, the ledger commit included.
    """
    check_pipeline(cfg)  # a bad stage or output fails before the lock, the recovery and the ingest
    clock = clock or RunClock(started=time.time())
    started = time.monotonic()
    summary = RunSummary(run_id=run_id, output=output,
                         files_skipped_unknown_format=len(plan.skipped_unknown_format))
    ctx = StageContext(spark=spark, cfg=cfg, output=output, run_id=run_id)
    with clock.collecting(), ExitStack() as held:
        with Phase("lock"):
            held.enter_context(OutputLock(output, run_id, spark=spark, options=lock_options,
                                          on_lost=spark.sparkContext.cancelAllJobs))
        with Phase("recover") as phase:
            summary.recovered_runs = ledger.recover(spark, output)
            phase.counts.update(unfinished_runs=len(summary.recovered_runs))
        with Phase("select files") as phase:
            done = ledger.done_inputs(spark, output)
            files = select_files(spark, plan, output, reprocess=reprocess, done=done)
            ctx = dataclasses.replace(ctx, superseded=superseded_inputs(files, done))
            summary.files_skipped_done = len(plan.files) - len(files)
            summary.files_read = len(files)
            summary.files_superseded = len(ctx.superseded)
            phase.counts.update(to_read=len(files), done_before=summary.files_skipped_done,
                                modified=len(ctx.superseded))
        staging = staging_dir(output, run_id)
        if files:
            with Phase("plan stages"):  # reads the indexes of earlier runs (minhash_index)
                stages = stages if stages is not None else build_stages(ctx)
            _run_files(ctx, dataclasses.replace(plan, files=files), staging, stages, summary, clock)
        else:
            log.info("nothing to do: every input is done (use --reprocess to redo)")
        with Phase("cleanup"):
            fs.delete(spark, staging)
        summary.seconds = time.monotonic() - started
        with Phase("manifest"):
            _write_run_manifest(spark, output, run_id, cfg, summary, clock)
        with Phase("report"):
            from corpusforge.report.html import report_after_run

            written = report_after_run(output, run_id)
            summary.report = str(written) if written else ""
    return summary


def select_files(spark, plan: InputPlan, output: str, *, reprocess: bool,
                 done: set[tuple[str, int, int]] | None = None) -> list[InputFile]:
    """The plan's files a finished run has not processed yet (all of them with `reprocess`);
    `done` is ledger.done_inputs when the caller has read it already."""
    if reprocess:
        return list(plan.files)
    done = ledger.done_inputs(spark, output) if done is None else done
    return [f for f in plan.files if (f.uri, f.size, ledger.millis(f.mtime)) not in done]


def superseded_inputs(files: list[InputFile], done: set[tuple[str, int, int]]) -> tuple[str, ...]:
    """URIs among `files` that a finished run read at another size or mtime: new versions of
    those inputs, whose earlier rows this run replaces (examples/scheduled/README.md). An
    unchanged file read again with --reprocess is not one: its copies are dropped as seen.

    >>> from datetime import datetime
    >>> f = InputFile(uri="file:/in/a.jsonl", source="in", source_key="in/a.jsonl", format="jsonl", size=10,
    ...               mtime=datetime(2026, 1, 1))
    >>> superseded_inputs([f], {("file:/in/a.jsonl", 9, 0)}), superseded_inputs([f], {("file:/in/a.jsonl", 10, 1767225600000)})
    (('file:/in/a.jsonl',), ())
    """
    done_uris = {uri for uri, _size, _mtime in done}
    return tuple(sorted(f.uri for f in files
                        if f.uri in done_uris and (f.uri, f.size, ledger.millis(f.mtime)) not in done))


def _run_files(ctx: StageContext, plan: InputPlan, staging: str, stages: list[Stage], summary: RunSummary,
               clock: RunClock) -> None:
    """Steps 4 to 8 of the module docstring, for the files still to do."""
    spark, cfg, output, run_id = ctx.spark, ctx.cfg, ctx.output, ctx.run_id
    started_at = datetime.now(timezone.utc)

    stages = share_dedup_key(stages)  # exact then MinHash dedup: one dedup key for both
    groups = _fuse_batch_stages(stages)
    leading = groups.pop(0) if groups and isinstance(groups[0], list) else []
    with Phase("ingest") as phase:
        with Phase(" ".join(["read", *(["+", "+".join(stage.name for stage in leading)] if leading else [])])):
            records = ingest(spark, cfg, plan, staging, leading)
        with Phase("count"):
            per_file, summary.noncandidates = count_records(records)
        summary.records_read = sum(per_file.values())
        with Phase("ledger"):
            ledger_rows = write_ledger_started(spark, cfg, plan, output, run_id, per_file, started_at)
        phase.counts.update(files=len(plan.files), records=summary.records_read)

    with Phase("stages") as phase:
        final = run_stages(spark, records, groups, staging, run_id)
        phase.counts.update(stages=len(stages))

    with Phase("write") as phase:
        write_tables(ctx, final)
        phase.counts.update(outputs=len(cfg.pipeline.outputs))

    with Phase("accounting") as phase:
        check_accounting(spark, output, run_id, per_file, summary)
        phase.counts.update(kept=summary.kept, dropped=sum(summary.dropped.values()))
    with Phase("stats"):  # the phases so far; the stats write and the commit are in _runs/<run>.json
        write_stats(spark, output, run_id, _stats_rows(run_id, summary, clock.timings, plan, stages, final))
    failpoints.hit("before_commit")
    with Phase("commit"):
        commit_ledger(spark, output, run_id, ledger_rows)


def ingest(spark, cfg: RunConfig, plan: InputPlan, staging: str, leading: list[BatchStage] = ()):
    """Every record of the plan's files, materialized: the records are counted, then read by the
    stages, and extraction runs once.

    The `leading` row-local stages (the pipeline's first ones, e.g. normalize) run on the
    document candidates in the reader's own Python worker, which saves writing and reading every
    text once more, and its trip through the JVM between the reader and them.
    The readers' counts stay what they were: those stages keep every row (`BatchStage.apply_batch`
    refuses a batch that lost or gained rows) and leave the other WARC records alone.
    """
    from corpusforge.stages.ingest import read_records, stage_records

    local = fs.local_path(staging)
    if local is not None:  # the workers write the records themselves (stage_records)
        return stage_records(spark, plan, cfg.input, list(leading), local / "records")
    records = read_records(spark, plan, cfg.input, list(leading))
    return stage_frame(records, staging, "records")


def count_records(records) -> tuple[dict[str, int], dict[str, int]]:
    """One pass over the staged records: candidates per file (the ledger's records_read) and the
    non-candidate WARC records by type (stats)."""
    per_file: dict[str, int] = {}
    noncandidates: dict[str, int] = {}
    for r in records.groupBy("source_uri", "candidate", "record_type").count().collect():
        if r.candidate:
            per_file[r.source_uri] = per_file.get(r.source_uri, 0) + r["count"]
        else:
            noncandidates[r.record_type] = noncandidates.get(r.record_type, 0) + r["count"]
    return per_file, noncandidates


def write_ledger_started(spark, cfg: RunConfig, plan: InputPlan, output: str, run_id: str,
                         per_file: dict[str, int], started_at: datetime) -> list[dict]:
    """Write the run's ledger rows as `started`, with the readers' counts; returns the rows."""
    chash = config_hash(cfg)
    rows = [
        {"run_id": run_id, "input_uri": f.uri, "source_key": f.source_key, "format": f.format,
         "size": f.size, "mtime": f.mtime, "records_read": per_file.get(f.uri, 0),
         "status": "started", "config_hash": chash, "started_at": started_at, "finished_at": None}
        for f in plan.files
    ]
    ledger.write_ledger(spark, output, run_id, rows)
    return rows


def run_stages(spark, records, groups: list[Stage | list[BatchStage]], staging: str, run_id: str):
    """The candidate records through the stage groups (`_fuse_batch_stages`: consecutive
    row-local stages fused into one pass), with `run_id`. The result is read by every table
    write, so it is staged when reading it would run stage work again; after stages that mark
    their drops by a join (`Stage.marks_by_join`, the dedup stages) it is not: each read is then
    a scan of the staged records and a join with the small frames of drops, and the text is
    written once less.

    Each materialization is a phase named after the stages whose work it runs: row-local
    stages and the lazy parts of the others run there, not where they were declared.
    """
    from pyspark.sql import functions as F

    frame = records.where("candidate").drop("candidate", "record_type")
    pending: list[str] = []  # stages whose work the next materialization runs
    for index, group in enumerate(groups):
        if isinstance(group, list):  # consecutive row-local stages: one pass over the data
            frame = run_batch_stages(frame, group)
            pending += [stage.name for stage in group]
            continue
        group.check_schema(frame)
        if group.needs_materialized_input and pending:  # else: a filter of staged records, cheap to read twice
            with Phase(_pass_name(pending)):
                frame = stage_frame(frame, staging, f"before-{index}-{group.name}")
            pending = []
        with Phase(group.name):  # the stage's own jobs (signatures, LSH, components, its drops)
            frame = group.flag(frame)
        if not group.marks_by_join:
            pending.append(group.name)
    frame = frame.withColumn("run_id", F.lit(run_id))
    if not pending:
        return frame
    with Phase(_pass_name(pending)):
        return stage_frame(frame, staging, "final")


def _pass_name(stage_names: list[str]) -> str:
    """The phase of a materialization: the stages whose (lazy) work it runs, in one pass.

    >>> _pass_name(["normalize", "langid"]), _pass_name([])
    ('pass normalize+langid', 'pass')
    """
    return " ".join(["pass", "+".join(stage_names)]).strip()


def write_tables(ctx: StageContext, final) -> None:
    """`documents`, `dropped`, `exact_index` (when exact dedup ran) and the configured outputs,
    each replaced by run_id."""
    from pyspark.sql import functions as F

    from corpusforge.outputs.exact_index import write_exact_index

    spark, output, run_id = ctx.spark, ctx.output, ctx.run_id
    kept = final.where("drop_reason IS NULL").withColumn("n_chars", F.length("text"))
    dropped = final.where("drop_reason IS NOT NULL").withColumn(
        "text", F.substring("text", 1, ctx.cfg.pipeline.dropped_text_chars))
    documents = kept.drop(*NOT_STORED["documents"])
    # Each write replaces this run's rows and, in the same commit, the rows earlier runs wrote
    # from the files this run reads again as new versions (ctx.superseded).
    with Phase("documents"):
        write_run_rows(spark, failpoints.in_task(documents, "documents_write"), output, "documents", run_id,
                       fill=OPTIONAL_STAGE_COLUMNS, supersede=ctx.superseded)
    failpoints.hit("after_documents")
    with Phase("dropped"):
        write_run_rows(spark, dropped.drop(*NOT_STORED["dropped"]), output, "dropped", run_id,
                       fill=OPTIONAL_STAGE_COLUMNS, supersede=ctx.superseded)
    failpoints.hit("after_dropped")
    with Phase("exact_index"):
        write_exact_index(ctx, kept)
    for name in ctx.cfg.pipeline.outputs:
        with Phase(name):
            registry.output_writer(name)(ctx, kept)


def check_accounting(spark, output: str, run_id: str, per_file: dict[str, int], summary: RunSummary) -> None:
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


def write_stats(spark, output: str, run_id: str, rows: list[dict]) -> None:
    """The run's `stats` rows (exact counts and timings per phase and stage)."""
    from corpusforge.schemas import table_schema

    write_run_rows(spark, spark.createDataFrame(rows, table_schema("stats")), output, "stats", run_id)


def commit_ledger(spark, output: str, run_id: str, ledger_rows: list[dict]) -> None:
    """Mark the run's ledger rows `done`: the commit point of the run."""
    finished_at = datetime.now(timezone.utc)
    for row in ledger_rows:
        row.update(status="done", finished_at=finished_at)
    ledger.write_ledger(spark, output, run_id, ledger_rows)


def _fuse_batch_stages(stages: list[Stage]) -> list[Stage | list[BatchStage]]:
    """Consecutive BatchStages grouped into lists (run as one mapInArrow), other stages alone;
    a stage's `prelude` goes just before it, so it joins the row-local stages before it."""
    groups: list[Stage | list[BatchStage]] = []
    for stage in [s for stage in stages for s in (stage.prelude(), stage) if s is not None]:
        if isinstance(stage, BatchStage) and not stage.needs_materialized_input:
            if groups and isinstance(groups[-1], list):
                groups[-1].append(stage)
            else:
                groups.append([stage])
        else:
            groups.append(stage)
    return groups


def _stats_rows(run_id, summary, timings: dict[str, float], plan, stages, final) -> list[dict]:
    """The run's counts, and `seconds` per phase path ("stages/dedup.minhash/components")."""
    def row(stage, metric, value):
        return {"run_id": run_id, "stage": stage, "metric": metric, "value": float(value)}

    rows = [row("ingest", "files.read", summary.files_read),
            row("ingest", "files.skipped_done", summary.files_skipped_done),
            row("ingest", "files.skipped_unknown_format", summary.files_skipped_unknown_format),
            row("ingest", "files.superseded", summary.files_superseded),
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


def _write_run_manifest(spark, output: str, run_id: str, cfg: RunConfig, summary: RunSummary,
                        clock: RunClock) -> None:
    """The resolved config, the summary and the phases so far (the commit included), beside the
    tables (`_runs/<run>.json`); `seconds_since_start` is the wall time since the process (the
    spark-submit JVM) started."""
    payload = {"run_id": run_id, "config_hash": config_hash(cfg), "config": config_dict(cfg),
               "summary": dict(summary.__dict__),
               "phases": dict(clock.timings), "seconds_since_start": clock.wall()}
    fs.write_text(spark, fs.join(output, "_runs", f"{run_id}.json"), json.dumps(payload, indent=1, default=str))
