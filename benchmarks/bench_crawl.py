"""Crawler throughput against the politeness bound, and the fixed cost of a Spark round.

A loopback site of HOSTS addresses from 127.0.0.10 up, PAGES pages each, no Crawl-delay, is
fetched with delay_s = DELAY: no crawler may beat HOSTS / DELAY pages/s (the bound).

1. fetcher: every host queue on its own thread in this process (what one fetch task does);
2. Spark round: the same URLs injected as seeds into a fresh crawldb, one round on a local
   session; the fetch phase against the bound, and generate + updatedb + finish per page.

    nice -n 10 python benchmarks/bench_crawl.py [--hosts 20] [--pages 50] [--delay 0.1] [--no-spark]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "crawl"))

from testsite import Page, Site, html  # noqa: E402

from corpusforge.crawl.config import load_crawl_config  # noqa: E402
from corpusforge.crawl.fetch import HostQueue, WarcSink, fetch_host_queue  # noqa: E402


def build(hosts: int, pages: int) -> tuple[Site, list[str]]:
    names = [f"127.0.0.{10 + i}" for i in range(hosts)]
    site = Site(names).start()
    urls = []
    for host in names:
        site.pages(host)["/robots.txt"] = Page(body=b"User-agent: *\nAllow: /\n", content_type="text/plain")
        for i in range(pages):
            site.pages(host)[f"/p{i}.html"] = Page(body=html(f"{host} page {i}", "benchmark text " * 100))
            urls.append(f"{site.base(host)}/p{i}.html")
    return site, urls


def _serve(hosts: int, pages: int, conn) -> None:
    site, urls = build(hosts, pages)
    conn.send((list(site.servers), urls))
    conn.recv()  # until the parent says stop
    site.stop()


def start_site(hosts: int, pages: int):
    """The site in its own process, so serving does not share the crawler's interpreter."""
    import multiprocessing

    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(hosts, pages, child), daemon=True)
    process.start()
    names, urls = parent.recv()

    def stop() -> None:
        parent.send("stop")
        process.join(timeout=10)

    return names, urls, stop


def settings(hosts: list[str], delay: float) -> list[str]:
    listed = ", ".join(f'"{h}"' for h in hosts)
    return ["crawl.user_agent=corpusforge-bench/0.1", f"crawl.delay_s={delay}", "crawl.allow_loopback=true",
            "crawl.scope=hosts", f"crawl.hosts=[{listed}]", "crawl.max_pages=1000000",
            "crawl.max_pages_per_host=100000", "crawl.threads_per_task=64"]


def bench_fetcher(urls: list[str], cfg, out: Path) -> tuple[int, float]:
    queues: dict[str, list[dict]] = {}
    for url in urls:
        host = url.split("/")[2].split(":")[0]
        queues.setdefault(host, []).append({"url": url, "depth": 0, "score": 1.0, "status": "unfetched", "retries": 0})
    started = time.monotonic()
    with WarcSink(str(out / "bench.warc.gz"), {}) as sink, ThreadPoolExecutor(len(queues)) as pool:
        results = [r for rs in pool.map(lambda kv: fetch_host_queue(HostQueue(host=kv[0], items=kv[1]), cfg.crawl,
                                                                     sink=sink), queues.items()) for r in rs]
    seconds = time.monotonic() - started
    return sum(r["outcome"] == "fetched" for r in results), seconds


def bench_spark(urls: list[str], cfg, out: Path):
    from corpusforge.crawl.round import inject, run_round
    from corpusforge.session import get_session

    spark = get_session("bench-crawl", profile="local", overrides={"spark.master": "local[2]",
                                                                  "spark.sql.shuffle.partitions": "4"})
    inject(spark, str(out), urls, "bench")
    started = time.monotonic()
    summary = run_round(spark, cfg, str(out), "bench-r1", len(urls))
    return summary, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    names, urls, stop = start_site(args.hosts, args.pages)
    bound = args.hosts / args.delay
    cfg = load_crawl_config(overrides=settings(names, args.delay))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fetched, seconds = bench_fetcher(urls, cfg, Path(tmp))
            print(f"bound {bound:.0f} pages/s ({args.hosts} hosts / {args.delay} s); robots.txt is each "
                  f"host's first request, the pages follow at the delay")
            print(f"fetcher: {fetched} pages in {seconds:.2f} s = {fetched / seconds:.1f} pages/s "
                  f"= {fetched / seconds / bound:.3f} of the bound")
            if not args.no_spark:
                summary, total = bench_spark(urls, cfg, Path(tmp) / "crawl")
                fetch = summary.seconds["fetch"]
                rest = total - fetch
                n = summary.count("fetched")
                print(f"spark round: {n} pages; fetch phase {fetch:.2f} s = {n / fetch:.1f} pages/s = "
                      f"{n / fetch / bound:.3f} of the bound; whole round {total:.1f} s = {n / total:.1f} pages/s")
                print(f"spark round fixed cost (generate + updatedb + checks + finish): {rest:.1f} s = "
                      f"{rest / n * 1000:.1f} ms per page at {n} pages; phases "
                      + ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items()))
    finally:
        stop()


if __name__ == "__main__":
    main()
