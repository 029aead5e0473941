"""The host-queue fetcher against real HTTP servers on loopback: robots.txt, per-host waits,
the size cap, timeouts and the total deadline, redirects, the address guard, WARC records."""
from __future__ import annotations

import gzip
import socket
import time

import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import HOST_A, HOST_B
from testsite import DRIP_FOR_S, Page, Site
from corpusforge.crawl.config import CrawlParams
from corpusforge.crawl.fetch import HostQueue, WarcSink, fetch_host_queue, payload_digest

CAP = 64 * 1024


def params(**changes) -> CrawlParams:
    base = dict(user_agent="corpusforge-test/0.1 (+http://127.0.0.1/)", delay_s=0.3, timeout_s=0.8,
                deadline_s=1.5, max_bytes=CAP, allow_loopback=True, scope="hosts", hosts=(HOST_A, HOST_B))
    base.update(changes)
    return CrawlParams(**base)


class RecordingConnector:
    """socket.create_connection, with every address it was asked to connect to recorded."""

    def __init__(self):
        self.addresses: list[tuple[str, int]] = []

    def __call__(self, address, timeout):
        self.addresses.append(address)
        return socket.create_connection(address, timeout)


def _items(base: str, paths: list[str]) -> list[dict]:
    return [{"url": base + path, "depth": 0, "score": 1.0, "status": "unfetched", "retries": 0} for path in paths]


def _gaps(hits) -> list[float]:
    times = sorted(h.arrived for h in hits)
    return [b - a for a, b in zip(times, times[1:])]


def test_one_host_queue_end_to_end(site, tmp_path):
    base = site.base(HOST_A)
    paths = ["/", "/a1.html", "/private/secret.html", "/moved", "/missing.html", "/error.html",
             "/big.html", "/slow.html", "/stall.html", "/data", "/gbk.html"]
    connector = RecordingConnector()
    since = time.monotonic()
    warc = tmp_path / "part.warc.gz"
    with WarcSink(str(warc), {"software": "corpusforge-test"}) as sink:
        results = fetch_host_queue(HostQueue(host=HOST_A, items=_items(base, paths)), params(),
                                   sink=sink, connector=connector)
    by_path = {r["url"][len(base):]: r for r in results}
    assert [r["url"] for r in results] == [base + p for p in paths]
    outcome = {p: (r["outcome"], r["http_status"], r["reason"]) for p, r in by_path.items()}
    assert outcome == {
        "/": ("fetched", 200, None), "/a1.html": ("fetched", 200, None),
        "/private/secret.html": ("skipped", None, "crawl.robots_denied"),
        "/moved": ("fetched", 301, None), "/missing.html": ("fetched", 404, None),
        "/error.html": ("fetched", 500, None), "/big.html": ("fetched", 200, "crawl.truncated"),
        "/slow.html": ("failed", None, "crawl.deadline_exceeded"),
        "/stall.html": ("failed", None, "crawl.timeout"),
        "/data": ("fetched", 200, None), "/gbk.html": ("fetched", 200, None),
    }
    b = site.base(HOST_B)
    assert by_path["/"]["outlinks"] == [
        f"{base}/a1.html", f"{base}/a2.html", f"{base}/private/secret.html", f"{base}/moved",
        f"{base}/missing.html", f"{base}/error.html", f"{base}/big.html", f"{base}/slow.html",
        f"{base}/stall.html", f"{base}/data", f"{base}/gbk.html", f"{b}/"]
    assert by_path["/"]["outlinks_dropped"] == {"crawl.url_binary_extension": 1, "crawl.url_path_trap": 1,
                                                "crawl.url_scheme": 1, "crawl.url_out_of_scope": 1}
    assert by_path["/moved"]["redirect_to"] == f"{base}/a3.html"
    assert by_path["/moved"]["outlinks"] == [f"{base}/a3.html"]
    assert by_path["/gbk.html"]["outlinks"] == [f"{base}/a1.html"]
    assert by_path["/data"]["outlinks"] == []
    assert by_path["/big.html"]["truncated"] and by_path["/big.html"]["content_length"] == CAP

    hits = site.hits_of(HOST_A, since)
    requested = [h.path for h in hits]
    assert requested.count("/robots.txt") == 1 and requested[0] == "/robots.txt"
    assert not any(p.startswith("/private") for p in requested)
    assert sorted(requested) == sorted(["/robots.txt"] + [p for p in paths if p != "/private/secret.html"])
    assert min(_gaps(hits)) >= 0.4  # robots.txt's Crawl-delay (0.4) beats delay_s (0.3)
    slow = next(h for h in hits if h.path == "/slow.html")
    assert slow.closed_by_client is not None and slow.closed_by_client - slow.arrived < 1.5 + 0.6 < DRIP_FOR_S
    assert {address for address, _port in connector.addresses} == {HOST_A}

    records = []
    with open(warc, "rb") as handle:
        for record in ArchiveIterator(handle):
            records.append((record.rec_type, record.rec_headers, record.content_stream().read()))
    assert records[0][0] == "warcinfo" and records[0][1].protocol == "WARC/1.1"
    responses = [(h, body) for kind, h, body in records if kind == "response"]
    requests = [h for kind, h, _ in records if kind == "request"]
    fetched = [r for r in results if r["outcome"] == "fetched"]
    assert len(responses) == len(requests) == len(fetched) == sink.responses
    for headers, body in responses:
        result = next(r for r in fetched if r["url"] == headers.get_header("WARC-Target-URI"))
        assert headers.get_header("WARC-Payload-Digest") == payload_digest(body) == result["digest"]
        assert headers.get_header("WARC-Date").startswith("20") and headers.get_header("WARC-IP-Address") == HOST_A
        truncated = headers.get_header("WARC-Truncated")
        assert truncated == ("length" if result["truncated"] else None)
    assert {h.get_header("WARC-Concurrent-To") for h in requests} == {h.get_header("WARC-Record-ID") for h, _ in responses}
    with gzip.open(warc) as handle:  # one gzip member per record, readable as a whole too
        assert handle.read().count(b"WARC/1.1\r\n") == len(records)


