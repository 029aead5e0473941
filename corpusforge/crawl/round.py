"""The crawl cycle on Spark: inject seeds, then rounds of generate → fetch → parse → updatedb.

This is the thin layer: the policy lives in the pure modules beside it (urls, robots, guard,
schedule, fetch, parse). Layout under the crawl's output DIR:

    DIR/crawldb              Delta, one row per URL (schemas/crawldb.json)
    DIR/robots               Delta, one row per robots.txt answer reused by later rounds (schemas/robots.json)
    DIR/warc/*.warc.gz       WARC/1.1 files of committed rounds: what build_corpus reads
    DIR/stats, DIR/ledger    per round (run_id = round id), in build_corpus's style
    DIR/_staging/<round>/    a round in progress: fetch list, results, timings
    <local>/<round>/warc/    the round's WARC files until they are published (see below)

DIR may be on any filesystem build_corpus writes to (`file://`, `s3a://`, `hdfs://`): the driver
reaches it through Spark and tables/fs.py, and holds it with the lease lock (tables/lock.py)
for the whole run. Fetch tasks write WARC files with plain file I/O into a local directory:
DIR/_staging/<round>/warc when DIR is local, else crawl.local_dir (default the system temp
dir) — in local mode, or on a cluster where that directory is shared. The finish step
publishes them to DIR/warc/ through tables/fs.py (a rename, or an upload).

A round, and where it commits:
1. generate: due URLs (next_fetch_time <= now), best score first, at most max_pages_per_host
   per host and what is left of max_pages in all → staged as Parquet;
2. fetch + parse: the fetch list grouped into one queue per host; the queues are spread over
   Spark tasks (host i → task i mod n), and each task runs its queues on threads, one thread
   and one connection per host, into one WARC file per task attempt in staging; results are
   staged as Parquet, written once (the fetch has side effects and must never re-run);
3. accounting, from what was written: generated = fetched + failed + skipped (each URL once),
   and each WARC file's response records = the fetched rows that name it;
4. updatedb: one Delta MERGE into the crawldb (results update their rows, new outlinks are
   inserted) whose commit carries the round id as userMetadata — the commit point;
5. finish: the WARC files the results name move to DIR/warc/, the robots.txt answers the round
   fetched are merged into DIR/robots, stats and ledger rows are written, staging is removed.

A run killed before 4 leaves only staging: the next run discards it (its WARC files never
reach DIR/warc/) and, since the crawldb did not change, fetches those URLs again. Killed
after 4, the next run finds the round id in the crawldb's history and does 5. So no page is
fetched twice by committed rounds, and none is counted twice.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from corpusforge import failpoints
from corpusforge.crawl.config import CrawlConfig, CrawlParams, config_dict, crawl_config_hash
from corpusforge.crawl.fetch import HostQueue, WarcSink, fetch_host_queue
from corpusforge.crawl.schedule import outlink_score, transition
from corpusforge.crawl.urls import host_of
from corpusforge.crawl.robots import RobotsPolicy
from corpusforge.errors import AccountingError, ConfigError
from corpusforge.tables import fs, ledger
from corpusforge.tables.delta import read_table, table_exists, table_path, write_run_rows
from corpusforge.tables.lock import LockOptions, OutputLock, ensure_lease

log = logging.getLogger(__name__)

CRAWLDB = "crawldb"
ROBOTS = "robots"
ROBOTS_FIELDS = "robots_url:string,outcome:string,http_status:int,body:string,fetch_time:timestamp"
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
RESULT_FIELDS = (
    ("url", "string"), ("host", "string"), ("depth", "int"), ("score", "double"),
    ("prev_status", "string"), ("outcome", "string"), ("reason", "string"),
    ("http_status", "int"), ("fetch_time", "timestamp"), ("content_type", "string"),
    ("content_length", "bigint"), ("truncated", "boolean"), ("digest", "string"),
    ("redirect_to", "string"), ("outlinks", "array<struct<url:string,host:string>>"),
    ("outlinks_dropped", "map<string,int>"), ("warc_file", "string"), ("status", "string"),
    ("retries", "int"), ("next_fetch_time", "timestamp"),
    ("robots", f"struct<{ROBOTS_FIELDS}>"),  # the robots.txt answer fetched for this URL, to store
)


@dataclass(kw_only=True)
class RoundSummary:
    round_id: str
    generated: int = 0
    hosts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # "fetched" / "failed.<reason>" / "skipped.<reason>"
    http: dict[int, int] = field(default_factory=dict)
    new_urls: int = 0
    warc_files: list[str] = field(default_factory=list)
    per_file: dict[str, int] = field(default_factory=dict)  # WARC file → fetched rows (responses)
    totals: dict[str, int] = field(default_factory=dict)  # bytes, truncated, outlinks, robots (answers fetched)
    seconds: dict[str, float] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(n for key, n in self.outcomes.items() if key.split(".", 1)[0] == outcome)

    def line(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()) if "." in k)
        http = ", ".join(f"{k}:{v}" for k, v in sorted(self.http.items()))
        return (f"round {self.round_id}: generated {self.generated} on {self.hosts} hosts = fetched "
                f"{self.count('fetched')} + failed {self.count('failed')} + skipped {self.count('skipped')}"
                f"{' (' + reasons + ')' if reasons else ''}; HTTP {http or '-'}; new URLs {self.new_urls}; "
                f"fetch {self.seconds.get('fetch', 0):.1f} s, round {sum(self.seconds.values()):.1f} s")


@dataclass(kw_only=True)
class CrawlSummary:
    run_id: str
    output: str
    injected: int = 0
    rounds: list[RoundSummary] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # "finished <round>" / "discarded <round>"

    def lines(self) -> list[str]:
        out = [f"crawl {self.run_id}: {self.injected} new seed URLs; output {self.output}"]
        out += [f"  {line}" for line in self.recovered]
        out += [r.line() for r in self.rounds]
        if not self.rounds or self.rounds[-1].generated == 0:
            out.append("nothing (more) is due: the crawl stops here")
        return out


def run_crawl(spark, cfg: CrawlConfig, seeds: list[str], output: str, *, rounds: int,
              run_id: str, lock_options: LockOptions | None = None) -> CrawlSummary:
    """Inject `seeds` and run up to `rounds` rounds; see the module docstring."""
    p = cfg.crawl
    if not fs.is_local(output) and not p.local_dir and not spark.sparkContext.master.startswith("local"):
        raise ConfigError(f"--output {output}: on a cluster, a remote crawl output needs crawl.local_dir, a "
                          "directory the driver and every executor share, for the WARC files being written")
    summary = CrawlSummary(run_id=run_id, output=output)
    with OutputLock(output, run_id, spark=spark, options=lock_options,
                    on_lost=spark.sparkContext.cancelAllJobs):
        summary.recovered = recover(spark, cfg, output)
        summary.injected = inject(spark, output, seeds, run_id)
        budget = p.max_pages
        for number in range(1, rounds + 1):
            if budget <= 0:
                break
            result = run_round(spark, cfg, output, f"{run_id}-r{number}", budget)
            summary.rounds.append(result)
            budget -= result.generated
            if result.generated == 0:
                break
    return summary


def _result_schema():
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(", ".join(f"{name}: {kind}" for name, kind in RESULT_FIELDS))


def _staging(output: str, round_id: str) -> str:
    """The round's staging on the output's filesystem: fetch list, results, timings."""
    return fs.join(output, "_staging", round_id)


def _warc_staging(p: CrawlParams, output: str, round_id: str) -> Path:
    """The local directory the round's fetch tasks write WARC files into (module docstring)."""
    if not p.local_dir and fs.is_local(output):
        return fs.local_path(output) / "_staging" / round_id / "warc"
    # One directory per output, so two crawls sharing a temp dir never meet.
    key = hashlib.sha256(output.rstrip("/").encode("utf-8")).hexdigest()[:16]
    return Path(p.local_dir or tempfile.gettempdir()) / "corpusforge-crawl" / key / round_id / "warc"


