"""One crawl of the loopback site, shared by every check of this module (each Spark round costs
seconds, so the checks read what one crawl left instead of crawling again):

1. `spark-submit jobs/crawl.py` in its own JVM, killed (SIGKILL) after its first round fetched
   and before that round's updatedb;
2. the crawl resumed in-process on the session's Spark for two rounds: it discards the killed
   round and fetches its URLs again; the second round reuses the robots.txt answers the first
   stored;
3. `spark-submit jobs/build_corpus.py` over the crawl's WARC files;
4. a later invocation, with the stored robots.txt answers expired, fetches only what is due.

What the servers saw (arrival times, paths), the crawldb, the robots table, the WARC files, stats,
ledger and the accounting are all checked against the one crawl.
"""
from __future__ import annotations

import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawljobs import CRAWL_DELAY_A, HOST_A, HOST_B, SETTINGS, delta_rows, run_job, set_args, warc_responses
from testsite import A_TEXT, B_TEXT, GBK_TEXT
from corpusforge.crawl.cli import read_seeds
from corpusforge.crawl.config import load_crawl_config
from corpusforge.crawl.round import CrawlSummary, run_crawl
from corpusforge.tables.delta import read_table

pytestmark = [pytest.mark.spark, pytest.mark.e2e]


@dataclass
class Crawl:
    out: Path
    seeds: list[str]
    killed_rc: int
    killed_err: str
    killed_staged: list[Path]  # WARC files the killed round left in staging
    killed_published: list[Path]  # ... and under warc/ (none: the round never committed)
    killed_hits: list[str]
    summary: CrawlSummary  # of the resumed crawl
    hits_a: list  # requests of the resumed crawl, per host
    hits_b: list
    db: dict  # url -> crawldb row after the resumed crawl


def _gaps(hits) -> list[float]:
    times = sorted(h.arrived for h in hits)
    return [b - a for a, b in zip(times, times[1:])]


@pytest.fixture(scope="module")
def crawl(spark, site, tmp_path_factory) -> Crawl:
    tmp = tmp_path_factory.mktemp("crawl")
    seeds_file = tmp / "seeds.txt"
    seeds_file.write_text("# the test site\n" + "\n".join(site.info["seeds"]) + "\n")
    out = tmp / "crawl"
    since = time.monotonic()
    rc, _out, err = run_job("crawl.py", ["--seeds", str(seeds_file), "--output", str(out), "--rounds", "2",
                                         *set_args(SETTINGS)],
                            submit=True, CORPUSFORGE_FAILPOINT="crawl_before_updatedb")
    staged, published = list(out.glob("_staging/*/warc/*.warc.gz")), list(out.glob("warc/*.warc.gz"))
    killed_hits = sorted(h.path for h in site.hits_of(HOST_A, since) + site.hits_of(HOST_B, since))

    resumed = time.monotonic()
    summary = run_crawl(spark, load_crawl_config(overrides=SETTINGS), read_seeds(str(seeds_file)), str(out),
                        rounds=2, run_id="t1")
    db = {r.url: r for r in read_table(spark, str(out), "crawldb").collect()}
    return Crawl(out=out, seeds=site.info["seeds"], killed_rc=rc, killed_err=err, killed_staged=staged,
                 killed_published=published, killed_hits=killed_hits, summary=summary,
                 hits_a=site.hits_of(HOST_A, resumed), hits_b=site.hits_of(HOST_B, resumed), db=db)


def test_a_killed_round_is_discarded_and_fetched_again(crawl):
    # SIGKILL of the Python driver; spark-submit's JVM, its parent, exits with 128 + 9.
    assert crawl.killed_rc in (-signal.SIGKILL, 128 + signal.SIGKILL), crawl.killed_err[-3000:]
    assert crawl.killed_staged and not crawl.killed_published  # fetched, never committed
    assert crawl.killed_hits == ["/", "/", "/robots.txt", "/robots.txt"]
    assert any(note.startswith("discarded uncommitted round") for note in crawl.summary.recovered)
    assert not list(crawl.out.glob("_staging/*"))
    # The seeds, fetched by the killed round, are fetched again; nothing is in the WARC files twice.
    assert [h.path for h in crawl.hits_a].count("/") == 1 and [h.path for h in crawl.hits_b].count("/") == 1
    responses = warc_responses(crawl.out.glob("warc/*.warc.gz"))
    assert responses and max(Counter(responses).values()) == 1


