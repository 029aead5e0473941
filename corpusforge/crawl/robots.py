"""robots.txt by RFC 9309, through protego (longest match, `*` and `$`, decimal Crawl-delay).

What an answer to `/robots.txt` means (Nutch's and RFC 9309's reading):
- 2xx: its rules apply;
- 429 or 5xx, or no answer at all: the host is deferred (nothing fetched this round);
- any other 4xx: no rules, everything is allowed.

Rules and allow-all answers are stored with their fetch time (the crawl's `robots` table) and
reused by later rounds until `crawl.robots_max_age_s` (24 h by default, as Nutch and Google
do); a deferral is never stored, so the next round asks again.

Example::

    policy = robots_policy(200, b"User-agent: *\\nDisallow: /private\\nCrawl-delay: 2")
    policy.allows("http://h/private/x", "mybot")   # False
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309: parse at least 500 KiB; ignore the rest


@dataclass(frozen=True, kw_only=True)
class RobotsPolicy:
    outcome: str  # "rules" | "allow_all" | "defer"
    text: str = ""  # the robots.txt body when outcome == "rules"
    status: int | None = None  # the HTTP status robots.txt was answered with (None: no answer)
    failure: str | None = None  # defer: the crawl.* reason the request failed with, when it fails every
    #                             URL of the host alike (an untrusted TLS certificate); None otherwise

    @property
    def reusable(self) -> bool:
        """Whether a later round may reuse this answer (until crawl.robots_max_age_s): rules
        and allow-all are; a deferral is not, so the next round asks again.

        >>> robots_policy(404).reusable, robots_policy(503).reusable
        (True, False)
        """
        return self.outcome in ("rules", "allow_all")

    def _parsed(self):
        parsed = self.__dict__.get("_parsed_cache")
        if parsed is None:
            from protego import Protego

            parsed = Protego.parse(self.text)
            object.__setattr__(self, "_parsed_cache", parsed)
        return parsed

    def allows(self, url: str, user_agent: str) -> bool:
        """Whether `user_agent` may fetch `url` (a deferred host allows nothing)."""
        if self.outcome == "allow_all":
            return True
        if self.outcome == "defer":
            return False
        return bool(self._parsed().can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        """The Crawl-delay (seconds) robots.txt asks of `user_agent`, or None."""
        if self.outcome != "rules":
            return None
        delay = self._parsed().crawl_delay(user_agent)
        return float(delay) if delay is not None else None


def robots_policy(status: int | None, body: bytes = b"") -> RobotsPolicy:
    """What the answer to a robots.txt request means.

    >>> robots_policy(503).outcome, robots_policy(429).outcome, robots_policy(None).outcome
    ('defer', 'defer', 'defer')
    >>> robots_policy(404).outcome, robots_policy(403).outcome
    ('allow_all', 'allow_all')
    >>> p = robots_policy(200, b"User-agent: *\\nDisallow: /a*.php$\\nAllow: /a/ok.php$\\nCrawl-delay: 2.5")
    >>> p.allows("http://h/a/x.php", "bot"), p.allows("http://h/a/ok.php", "bot"), p.allows("http://h/a/x.php?q", "bot")
    (False, True, True)
    >>> p.crawl_delay("bot")
    2.5
    """
    if status is None or status == 429 or status >= 500:
        return RobotsPolicy(outcome="defer", status=status)
    if 200 <= status < 300:
        text = body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
        return RobotsPolicy(outcome="rules", text=text, status=status)
    return RobotsPolicy(outcome="allow_all", status=status)


def robots_url(url: str) -> str:
    """Where the robots.txt that governs `url` is: same scheme, host and port.

    >>> robots_url("http://h:8080/a/b?c")
    'http://h:8080/robots.txt'
    """
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
