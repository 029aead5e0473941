"""Fetch one host's queue over HTTP, politely, into WARC records. No Spark here.

One host's URLs are fetched one at a time by one thread (Nutch: one queue per host, one
connection at a time). Before anything is sent, the host is resolved once and its address
checked by the guard; every request then connects to that checked address (the name goes in
the Host header and in TLS SNI only), so no second DNS answer is ever used. robots.txt is
requested first (through the same checked address, its redirects checked again) and counts as
a request to the host: the per-host wait follows it too. An answer an earlier round stored
(`HostQueue.robots`, fresh for crawl.robots_max_age_s) is used instead of asking again.

https is verified against the system's CAs plus `crawl.ca_bundle`; a certificate that does not
verify fails the request with `crawl.tls_untrusted` (on robots.txt: every URL of the host). The wait between two requests is
measured from the end of one response to the start of the next.

Limits on one response: `timeout_s` to connect and for every read, plus a total deadline
(`deadline_s`) enforced by a timer that shuts the socket down, so a server dripping one byte
at a time cannot hold a task; the body is read up to `max_bytes` and a longer one is cut
there and flagged (WARC-Truncated: length). Redirects are not followed: a 3xx is recorded
with its target, which becomes a new URL for a later round.

Example::

    with WarcSink(path, info) as sink:
        results = fetch_host_queue(host, items, params, sink=sink)
"""
from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import io
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

from corpusforge.crawl.config import CrawlParams
from corpusforge.crawl.guard import Resolver, choose_address, resolve_with
from corpusforge.crawl.parse import outlinks
from corpusforge.crawl.robots import RobotsPolicy, robots_policy, robots_url
from corpusforge.crawl.schedule import host_wait_s
from corpusforge.crawl.urls import DEFAULT_PORTS, host_of, normalize_url

Connector = Callable[[tuple[str, int], float], socket.socket]
MAX_ROBOTS_REDIRECTS = 5  # RFC 9309: follow at least five
_READ_CHUNK = 64 << 10


class FetchError(Exception):
    """A request that gave no complete response; `reason` is a `crawl.*` key."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(kw_only=True)
class Exchange:
    """One HTTP request as sent and its response as received (body de-chunked, maybe cut)."""

    url: str
    address: str
    request: bytes
    protocol: str  # "HTTP/1.1"
    status: int
    status_text: str
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool
    started: datetime  # when the request was sent (UTC)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def payload_digest(body: bytes) -> str:
    """The WARC-style digest of a payload: 'sha1:' + base32.

    >>> payload_digest(b"")
    'sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ'
    """
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def build_request(url: str, user_agent: str) -> bytes:
    """The exact bytes of the GET request for `url` (also stored as the WARC request record).

    >>> build_request("http://h:81/a?b=1", "bot/1").split(b"\\r\\n")[:3]
    [b'GET /a?b=1 HTTP/1.1', b'Host: h:81', b'User-Agent: bot/1']
    """
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", f"User-Agent: {user_agent}",
             "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
             "Accept-Encoding: identity", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("ascii")


def http_get(url: str, address: str, p: CrawlParams, *,
             connector: Connector = socket.create_connection) -> Exchange:
    """GET `url` from `address` (already checked by the guard) within the limits of `p`."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    request = build_request(url, p.user_agent)
    started_wall = datetime.now(timezone.utc)
    expired = threading.Event()
    holder: list[socket.socket] = []

    def expire() -> None:
        expired.set()
        for sock in holder:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    ticket = _WATCHDOG.arm(p.deadline_s, expire)
    try:
        try:
            sock = connector((address, port), p.timeout_s)
        except TimeoutError:
            raise FetchError("crawl.timeout", "connect") from None
        except OSError as err:
            raise FetchError("crawl.connect_failed", str(err)) from None
        holder.append(sock)
        if expired.is_set():
            expire()
        try:
            sock.settimeout(p.timeout_s)
            if parts.scheme == "https":
                try:
                    sock = _tls_context(p.ca_bundle).wrap_socket(sock, server_hostname=parts.hostname)
                except ssl.SSLCertVerificationError as err:
                    raise FetchError("crawl.tls_untrusted", err.verify_message or str(err)) from None
                holder.append(sock)
            sock.sendall(request)
            response = http.client.HTTPResponse(sock, method="GET")
            response.begin()
            chunks, total, truncated = [], 0, False
            while True:
                chunk = response.read1(_READ_CHUNK)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > p.max_bytes:
                    truncated = True
                    break
        except FetchError:
            raise
        except TimeoutError:
            raise FetchError("crawl.deadline_exceeded" if expired.is_set() else "crawl.timeout",
                             "read") from None
        except (http.client.HTTPException, ssl.SSLError, OSError, ValueError) as err:
            if expired.is_set():
                raise FetchError("crawl.deadline_exceeded", f"after {p.deadline_s} s") from None
            raise FetchError("crawl.protocol_error", f"{type(err).__name__}: {err}") from None
        if expired.is_set():  # the timer shut the socket down: what came is not the whole page
            raise FetchError("crawl.deadline_exceeded", f"after {p.deadline_s} s")
    finally:
        _WATCHDOG.disarm(ticket)
        for sock in holder:
            try:
                sock.close()
            except OSError:
                pass
    return Exchange(url=url, address=address, request=request,
                    protocol="HTTP/1.0" if response.version == 10 else "HTTP/1.1",
                    status=response.status, status_text=response.reason or "",
                    headers=list(response.msg.items()), body=b"".join(chunks)[:p.max_bytes],
                    truncated=truncated, started=started_wall)