def test_what_the_servers_saw(crawl, spark):
    hits_a, hits_b = crawl.hits_a, crawl.hits_b
    pages_a = [h.path for h in hits_a if h.path != "/robots.txt"]
    pages_b = [h.path for h in hits_b if h.path != "/robots.txt"]
    assert len(pages_a) >= 11 and len(pages_b) >= 6, (pages_a, pages_b)
    assert not any(path.startswith("/private") for path in pages_a)
    assert min(_gaps(hits_a)) >= CRAWL_DELAY_A and min(_gaps(hits_b)) >= 0.1
    both = sorted(hits_a + hits_b, key=lambda h: h.arrived)
    switches = sum(1 for x, y in zip(both, both[1:]) if x.host != y.host)
    assert switches >= 6, [h.host for h in both]  # the two hosts' queues ran side by side
    slow = next(h for h in hits_a if h.path == "/slow.html")
    assert slow.closed_by_client - slow.arrived < 2.1  # deadline_s = 1.5, the page drips for 8 s

    # robots.txt: asked once per host by round 1 and stored; round 2 fetched both hosts again
    # without asking (the stored answers are younger than robots_max_age_s, 24 h by default).
    assert [h.path for h in hits_a].count("/robots.txt") == 1 == [h.path for h in hits_b].count("/robots.txt")
    round2_hosts = {row.host for row in crawl.db.values() if row.fetch_round == "t1-r2"}
    assert round2_hosts == {HOST_A, HOST_B}
    robots = {r.robots_url: r for r in read_table(spark, str(crawl.out), "robots").collect()}
    a, b = site_bases(crawl)
    assert set(robots) == {f"{a}/robots.txt", f"{b}/robots.txt"}
    assert (robots[f"{a}/robots.txt"].outcome, robots[f"{a}/robots.txt"].fetch_round) == ("rules", "t1-r1")
    assert f"Crawl-delay: {CRAWL_DELAY_A}" in robots[f"{a}/robots.txt"].body
    assert (robots[f"{b}/robots.txt"].outcome, robots[f"{b}/robots.txt"].http_status) == ("allow_all", 404)


def site_bases(crawl) -> tuple[str, str]:
    return crawl.seeds[0].rstrip("/"), crawl.seeds[1].rstrip("/")


def test_round_accounting_and_the_crawldb(crawl):
    r1, r2 = crawl.summary.rounds
    assert (r1.generated, r1.count("fetched")) == (2, 2)
    for r in (r1, r2):
        assert r.generated == r.count("fetched") + r.count("failed") + r.count("skipped")
    assert r2.outcomes["skipped.crawl.robots_denied"] == 1
    assert r2.outcomes["failed.crawl.deadline_exceeded"] == 1 and r2.outcomes["failed.crawl.timeout"] == 1

    db, (a, b) = crawl.db, site_bases(crawl)
    assert (db[f"{a}/"].status, db[f"{a}/"].http_status, db[f"{a}/"].depth) == ("fetched", 200, 0)
    assert db[f"{a}/moved"].status == "redirected" and db[f"{a}/moved"].redirect_to == f"{a}/a3.html"
    assert db[f"{a}/a3.html"].status == "unfetched" and db[f"{a}/a3.html"].discovered_from in (f"{a}/a2.html", f"{a}/moved")
    assert (db[f"{a}/missing.html"].status, db[f"{a}/missing.html"].reason) == ("gone", "crawl.gone")
    assert (db[f"{a}/error.html"].status, db[f"{a}/error.html"].retries) == ("failed", 1)
    assert db[f"{a}/slow.html"].reason == "crawl.deadline_exceeded"
    assert db[f"{a}/private/secret.html"].status == "robots_denied"
    assert db[f"{a}/big.html"].truncated and db[f"{a}/big.html"].content_length == 65536
    assert db[f"{a}/gbk.html"].status == "fetched" and db[f"{a}/data"].content_type == "application/octet-stream"
    assert db[f"{b}/b3.html"].status == "fetched" and db[f"{b}/b3.html"].warc_file
    assert f"{a}/a2.html" in db and not any("utm_" in url or "logo.png" in url or "/t/x" in url for url in db)
    assert not any(url.startswith("http://203.0.113.9") for url in db)
    assert all(row.next_fetch_time > row.fetch_time for row in db.values() if row.status == "fetched")


def test_warc_files_stats_and_ledger(crawl, spark):
    r1, r2 = crawl.summary.rounds
    out = str(crawl.out)
    warc_files = list(crawl.out.glob("warc/*.warc.gz"))
    responses = warc_responses(warc_files)
    assert len(responses) == r1.count("fetched") + r2.count("fetched")
    stats = {(r.run_id, r.metric): r.value for r in read_table(spark, out, "stats").collect()}
    assert stats[("t1-r2", "urls.generated")] == r2.generated
    assert stats[("t1-r2", "urls.fetched")] + stats[("t1-r2", "urls.failed")] + stats[("t1-r2", "urls.skipped")] == r2.generated
    assert stats[("t1-r1", "outlinks.dropped.crawl.url_binary_extension")] == 1
    ledger = read_table(spark, out, "ledger").collect()
    assert {row.source_key for row in ledger} == {f"warc/{p.name}" for p in warc_files}
    assert sum(row.records_read for row in ledger) == len(responses)
    assert all(row.size == (crawl.out / row.source_key).stat().st_size for row in ledger)