def _set_commit_metadata(spark, value: str | None) -> None:
    if value is None:
        spark.conf.unset(USER_METADATA)
    else:
        spark.conf.set(USER_METADATA, value)


def committed_rounds(spark, output: str) -> set[str]:
    """Round ids whose updatedb committed: the userMetadata of the crawldb's history."""
    from delta.tables import DeltaTable

    if not table_exists(spark, output, CRAWLDB):
        return set()
    history = DeltaTable.forPath(spark, table_path(output, CRAWLDB)).history()
    return {r.userMetadata for r in history.select("userMetadata").collect() if r.userMetadata}


def _crawldb_rows(df):
    """The crawldb columns of `df`, in the table's order and types. The columns it lacks are
    null by design (a URL just found has no fetch, status code or digest yet), so they are
    named as `fill`; its other columns (a result's outlinks) are not the crawldb's."""
    from corpusforge.schemas import conform, table_schema

    names = [f.name for f in table_schema(CRAWLDB).fields]
    return conform(df.select([c for c in names if c in df.columns]), CRAWLDB,
                   fill=tuple(c for c in names if c not in df.columns))


def inject(spark, output: str, seeds: list[str], run_id: str) -> int:
    """Add the seed URLs (already normalized) the crawldb lacks; return how many were new."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from corpusforge.schemas import table_schema

    if not table_exists(spark, output, CRAWLDB):
        spark.createDataFrame([], table_schema(CRAWLDB)).write.format("delta").save(table_path(output, CRAWLDB))
    now = datetime.now(timezone.utc)
    rows = [(url, host_of(url)) for url in dict.fromkeys(seeds)]
    seeds_df = (spark.createDataFrame(rows, "url string, host string")
                .withColumn("status", F.lit("unfetched")).withColumn("next_fetch_time", F.lit(now))
                .withColumn("retries", F.lit(0)).withColumn("depth", F.lit(0))
                .withColumn("score", F.lit(outlink_score(0))).withColumn("first_seen", F.lit(now))
                .withColumn("discovered_round", F.lit(f"inject-{run_id}")))
    table = DeltaTable.forPath(spark, table_path(output, CRAWLDB))
    ensure_lease(output)
    _set_commit_metadata(spark, f"inject-{run_id}")
    try:
        table.alias("t").merge(_crawldb_rows(seeds_df).alias("s"), "t.url = s.url") \
            .whenNotMatchedInsertAll().execute()
    finally:
        _set_commit_metadata(spark, None)
    metrics = table.history(1).select("operationMetrics").first().operationMetrics or {}
    return int(metrics.get("numTargetRowsInserted", 0))


def generate(spark, p: CrawlParams, output: str, now: datetime, budget: int):
    """The fetch list: due URLs, best score first (then url), ≤ max_pages_per_host per host,
    ≤ `budget` in all, with each host's earliest next request (epoch s) as `not_before`."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    db = read_table(spark, output, CRAWLDB)
    per_host = Window.partitionBy("host").orderBy(F.desc("score"), F.asc("url"))
    due = (db.where(F.col("next_fetch_time") <= F.lit(now))
           .withColumn("rank", F.row_number().over(per_host))
           .where(F.col("rank") <= p.max_pages_per_host)
           .orderBy(F.desc("score"), F.asc("url")).limit(budget)
           .select("url", "host", "depth", "score", "status", "retries"))
    last = db.groupBy("host").agg(
        (F.unix_micros(F.max("fetch_time")) / 1e6 + F.lit(p.delay_s)).alias("not_before"))
    return due.join(last, "host", "left").fillna({"not_before": 0.0})