def test_refused_addresses_get_no_connection(tmp_path):
    """A stub resolver points names at private, mapped and loopback addresses: the guard
    refuses them all (loopback because allow_loopback is off) and no connection is tried."""
    answers = {"intranet.test": ["10.0.0.5"], "mapped.test": ["::ffff:192.168.1.1"],
               "meta.test": ["169.254.169.254", "100.64.1.1"], "local.test": ["127.0.0.2"]}
    connector = RecordingConnector()
    p = params(allow_loopback=False, scope="host")
    with WarcSink(str(tmp_path / "x.warc.gz"), {}) as sink:
        for host, addresses in answers.items():
            results = fetch_host_queue(HostQueue(host=host, items=_items(f"http://{host}", ["/", "/x"])), p,
                                       sink=sink, resolver=lambda h, a=addresses: list(a), connector=connector)
            assert [(r["outcome"], r["reason"]) for r in results] == [("skipped", "crawl.address_refused")] * 2
    assert connector.addresses == [] and sink.responses == 0
    assert not (tmp_path / "x.warc.gz").exists()


def test_loopback_needs_allow_loopback_against_a_real_server(site, tmp_path):
    since = time.monotonic()
    p = params(allow_loopback=False, resolve={"alderbank.test": HOST_A})
    port = site.servers[HOST_A].server_address[1]
    with WarcSink(str(tmp_path / "x.warc.gz"), {}) as sink:
        for host in (HOST_A, "alderbank.test"):
            results = fetch_host_queue(HostQueue(host=host, items=_items(f"http://{host}:{port}", ["/"])),
                                       p, sink=sink)
            assert results[0]["reason"] == "crawl.address_refused"
    time.sleep(0.2)
    assert site.hits_of(HOST_A, since) == []


@pytest.fixture()
def odd_hosts():
    """Hosts whose robots.txt defers them (503), asks too long a Crawl-delay, or redirects to
    a private address."""
    extra = Site(["127.0.0.4", "127.0.0.5", "127.0.0.6"]).start()
    try:
        extra.pages("127.0.0.4")["/robots.txt"] = Page(status=503, body=b"busy")
        extra.pages("127.0.0.5")["/robots.txt"] = Page(body=b"User-agent: *\nCrawl-delay: 31\n", content_type="text/plain")
        extra.pages("127.0.0.6")["/robots.txt"] = Page(status=301, headers={"Location": "http://10.9.8.7/robots.txt"})
        for host in extra.servers:
            extra.pages(host)["/"] = Page(body=b"<html><body>home</body></html>")
        yield extra
    finally:
        extra.stop()


def test_robots_failures_defer_or_skip_the_host(odd_hosts, tmp_path):
    connector = RecordingConnector()
    expected = {"127.0.0.4": "crawl.robots_unavailable", "127.0.0.5": "crawl.crawl_delay_too_long",
                "127.0.0.6": "crawl.robots_unavailable"}
    with WarcSink(str(tmp_path / "x.warc.gz"), {}) as sink:
        for host, reason in expected.items():
            results = fetch_host_queue(HostQueue(host=host, items=_items(odd_hosts.base(host), ["/", "/a"])),
                                       params(), sink=sink, connector=connector)
            assert [(r["outcome"], r["reason"]) for r in results] == [("skipped", reason)] * 2
            assert [h.path for h in odd_hosts.hits_of(host)] == ["/robots.txt"]
    assert {address for address, _ in connector.addresses} == set(expected)  # never 10.9.8.7
