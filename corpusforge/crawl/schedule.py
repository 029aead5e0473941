"""The per-host schedule and the crawldb's state transitions, as pure functions.

Every generated URL ends a round in exactly one of three outcomes, which the accounting
checks (generated = fetched + failed + skipped):
- `fetched`: an HTTP response was received and written to the WARC files (any status);
- `failed`: a request was attempted and gave no complete response (timeout, refused, …);
- `skipped`: nothing was sent for it (robots.txt, an address refused, a deferred host, …).

The crawldb status says what is known of the URL after the round:

| status | when | due again |
|---|---|---|
| unfetched | discovered, never tried | at once |
| fetched | a 2xx answer | after refetch_days |
| redirected | a 3xx answer; the target is `redirect_to` and a new URL | after refetch_days |
| gone | a 4xx answer other than 429 | after gone_refetch_days |
| failed | a 5xx/429 answer or no answer; `retries` counts them | after retry_delay_s, or gone_refetch_days once max_retries is passed |
| robots_denied | robots.txt disallows it, or asks a Crawl-delay over the limit | after gone_refetch_days |
| refused | its host has no address the guard allows, or none at all | after gone_refetch_days |

A host whose robots.txt answered 429/5xx is deferred: its URLs keep their status and are due
again after retry_delay_s.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from corpusforge.crawl.config import CrawlParams

SKIP_KEEP_STATUS = frozenset({"crawl.robots_unavailable"})
SKIP_STATUS = {
    "crawl.robots_denied": "robots_denied",
    "crawl.crawl_delay_too_long": "robots_denied",
    "crawl.address_refused": "refused",
}


def host_wait_s(delay_s: float, crawl_delay: float | None, max_crawl_delay_s: float) -> float | None:
    """Seconds between two requests to one host, or None when its Crawl-delay is too long.

    >>> host_wait_s(5, None, 30), host_wait_s(5, 12.5, 30), host_wait_s(5, 31, 30)
    (5, 12.5, None)
    """
    if crawl_delay is not None and crawl_delay > max_crawl_delay_s:
        return None
    return max(delay_s, crawl_delay or 0.0)


@dataclass(frozen=True, kw_only=True)
class Transition:
    status: str
    retries: int
    next_fetch_time: datetime
    reason: str | None


def transition(*, outcome: str, reason: str | None, http_status: int | None, prev_status: str,
               prev_retries: int, now: datetime, p: CrawlParams) -> Transition:
    """The crawldb state of a URL after one round's outcome for it.

    >>> from datetime import datetime
    >>> now, p = datetime(2026, 1, 1), CrawlParams(user_agent="t")
    >>> t = transition(outcome="fetched", reason=None, http_status=200, prev_status="unfetched", prev_retries=1, now=now, p=p)
    >>> t.status, t.retries, t.next_fetch_time
    ('fetched', 0, datetime.datetime(2026, 1, 31, 0, 0))
    >>> t = transition(outcome="fetched", reason=None, http_status=503, prev_status="unfetched", prev_retries=0, now=now, p=p)
    >>> t.status, t.retries, t.reason, t.next_fetch_time
    ('failed', 1, 'crawl.http_error', datetime.datetime(2026, 1, 1, 2, 0))
    >>> transition(outcome="failed", reason="crawl.timeout", http_status=None, prev_status="failed", prev_retries=3, now=now, p=p).reason
    'crawl.retries_exhausted'
    >>> transition(outcome="skipped", reason="crawl.robots_denied", http_status=None, prev_status="unfetched", prev_retries=0, now=now, p=p).status
    'robots_denied'
    """
    later = lambda days: now + timedelta(days=days)  # noqa: E731
    if outcome == "skipped":
        if reason in SKIP_KEEP_STATUS:
            return Transition(status=prev_status, retries=prev_retries, reason=reason,
                              next_fetch_time=now + timedelta(seconds=p.retry_delay_s))
        return Transition(status=SKIP_STATUS.get(reason, "refused"), retries=prev_retries,
                          reason=reason, next_fetch_time=later(p.gone_refetch_days))
    if outcome == "fetched" and http_status is not None:
        if 200 <= http_status < 300:
            return Transition(status="fetched", retries=0, reason=None,
                              next_fetch_time=later(p.refetch_days))
        if 300 <= http_status < 400:
            return Transition(status="redirected", retries=0, reason="crawl.redirect",
                              next_fetch_time=later(p.refetch_days))
        if 400 <= http_status < 500 and http_status != 429:
            return Transition(status="gone", retries=0, reason="crawl.gone",
                              next_fetch_time=later(p.gone_refetch_days))
        reason = "crawl.http_error"
    retries = prev_retries + 1
    if retries > p.max_retries:
        return Transition(status="failed", retries=retries, reason="crawl.retries_exhausted",
                          next_fetch_time=later(p.gone_refetch_days))
    return Transition(status="failed", retries=retries, reason=reason or "crawl.fetch_error",
                      next_fetch_time=now + timedelta(seconds=p.retry_delay_s))


def outlink_score(depth: int) -> float:
    """The score of a URL found `depth` links from a seed: closer pages are fetched first.

    >>> outlink_score(0), outlink_score(3)
    (1.0, 0.25)
    """
    return 1.0 / (1 + depth)


def select_fetch_list(rows: list[dict], *, now: datetime, max_per_host: int, limit: int) -> list[dict]:
    """The pure reference of `generate`: due rows, best score first (then url), at most
    `max_per_host` per host and `limit` in all. The Spark round computes the same list.

    >>> rows = [dict(url=u, host=h, score=s, next_fetch_time=datetime(2026, 1, d)) for u, h, s, d in
    ...         [("a1", "a", 1.0, 1), ("a2", "a", 0.5, 1), ("a3", "a", 0.9, 9), ("b1", "b", 0.7, 1)]]
    >>> [r["url"] for r in select_fetch_list(rows, now=datetime(2026, 1, 2), max_per_host=1, limit=10)]
    ['a1', 'b1']
    """
    due = sorted((r for r in rows if r["next_fetch_time"] <= now), key=lambda r: (-r["score"], r["url"]))
    per_host: dict[str, int] = {}
    chosen = []
    for row in due:
        if per_host.get(row["host"], 0) < max_per_host:
            per_host[row["host"]] = per_host.get(row["host"], 0) + 1
            chosen.append(row)
    return chosen[:limit]