class _Watchdog:
    """One thread per process that runs each armed callback when its deadline passes: the
    total-deadline timer of every request, without a thread per request."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._armed: set[int] = set()
        self._next = 0
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, callback: Callable[[], None]) -> int:
        import heapq

        with self._lock:
            self._next += 1
            heapq.heappush(self._heap, (time.monotonic() + seconds, self._next, callback))
            self._armed.add(self._next)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="crawl-deadlines", daemon=True)
                self._thread.start()
            self._lock.notify()
            return self._next

    def disarm(self, ticket: int) -> None:
        with self._lock:
            self._armed.discard(ticket)

    def _run(self) -> None:
        import heapq

        while True:
            with self._lock:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._lock.wait(timeout=1.0)
                    continue
                due, ticket, callback = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._lock.wait(timeout=delay)
                    continue
                heapq.heappop(self._heap)
                self._armed.discard(ticket)
            callback()


_WATCHDOG = _Watchdog()


@functools.lru_cache(maxsize=8)
def _tls_context(ca_bundle: str = "") -> ssl.SSLContext:
    """The client TLS context: the system's trusted CAs plus those of `ca_bundle` (a PEM
    file), certificate and host name checked. Built once per bundle: loading the system store
    for every request would cost more than the request."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class WarcSink:
    """One WARC/1.1 file (gzip per record) a fetch task writes; thread-safe; opened on first use.

    Each fetched response is a request record and a response record (WARC-Concurrent-To links
    them), with WARC-Target-URI, WARC-Date (when the request was sent), WARC-IP-Address and
    payload digests; a cut body carries `WARC-Truncated: length`.
    """

    def __init__(self, path: str, warcinfo: dict[str, str]):
        self.path = path
        self.warcinfo = warcinfo
        self.responses = 0
        self._lock = threading.Lock()
        self._file = None
        self._writer = None

    def write(self, ex: Exchange) -> None:
        from warcio.statusandheaders import StatusAndHeaders

        with self._lock:
            writer = self._open()
            date = ex.started.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            headers = [(k, v) for k, v in ex.headers if k.lower() != "transfer-encoding"]
            if ex.truncated or len(headers) != len(ex.headers):
                # The stored body is de-chunked and maybe cut: say so in Content-Length.
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(ex.body))))
            warc_headers = {"WARC-Date": date, "WARC-IP-Address": ex.address}
            if ex.truncated:
                warc_headers["WARC-Truncated"] = "length"
            response = writer.create_warc_record(
                ex.url, "response", payload=io.BytesIO(ex.body), length=len(ex.body),
                warc_headers_dict=warc_headers,
                http_headers=StatusAndHeaders(f"{ex.status} {ex.status_text}".strip(), headers,
                                              protocol=ex.protocol))
            request = writer.create_warc_record(
                ex.url, "request", payload=io.BytesIO(ex.request), length=len(ex.request),
                warc_headers_dict={"WARC-Date": date, "WARC-IP-Address": ex.address})
            writer.write_request_response_pair(request, response)
            self.responses += 1

    def _open(self):
        if self._writer is None:
            from warcio.warcwriter import WARCWriter

            self._file = open(self.path, "wb")
            self._writer = WARCWriter(self._file, gzip=True, warc_version="1.1")
            name = self.path.rsplit("/", 1)[-1]
            self._writer.write_record(self._writer.create_warcinfo_record(name, self.warcinfo))
        return self._writer

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> "WarcSink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(kw_only=True)
class HostQueue:
    """One host's share of a round's fetch list, in fetch order."""

    host: str
    items: list[dict]  # crawldb rows: url, depth, score, status, retries
    not_before: float = 0.0  # epoch seconds: the previous round's last request + the wait
    robots: dict[str, RobotsPolicy] = field(default_factory=dict)  # robots URL → a stored answer still fresh