def run_round(spark, cfg: CrawlConfig, output: str, round_id: str, budget: int) -> RoundSummary:
    """One round; see the module docstring for its steps and commit point."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    p = cfg.crawl
    summary = RoundSummary(round_id=round_id)
    staging = _staging(output, round_id)
    warc_staging = _warc_staging(p, output, round_id)
    fs.delete(spark, staging)
    shutil.rmtree(warc_staging, ignore_errors=True)
    warc_staging.mkdir(parents=True)
    clock = time.monotonic()
    now = datetime.now(timezone.utc)
    generate(spark, p, output, now, budget).write.parquet(fs.join(staging, "fetchlist"))
    fetchlist = spark.read.parquet(fs.join(staging, "fetchlist"))
    counts = fetchlist.agg(F.count("*").alias("urls"), F.countDistinct("host").alias("hosts")).first()
    summary.generated, summary.hosts = counts.urls, counts.hosts
    summary.seconds["generate"] = time.monotonic() - clock
    if summary.generated == 0:
        fs.delete(spark, staging)
        shutil.rmtree(warc_staging.parent, ignore_errors=True)
        return summary

    clock = time.monotonic()
    queues = fetchlist.groupBy("host").agg(
        F.first("not_before").alias("not_before"),
        F.sort_array(F.collect_list(F.struct(
            (-F.col("score")).alias("order"), "url", "depth", "score", "status", "retries"))).alias("items"))
    queues = (queues.join(stored_robots(spark, p, output, now), "host", "left")
              .withColumn("index", F.row_number().over(Window.orderBy("host")) - 1))
    tasks = min(summary.hosts, p.fetch_tasks or spark.sparkContext.defaultParallelism)
    fetch = _fetch_partition_fn(p, round_id, str(warc_staging), crawl_config_hash(cfg))
    fetched = (queues.rdd.map(lambda q: (q["index"] % tasks, q))
               .partitionBy(tasks, lambda key: key)
               .mapPartitionsWithIndex(fetch))
    # Written once and read back: fetching has side effects (requests, WARC files), so the
    # results must never be recomputed by a second action.
    spark.createDataFrame(fetched, _result_schema()).write.parquet(fs.join(staging, "results"))
    summary.seconds["fetch"] = time.monotonic() - clock
    _write_timings(spark, staging, summary.seconds)

    check_round(spark, p, output, round_id, summary)
    failpoints.hit("crawl_before_updatedb")
    clock = time.monotonic()
    updatedb(spark, p, output, round_id)
    summary.seconds["updatedb"] = time.monotonic() - clock
    _write_timings(spark, staging, summary.seconds)
    failpoints.hit("crawl_before_finish")
    finish_round(spark, cfg, output, round_id, summary)
    return summary


def _fetch_partition_fn(p: CrawlParams, round_id: str, warc_dir: str, chash: str):
    """The function each fetch task runs over its host queues (shipped to the executors)."""
    names = [name for name, _ in RESULT_FIELDS]

    def fetch_partition(index, pairs):
        from pyspark import TaskContext

        context = TaskContext.get()
        attempt = context.attemptNumber() if context else 0
        queues = [HostQueue(host=q["host"], not_before=q["not_before"] or 0.0,
                            items=[item.asDict() for item in q["items"]],
                            robots={r["robots_url"]: RobotsPolicy(outcome=r["outcome"], text=r["body"] or "",
                                                                  status=r["http_status"])
                                    for r in q["robots"] or ()})
                  for _key, q in pairs]
        if not queues:
            return
        path = f"{warc_dir}/crawl-{round_id}-{index:05d}-{attempt}.warc.gz"
        info = {"software": "corpusforge crawler", "format": "WARC File Format 1.1",
                "isPartOf": round_id, "http-header-user-agent": p.user_agent,
                "robots": "classic (RFC 9309)", "config-hash": chash}
        with WarcSink(path, info) as sink, \
                ThreadPoolExecutor(max_workers=min(len(queues), p.threads_per_task)) as pool:
            for queue, results in zip(queues, pool.map(lambda q: fetch_host_queue(q, p, sink=sink), queues)):
                for item, result in zip(queue.items, results):
                    yield tuple(_result_values(queue.host, item, result, p)[name] for name in names)

    return fetch_partition


def _result_values(host: str, item: dict, result: dict, p: CrawlParams) -> dict:
    now = datetime.now(timezone.utc)
    state = transition(outcome=result["outcome"], reason=result["reason"], http_status=result["http_status"],
                       prev_status=item["status"], prev_retries=item["retries"], now=now, p=p)
    return {**result, "host": host, "depth": item["depth"], "score": item["score"],
            "prev_status": item["status"], "status": state.status, "retries": state.retries,
            "next_fetch_time": state.next_fetch_time,
            "reason": (state.reason if state.reason == "crawl.retries_exhausted" or
                       (result["outcome"] == "fetched" and not result["reason"]) else result["reason"]),
            "outlinks": [(url, host_of(url)) for url in result["outlinks"]]}


def stored_robots(spark, p: CrawlParams, output: str, now: datetime):
    """host → `robots`: the robots.txt answers of DIR/robots younger than robots_max_age_s, as
    an array of (robots_url, outcome, http_status, body) per host (a host's http and https,
    or two ports, are two answers)."""
    from pyspark.sql import functions as F

    fields = [f for f in ROBOTS_FIELDS.split(",") if not f.startswith("fetch_time")]
    if p.robots_max_age_s <= 0 or not table_exists(spark, output, ROBOTS):
        return spark.createDataFrame([], f"host string, robots array<struct<{','.join(fields)}>>")
    fresh = read_table(spark, output, ROBOTS).where(
        F.col("fetch_time") > F.lit(now - timedelta(seconds=p.robots_max_age_s)))
    return fresh.groupBy("host").agg(F.collect_list(F.struct(*[f.split(":")[0] for f in fields])).alias("robots"))


def _write_timings(spark, staging: str, seconds: dict[str, float]) -> None:
    fs.write_text(spark, fs.join(staging, "timings.json"), json.dumps(seconds))


def _count_responses(path: str) -> tuple[str, int]:
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as handle:
        return path.rsplit("/", 1)[-1], sum(1 for r in ArchiveIterator(handle) if r.rec_type == "response")


def check_round(spark, p: CrawlParams, output: str, round_id: str, summary: RoundSummary) -> None:
    """The round's accounting, from what was written; raise AccountingError on any mismatch.

    Fills the summary's outcomes, HTTP statuses, WARC files and byte/outlink totals."""
    from pyspark.sql import functions as F

    staging = _staging(output, round_id)
    fetchlist = spark.read.parquet(fs.join(staging, "fetchlist"))
    results = spark.read.parquet(fs.join(staging, "results"))
    generated = summary.generated = fetchlist.count()
    summary.outcomes, summary.http, summary.per_file, summary.totals = {}, {}, {}, {}
    groups = results.groupBy("outcome", "reason", "http_status", "warc_file").agg(
        F.count("*").alias("n"), F.sum("content_length").alias("bytes"),
        F.sum(F.col("truncated").cast("int")).alias("truncated"),
        F.sum(F.size("outlinks")).alias("outlinks"),
        F.sum(F.col("robots").isNotNull().cast("int")).alias("robots")).collect()
    for g in groups:
        key = g.outcome if g.outcome == "fetched" else f"{g.outcome}.{g.reason}"
        summary.outcomes[key] = summary.outcomes.get(key, 0) + g.n
        if g.http_status is not None:
            summary.http[g.http_status] = summary.http.get(g.http_status, 0) + g.n
        if g.outcome == "fetched":
            summary.per_file[g.warc_file] = summary.per_file.get(g.warc_file, 0) + g.n
        for name in ("bytes", "truncated", "outlinks", "robots"):
            summary.totals[name] = summary.totals.get(name, 0) + (g[name] or 0)
    total = sum(summary.outcomes.values())
    # One pass pairs every generated URL with its results: none missing, none extra, none twice.
    paired = (fetchlist.select("url", F.lit(1).alias("generated"))
              .join(results.groupBy("url").count(), "url", "full_outer")
              .agg(F.sum(F.when(F.col("count").isNull(), 1).otherwise(0)).alias("missing"),
                   F.sum(F.when(F.col("generated").isNull(), 1).otherwise(0)).alias("extra"),
                   F.sum(F.when(F.col("count") > 1, 1).otherwise(0)).alias("repeated")).first())
    if total != generated or paired.missing or paired.extra or paired.repeated or not _known_outcomes(summary):
        raise AccountingError(
            f"crawl round {round_id}: generated {generated} URLs but the results hold {total} rows "
            f"({paired.missing} generated URLs without a result, {paired.extra} results not generated, "
            f"{paired.repeated} URLs with more than one result); not committed")
    warc_staging = _warc_staging(p, output, round_id)
    files = [str(warc_staging / name) for name in summary.per_file]
    counted = dict(spark.sparkContext.parallelize(files, max(1, len(files))).map(_count_responses).collect()) if files else {}
    if counted != summary.per_file:
        raise AccountingError(f"crawl round {round_id}: WARC response records {counted} differ from the "
                              f"fetched results per file {summary.per_file}; not committed")
    summary.warc_files = sorted(summary.per_file)
    log.info("round %s: generated %d = fetched %d + failed %d + skipped %d", round_id, generated,
             summary.count("fetched"), summary.count("failed"), summary.count("skipped"))