def test_build_corpus_reads_the_crawl(crawl, tmp_path, site):
    """The one whole-job check of build_corpus here: spark-submit over the crawl's WARC files."""
    corpus = tmp_path / "corpus"
    rc, _out, err = run_job("build_corpus.py", ["--input", str(crawl.out / "warc"), "--output", str(corpus),
                                                "--set", 'pipeline.stages=["normalize", "exact_dedup"]'],
                            submit=True)
    assert rc == 0, err[-3000:]
    by_url = {d["url"]: d["text"] for d in delta_rows(corpus / "documents")}
    a, b = site_bases(crawl)
    assert A_TEXT in by_url[f"{a}/"] and B_TEXT in by_url[f"{b}/"]
    assert GBK_TEXT in by_url[f"{a}/gbk.html"]
    assert "Row 3 is pruned" in by_url[f"{b}/b3.html"]
    dropped = {(d["url"], d["drop_reason"]) for d in delta_rows(corpus / "dropped")}
    assert (f"{a}/data", "ingest.not_text") in dropped
    assert (f"{a}/missing.html", "ingest.http_status") in dropped


def test_a_later_invocation_fetches_only_what_is_due(crawl, spark, site):
    """Within max_pages, only failures and new URLs; the robots.txt answers stored by round 1
    are older than robots_max_age_s here, so robots.txt is asked again."""
    max_age = 0.5
    stored = read_table(spark, str(crawl.out), "robots").agg({"fetch_time": "max"}).first()[0]
    time.sleep(max(0.0, max_age - (time.time() - stored.timestamp())))  # usually 0: round 2 took longer
    since = time.monotonic()
    cfg = load_crawl_config(overrides=SETTINGS + ["crawl.max_pages=4", f"crawl.robots_max_age_s={max_age}"])
    later = run_crawl(spark, cfg, crawl.seeds, str(crawl.out), rounds=3, run_id="t2")
    assert sum(r.generated for r in later.rounds) == 4
    hits = site.hits_of(HOST_A, since) + site.hits_of(HOST_B, since)
    again = [h for h in hits if h.path != "/robots.txt"]
    fetched_before = {url for url, row in crawl.db.items() if row.status in ("fetched", "redirected", "gone")}
    a, b = site_bases(crawl)
    base = {HOST_A: a, HOST_B: b}
    assert again and not {base[h.host] + h.path for h in again} & fetched_before
    counts = Counter(warc_responses(crawl.out.glob("warc/*.warc.gz")))
    assert all(counts[url] == 1 for url in fetched_before)  # only failures were fetched again
    # Expired answers are asked again, once per host the invocation fetched, and replaced.
    asked = Counter(h.host for h in hits if h.path == "/robots.txt")
    assert asked == Counter({h.host: 1 for h in again})
    robots = {r.robots_url: r.fetch_round for r in read_table(spark, str(crawl.out), "robots").collect()}
    assert all(robots[f"{base[host]}/robots.txt"] == "t2-r1" for host in asked)


def test_generate_matches_the_pure_reference(spark, tmp_path):
    """The Spark fetch list is the one schedule.select_fetch_list picks from the same rows."""
    from datetime import datetime, timedelta, timezone

    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from corpusforge.crawl.round import generate, inject
    from corpusforge.crawl.schedule import select_fetch_list

    out = str(tmp_path / "crawl")
    urls = [f"http://h{h}.test/p{i}" for h in range(3) for i in range(6)]
    inject(spark, out, urls, "g")
    # Spread scores and due times so ordering, the per-host cap and the budget all matter.
    DeltaTable.forPath(spark, f"{out}/crawldb").update(set={
        "score": F.expr("1.0 / (1 + length(url) % 4 + cast(substr(url, -1, 1) as int))"),
        "next_fetch_time": F.expr("case when url like '%p5' then timestamp'2100-01-01' else next_fetch_time end")})
    cfg = load_crawl_config(overrides=SETTINGS + ["crawl.max_pages_per_host=3"])
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    spark_list = sorted(r.url for r in generate(spark, cfg.crawl, out, now, 7).collect())
    rows = [r.asDict() for r in read_table(spark, out, "crawldb").collect()]
    local_now = datetime.now() + timedelta(seconds=1)  # collected timestamps are naive, local time
    pure = sorted(r["url"] for r in select_fetch_list(rows, now=local_now, max_per_host=3, limit=7))
    assert spark_list == pure and len(pure) == 7
