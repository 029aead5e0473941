"""Crawl rounds on the shared local Spark session against the loopback site: what was asked
and when (the server's log), the crawldb, the WARC files, stats, ledger and accounting."""
from __future__ import annotations

import time
from collections import Counter

import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import HOST_A, HOST_B
from corpusforge.crawl.config import load_crawl_config
from corpusforge.crawl.round import run_crawl
from corpusforge.tables.delta import read_table

pytestmark = pytest.mark.spark

TEST_SETTINGS = [
    "crawl.user_agent=corpusforge-test/0.1 (+http://127.0.0.1/)", "crawl.delay_s=0.3",
    "crawl.timeout_s=0.8", "crawl.deadline_s=1.5", "crawl.max_bytes=65536",
    "crawl.allow_loopback=true", "crawl.scope=hosts", f'crawl.hosts=["{HOST_A}", "{HOST_B}"]',
    "crawl.retry_delay_s=0", "crawl.fetch_tasks=2",
]


def _gaps(hits):
    times = sorted(h.arrived for h in hits)
    return [b - a for a, b in zip(times, times[1:])]


def _responses(warc_dir):
    found = []
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with open(path, "rb") as handle:
            found += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(handle)
                      if r.rec_type == "response"]
    return found


def test_two_rounds_then_a_third_fetch_only_what_is_due(spark, site, tmp_path):
    out = str(tmp_path / "crawl")
    a, b = site.base(HOST_A), site.base(HOST_B)
    cfg = load_crawl_config(overrides=TEST_SETTINGS)
    since = time.monotonic()
    summary = run_crawl(spark, cfg, site.info["seeds"], out, rounds=2, run_id="t1")
    hits_a, hits_b = site.hits_of(HOST_A, since), site.hits_of(HOST_B, since)

    # What the servers saw: pages served, per-host gaps, interleaving, nothing disallowed.
    pages_a = [h.path for h in hits_a if h.path != "/robots.txt"]
    pages_b = [h.path for h in hits_b if h.path != "/robots.txt"]
    assert len(pages_a) >= 11 and len(pages_b) >= 6, (pages_a, pages_b)
    assert not any(path.startswith("/private") for path in pages_a)
    assert min(_gaps(hits_a)) >= 0.4 and min(_gaps(hits_b)) >= 0.3
    both = sorted(hits_a + hits_b, key=lambda h: h.arrived)
    switches = sum(1 for x, y in zip(both, both[1:]) if x.host != y.host)
    assert switches >= 6, [h.host for h in both]  # the two hosts' queues ran side by side
    slow = next(h for h in hits_a if h.path == "/slow.html")
    assert slow.closed_by_client - slow.arrived < 2.1

    # Accounting of each round: generated = fetched + failed + skipped.
    r1, r2 = summary.rounds
    assert (r1.generated, r1.count("fetched")) == (2, 2)
    for r in (r1, r2):
        assert r.generated == r.count("fetched") + r.count("failed") + r.count("skipped")
    assert r2.outcomes["skipped.crawl.robots_denied"] == 1
    assert r2.outcomes["failed.crawl.deadline_exceeded"] == 1 and r2.outcomes["failed.crawl.timeout"] == 1

    db = {r.url: r for r in read_table(spark, out, "crawldb").collect()}
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

    warc_dir = tmp_path / "crawl" / "warc"
    responses = _responses(warc_dir)
    assert len(responses) == r1.count("fetched") + r2.count("fetched")
    assert max(Counter(responses).values()) == 1
    assert not (tmp_path / "crawl" / "_staging").exists() or not any((tmp_path / "crawl" / "_staging").iterdir())
    stats = {(r.run_id, r.metric): r.value for r in read_table(spark, out, "stats").collect()}
    assert stats[("t1-r2", "urls.generated")] == r2.generated
    assert stats[("t1-r2", "urls.fetched")] + stats[("t1-r2", "urls.failed")] + stats[("t1-r2", "urls.skipped")] == r2.generated
    assert stats[("t1-r1", "outlinks.dropped.crawl.url_binary_extension")] == 1
    ledger = read_table(spark, out, "ledger").collect()
    assert {row.source_key for row in ledger} == {f"warc/{p.name}" for p in warc_dir.glob("*.warc.gz")}
    assert sum(row.records_read for row in ledger) == len(responses)

    # A third invocation fetches only what is due (failures, new URLs), within max_pages.
    since = time.monotonic()
    cfg3 = load_crawl_config(overrides=TEST_SETTINGS + ["crawl.max_pages=4"])
    third = run_crawl(spark, cfg3, site.info["seeds"], out, rounds=3, run_id="t2")
    assert sum(r.generated for r in third.rounds) == 4
    again = [h.path for h in site.hits_of(HOST_A, since) + site.hits_of(HOST_B, since) if h.path != "/robots.txt"]
    fetched_before = {url for url, row in db.items() if row.status in ("fetched", "redirected", "gone")}
    assert again and not {a + path for path in again} & fetched_before
    counts = Counter(_responses(warc_dir))
    assert all(counts[url] == 1 for url in fetched_before)  # only failures were fetched again


def test_generate_matches_the_pure_reference(spark, tmp_path):
    """The Spark fetch list is the one schedule.select_fetch_list picks from the same rows."""
    from datetime import datetime, timedelta, timezone

    from corpusforge.crawl.round import generate, inject
    from corpusforge.crawl.schedule import select_fetch_list
    from pyspark.sql import functions as F

    out = str(tmp_path / "crawl")
    urls = [f"http://h{h}.test/p{i}" for h in range(3) for i in range(6)]
    inject(spark, out, urls, "g")
    # Spread scores and due times so ordering, the per-host cap and the budget all matter.
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, f"{out}/crawldb").update(set={
        "score": F.expr("1.0 / (1 + length(url) % 4 + cast(substr(url, -1, 1) as int))"),
        "next_fetch_time": F.expr("case when url like '%p5' then timestamp'2100-01-01' else next_fetch_time end")})
    cfg = load_crawl_config(overrides=TEST_SETTINGS + ["crawl.max_pages_per_host=3"])
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    spark_list = sorted(r.url for r in generate(spark, cfg.crawl, out, now, 7).collect())
    rows = [r.asDict() for r in read_table(spark, out, "crawldb").collect()]
    local_now = datetime.now() + timedelta(seconds=1)  # collected timestamps are naive, local time
    pure = sorted(r["url"] for r in select_fetch_list(rows, now=local_now, max_per_host=3, limit=7))
    assert spark_list == pure and len(pure) == 7