def _known_outcomes(summary: RoundSummary) -> bool:
    return all(k.split(".", 1)[0] in ("fetched", "failed", "skipped") for k in summary.outcomes)


def updatedb(spark, p: CrawlParams, output: str, round_id: str) -> None:
    """Merge the round's results and new URLs into the crawldb in one commit (the round's)."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from corpusforge.schemas import table_schema

    results = spark.read.parquet(fs.join(_staging(output, round_id), "results"))
    now = datetime.now(timezone.utc)
    updates = results.withColumn("fetch_round", F.lit(round_id))
    found = (results.where(F.size("outlinks") > 0)
             .select(F.explode("outlinks").alias("link"), (F.col("depth") + 1).alias("depth"),
                     F.col("url").alias("discovered_from"))
             .groupBy(F.col("link.url").alias("url"), F.col("link.host").alias("host"))
             .agg(F.min("depth").alias("depth"), F.min("discovered_from").alias("discovered_from"))
             .join(results.select("url"), "url", "left_anti")
             .withColumn("score", F.lit(1.0) / (F.col("depth") + 1))
             .withColumn("status", F.lit("unfetched")).withColumn("retries", F.lit(0))
             .withColumn("next_fetch_time", F.lit(now)))
    columns = [f.name for f in table_schema(CRAWLDB).fields]

    def as_rows(df, kind):
        df = df.withColumn("discovered_round", F.lit(round_id)).withColumn("first_seen", F.lit(now))
        return _crawldb_rows(df).withColumn("kind", F.lit(kind))

    source = as_rows(updates, "result").unionByName(as_rows(found, "new"))
    # A fetched row keeps where and when it was first found.
    updated = [c for c in columns if c not in ("discovered_round", "first_seen", "discovered_from")]
    ensure_lease(output)
    _set_commit_metadata(spark, round_id)
    try:
        (DeltaTable.forPath(spark, table_path(output, CRAWLDB)).alias("t")
         .merge(source.alias("s"), "t.url = s.url")
         .whenMatchedUpdate(condition="s.kind = 'result'", set={c: f"s.{c}" for c in updated})
         .whenNotMatchedInsert(values={c: f"s.{c}" for c in columns})
         .execute())
    finally:
        _set_commit_metadata(spark, None)


def finish_round(spark, cfg: CrawlConfig, output: str, round_id: str, summary: RoundSummary | None = None) -> RoundSummary:
    """After the commit: publish the round's WARC files, write stats and ledger rows, drop staging.

    Safe to run again (a run killed half-way through it is finished by the next one)."""
    from pyspark.sql import functions as F

    p = cfg.crawl
    staging = _staging(output, round_id)
    warc_staging = _warc_staging(p, output, round_id)
    if summary is None:  # finishing a committed round a killed run left behind
        summary = RoundSummary(round_id=round_id)
        summary.hosts = spark.read.parquet(fs.join(staging, "fetchlist")).select("host").distinct().count()
        check_round(spark, p, output, round_id, summary)
        timings = fs.read_text(spark, fs.join(staging, "timings.json"))
        summary.seconds = json.loads(timings) if timings else {}
    db = read_table(spark, output, CRAWLDB).agg(
        F.sum((F.col("fetch_round") == round_id).cast("int")).alias("fetched"),
        F.sum((F.col("discovered_round") == round_id).cast("int")).alias("new")).first()
    in_db, summary.new_urls = db.fetched or 0, db.new or 0
    if in_db != summary.generated:
        raise AccountingError(f"crawl round {round_id}: {summary.generated} URLs generated, but the "
                              f"crawldb holds {in_db} rows of the round")
    warc_root = fs.join(output, "warc")
    for name in summary.warc_files:
        staged = warc_staging / name
        if staged.exists():  # else published already by a run killed after this point
            ensure_lease(output)
            fs.publish(spark, staged, fs.join(warc_root, name))
    results = spark.read.parquet(fs.join(staging, "results"))
    if summary.totals.get("robots"):  # a round that reused every stored answer has none to add
        store_robots(spark, output, round_id, results)
    _write_stats(spark, output, round_id, summary, results)
    _write_ledger(spark, cfg, output, round_id, summary, warc_root)
    fs.delete(spark, staging)
    shutil.rmtree(warc_staging.parent, ignore_errors=True)  # WARC files of failed task attempts go with it
    return summary


def store_robots(spark, output: str, round_id: str, results) -> None:
    """Merge the robots.txt answers the round fetched into DIR/robots (newer answers win, so
    finishing a round again changes nothing)."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from corpusforge.schemas import conform, table_schema

    fetched = results.where(F.col("robots").isNotNull()).select(
        "robots.*", "host", F.lit(round_id).alias("fetch_round"))
    if not table_exists(spark, output, ROBOTS):
        spark.createDataFrame([], table_schema(ROBOTS)).write.format("delta").save(table_path(output, ROBOTS))
    ensure_lease(output)
    (DeltaTable.forPath(spark, table_path(output, ROBOTS)).alias("t")
     .merge(conform(fetched, ROBOTS).alias("s"), "t.robots_url = s.robots_url")
     .whenMatchedUpdateAll(condition="s.fetch_time > t.fetch_time")
     .whenNotMatchedInsertAll()
     .execute())


