"""The host-queue fetcher against real HTTP servers on loopback: robots.txt (fetched, and stored
by an earlier round), per-host waits, the size cap, timeouts and the total deadline, redirects,
the address guard, WARC records, and https against a real TLS server with its own CA."""
from __future__ import annotations

import gzip
import socket
import time

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawljobs import CRAWL_DELAY_A, HOST_A, HOST_B
from testsite import DRIP_FOR_S, Page, Site
from corpusforge.crawl.config import CrawlParams
from corpusforge.crawl.fetch import HostQueue, WarcSink, fetch_host_queue, payload_digest
from corpusforge.crawl.robots import robots_policy
from corpusforge.reasons import REASONS

CAP = 64 * 1024


def params(**changes) -> CrawlParams:
    base = dict(user_agent="corpusforge-test/0.1 (+http://127.0.0.1/)", delay_s=0.1, timeout_s=0.8,
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
    # robots.txt's answer rides on the result of the first URL that needed it (for the robots table).
    stored = by_path["/"]["robots"]
    assert (stored["robots_url"], stored["outcome"], stored["http_status"]) == (f"{base}/robots.txt", "rules", 200)
    assert "Disallow: /private" in stored["body"] and all(r["robots"] is None for r in results[1:])

    hits = site.hits_of(HOST_A, since)
    requested = [h.path for h in hits]
    assert requested.count("/robots.txt") == 1 and requested[0] == "/robots.txt"
    assert not any(p.startswith("/private") for p in requested)
    assert sorted(requested) == sorted(["/robots.txt"] + [p for p in paths if p != "/private/secret.html"])
    assert min(_gaps(hits)) >= CRAWL_DELAY_A  # robots.txt's Crawl-delay (0.2) beats delay_s (0.1)
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
    connector = RecordingConnector()
    with WarcSink(str(tmp_path / "x.warc.gz"), {}) as sink:
        for host in (HOST_A, "alderbank.test"):
            results = fetch_host_queue(HostQueue(host=host, items=_items(f"http://{host}:{port}", ["/"])),
                                       p, sink=sink, connector=connector)
            assert results[0]["reason"] == "crawl.address_refused"
    # The fetch is synchronous: a refused host got no connection, so nothing can still arrive.
    assert connector.addresses == [] and site.hits_of(HOST_A, since) == []


def test_a_stored_robots_answer_is_used_without_asking_again(site, tmp_path):
    """An answer an earlier round stored (HostQueue.robots) governs the queue: its rules and
    Crawl-delay apply, and /robots.txt is not requested (the live file would allow /a2.html)."""
    base = site.base(HOST_A)
    stored = robots_policy(200, b"User-agent: *\nDisallow: /a2.html\nCrawl-delay: 0.3\n")
    since = time.monotonic()
    with WarcSink(str(tmp_path / "x.warc.gz"), {}) as sink:
        results = fetch_host_queue(HostQueue(host=HOST_A, items=_items(base, ["/a1.html", "/a2.html", "/a3.html"]),
                                             robots={f"{base}/robots.txt": stored}), params(), sink=sink)
    assert [(r["outcome"], r["reason"], r["robots"]) for r in results] == [
        ("fetched", None, None), ("skipped", "crawl.robots_denied", None), ("fetched", None, None)]
    hits = site.hits_of(HOST_A, since)
    assert [h.path for h in hits] == ["/a1.html", "/a3.html"] and min(_gaps(hits)) >= 0.3


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


def test_https_with_the_configured_ca_bundle(tls_site, tls_files, tmp_path):
    """A real TLS server on 127.0.0.2 whose certificate only `crawl.ca_bundle` vouches for:
    robots.txt and the page come over https and land in the WARC file."""
    base = tls_site.base(HOST_A)
    assert base.startswith("https://")
    warc = tmp_path / "tls.warc.gz"
    with WarcSink(str(warc), {}) as sink:
        results = fetch_host_queue(HostQueue(host=HOST_A, items=_items(base, ["/", "/private/x.html"])),
                                   params(ca_bundle=str(tls_files["ca"])), sink=sink)
    assert [(r["outcome"], r["http_status"], r["reason"]) for r in results] == [
        ("fetched", 200, None), ("skipped", None, "crawl.robots_denied")]
    assert results[0]["outlinks"] == [f"{base}/s1.html"]
    assert [h.path for h in tls_site.hits_of(HOST_A)][-2:] == ["/robots.txt", "/"]
    with open(warc, "rb") as handle:
        bodies = {r.rec_headers.get_header("WARC-Target-URI"): r.content_stream().read()
                  for r in ArchiveIterator(handle) if r.rec_type == "response"}
    assert b"Encrypted ledgers" in bodies[f"{base}/"]


def test_an_untrusted_certificate_fails_with_a_clear_reason(tls_site, tmp_path):
    """Without the CA (the system store only), the handshake is refused before any request is
    sent: every URL of the host is `failed` with crawl.tls_untrusted, and nothing is written."""
    base = tls_site.base(HOST_A)
    since = time.monotonic()
    connector = RecordingConnector()
    with WarcSink(str(tmp_path / "x.warc.gz"), {}) as sink:
        results = fetch_host_queue(HostQueue(host=HOST_A, items=_items(base, ["/", "/s1.html"])), params(),
                                   sink=sink, connector=connector)
    assert [(r["outcome"], r["reason"]) for r in results] == [("failed", "crawl.tls_untrusted")] * 2
    assert "certificate" in REASONS["crawl.tls_untrusted"]
    assert len(connector.addresses) == 1  # robots.txt's handshake only: no request reached the server
    assert tls_site.hits_of(HOST_A, since) == [] and sink.responses == 0