@dataclass(kw_only=True)
class _Clock:
    """When the host may next be asked (monotonic): the end of its last response plus the
    wait, which robots.txt's Crawl-delay may raise after the first request."""

    wait_s: float
    not_before: float = 0.0
    last_end: float | None = None
    requests: int = 0

    def before_request(self) -> None:
        ready = self.not_before if self.last_end is None else max(self.not_before, self.last_end + self.wait_s)
        delay = ready - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def after_request(self) -> None:
        self.requests += 1
        self.last_end = time.monotonic()


@dataclass(kw_only=True)
class _RobotsCache:
    policies: dict[str, RobotsPolicy] = field(default_factory=dict)  # robots URL → answer (stored or fetched)


def fetch_host_queue(queue: HostQueue, p: CrawlParams, *, sink: WarcSink,
                     resolver: Resolver | None = None,
                     connector: Connector = socket.create_connection) -> list[dict]:
    """Fetch one host's queue; one result dict per item, in order (see `result_row`).

    Every item ends with exactly one outcome: fetched, failed or skipped (schedule.py).
    """
    resolver = resolver or resolve_with(p.resolve)
    address, refusal = choose_address(queue.host, resolver, allow_loopback=p.allow_loopback)
    if address is None:
        outcome = "failed" if refusal == "crawl.dns_failed" else "skipped"
        return [result_row(item, outcome=outcome, reason=refusal) for item in queue.items]
    clock = _Clock(wait_s=p.delay_s, not_before=time.monotonic() + max(0.0, queue.not_before - time.time()))
    robots = _RobotsCache(policies=dict(queue.robots))
    results = []
    for item in queue.items:
        policy, fetched = _robots_for(item["url"], address, p, clock, robots, resolver, connector)
        row = _fetch_item(item, address, policy, p, clock, sink, connector)
        if fetched is not None:  # the result of the URL that needed it carries it to the robots table
            row["robots"] = fetched
        results.append(row)
    return results


def _fetch_item(item, address, policy: RobotsPolicy, p: CrawlParams, clock: _Clock, sink: WarcSink,
                connector: Connector) -> dict:
    url = item["url"]
    if policy.outcome == "defer":
        if policy.failure:  # robots.txt's request failed as every request to the host would
            return result_row(item, outcome="failed", reason=policy.failure, fetch_time=datetime.now(timezone.utc))
        return result_row(item, outcome="skipped", reason="crawl.robots_unavailable")
    wait = host_wait_s(p.delay_s, policy.crawl_delay(p.user_agent), p.max_crawl_delay_s)
    if wait is None:
        return result_row(item, outcome="skipped", reason="crawl.crawl_delay_too_long")
    if not policy.allows(url, p.user_agent):
        return result_row(item, outcome="skipped", reason="crawl.robots_denied")
    clock.wait_s = wait
    clock.before_request()
    try:
        exchange = http_get(url, address, p, connector=connector)
    except FetchError as err:
        clock.after_request()
        return result_row(item, outcome="failed", reason=err.reason, fetch_time=datetime.now(timezone.utc))
    clock.after_request()
    sink.write(exchange)
    return _fetched_row(item, exchange, p, sink.path)