def _write_stats(spark, output, round_id, summary: RoundSummary, results) -> None:
    from pyspark.sql import functions as F

    from corpusforge.schemas import table_schema

    def row(stage, metric, value):
        return (round_id, stage, metric, float(value))

    rows = [row("crawl.generate", "urls.generated", summary.generated),
            row("crawl.generate", "hosts", summary.hosts),
            row("crawl.fetch", "urls.fetched", summary.count("fetched")),
            row("crawl.fetch", "urls.failed", summary.count("failed")),
            row("crawl.fetch", "urls.skipped", summary.count("skipped")),
            row("crawl.updatedb", "urls.new", summary.new_urls)]
    rows += [row("crawl.fetch", f"urls.{key}", n) for key, n in summary.outcomes.items() if "." in key]
    rows += [row("crawl.fetch", f"http.{status}", n) for status, n in summary.http.items()]
    rows += [row("crawl.fetch", "bytes", summary.totals.get("bytes", 0)),
             row("crawl.fetch", "urls.truncated", summary.totals.get("truncated", 0)),
             row("crawl.parse", "outlinks.kept", summary.totals.get("outlinks", 0)),
             row("crawl.fetch", "robots.fetched", summary.totals.get("robots", 0))]
    for r in results.select(F.explode("outlinks_dropped")).groupBy("key").agg(F.sum("value").alias("n")).collect():
        rows.append(row("crawl.parse", f"outlinks.dropped.{r.key}", r.n))
    rows += [row(f"crawl.{phase}", "seconds", s) for phase, s in summary.seconds.items()]
    write_run_rows(spark, spark.createDataFrame(rows, table_schema("stats")), output, "stats", round_id)


def _write_ledger(spark, cfg, output, round_id, summary: RoundSummary, warc_root: str) -> None:
    if not summary.warc_files:
        return
    now = datetime.now(timezone.utc)
    chash = crawl_config_hash(cfg)
    per_file = summary.per_file
    rows = []
    for name in summary.warc_files:
        uri = fs.join(warc_root, name)
        size, mtime_ms = fs.file_status(spark, uri)
        rows.append({"run_id": round_id, "input_uri": uri, "source_key": f"warc/{name}",
                     "format": "warc", "size": size,
                     "mtime": datetime.fromtimestamp(mtime_ms / 1000, timezone.utc),
                     "records_read": per_file.get(name, 0), "status": "done", "config_hash": chash,
                     "started_at": now, "finished_at": now})
    ledger.write_ledger(spark, output, round_id, rows)


def recover(spark, cfg: CrawlConfig, output: str) -> list[str]:
    """Finish committed rounds a killed run left in staging; discard uncommitted ones."""
    staged = fs.list_dirs(spark, fs.join(output, "_staging"))
    if not staged:
        return []
    committed = committed_rounds(spark, output)
    notes = []
    for round_id in staged:
        if round_id in committed:
            finish_round(spark, cfg, output, round_id)
            notes.append(f"finished committed round {round_id} left by a killed run")
        else:
            ensure_lease(output)
            fs.delete(spark, _staging(output, round_id))
            shutil.rmtree(_warc_staging(cfg.crawl, output, round_id).parent, ignore_errors=True)
            notes.append(f"discarded uncommitted round {round_id} (its URLs are fetched again)")
        log.warning(notes[-1])
    return notes


def write_run_manifest(spark, output: str, run_id: str, cfg: CrawlConfig, summary: CrawlSummary) -> None:
    """The resolved config and the summary beside the tables (`_runs/<run>.json`)."""
    payload = {"run_id": run_id, "config_hash": crawl_config_hash(cfg), "config": config_dict(cfg),
               "summary": summary.lines()}
    fs.write_text(spark, fs.join(output, "_runs", f"{run_id}.json"), json.dumps(payload, indent=1, default=str))