def _robots_for(url, address, p, clock, cache, resolver, connector) -> tuple[RobotsPolicy, dict | None]:
    """The robots.txt policy for `url`'s scheme, host and port: a stored answer of an earlier
    round while it is fresh, else fetched once per queue. The second value is the entry to
    store when this call fetched a reusable answer (else None)."""
    key = robots_url(url)
    if key in cache.policies:
        return cache.policies[key], None
    target, target_address = key, address
    policy = robots_policy(None)
    fetch_time = datetime.now(timezone.utc)
    for _hop in range(MAX_ROBOTS_REDIRECTS + 1):
        clock.before_request()
        try:
            exchange = http_get(target, target_address, p, connector=connector)
        except FetchError as err:
            clock.after_request()
            if err.reason == "crawl.tls_untrusted":
                policy = RobotsPolicy(outcome="defer", failure=err.reason)
            break
        clock.after_request()
        location = exchange.header("location")
        if 300 <= exchange.status < 400 and location:
            target = normalize_url(location, base=target)
            if target is None or urlsplit(target).scheme not in DEFAULT_PORTS:
                policy = robots_policy(404)  # no usable robots.txt: RFC 9309 treats it as absent
                break
            # A redirect is checked like a new host: resolved and guarded again.
            target_address, refusal = choose_address(host_of(target), resolver,
                                                     allow_loopback=p.allow_loopback)
            if target_address is None:
                break  # defer: the rules exist somewhere we may not go
            continue
        policy = robots_policy(exchange.status, exchange.body)
        break
    cache.policies[key] = policy
    if not policy.reusable:
        return policy, None
    return policy, {"robots_url": key, "outcome": policy.outcome, "http_status": policy.status,
                    "body": policy.text, "fetch_time": fetch_time}


def result_row(item: dict, *, outcome: str, reason: str | None, fetch_time: datetime | None = None,
               **fields) -> dict:
    """The result of one fetch-list item: the item's keys plus what the fetch found."""
    row = {"url": item["url"], "outcome": outcome, "reason": reason, "fetch_time": fetch_time,
           "http_status": None, "content_type": None, "content_length": None, "truncated": False,
           "digest": None, "redirect_to": None, "outlinks": [], "outlinks_dropped": {},
           "warc_file": None, "robots": None}
    row.update(fields)
    return row


def _fetched_row(item: dict, ex: Exchange, p: CrawlParams, warc_path: str) -> dict:
    content_type = ex.header("content-type")
    redirect_to = None
    links: list[str] = []
    dropped: dict[str, int] = {}
    if 300 <= ex.status < 400 and ex.header("location"):
        redirect_to = normalize_url(ex.header("location"), base=ex.url,
                                    tracking_params=p.tracking_params)
        if redirect_to is not None:
            from corpusforge.crawl.parse import filter_link

            kept, reason = filter_link(redirect_to, ex.url, host_of(ex.url), p)
            if kept:
                links = [kept]
            else:
                dropped = {reason: 1}
    elif 200 <= ex.status < 300:
        links, dropped = outlinks(ex.body, content_type, ex.url, p)
        if links and item.get("depth", 0) >= p.max_depth:
            dropped = {**dropped, "crawl.url_too_deep": len(links)}
            links = []
    return result_row(item, outcome="fetched", reason="crawl.truncated" if ex.truncated else None,
                      fetch_time=ex.started, http_status=ex.status, content_type=content_type,
                      content_length=len(ex.body), truncated=ex.truncated,
                      digest=payload_digest(ex.body), redirect_to=redirect_to, outlinks=links,
                      outlinks_dropped=dropped, warc_file=warc_path.rsplit("/", 1)[-1])
