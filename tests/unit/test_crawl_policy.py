"""The crawler's pure policy: URLs, scope, the address guard, robots.txt, the schedule, config."""
from __future__ import annotations

import doctest
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import corpusforge.crawl.config as crawl_config
import corpusforge.crawl.fetch as crawl_fetch
import corpusforge.crawl.guard as guard
import corpusforge.crawl.parse as parse
import corpusforge.crawl.robots as robots
import corpusforge.crawl.schedule as schedule
import corpusforge.crawl.urls as urls
from corpusforge.crawl.config import CrawlParams, load_crawl_config
from corpusforge.errors import ConfigError
from corpusforge.reasons import REASONS


@pytest.mark.parametrize("module", [crawl_config, urls, guard, robots, schedule, parse, crawl_fetch])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("raw, expected", [
    ("HTTP://WWW.Example.COM:80/", "http://www.example.com/"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com/a/../b/./c/", "http://example.com/b/c/"),
    ("http://example.com/%7euser/%e4%B8%AD", "http://example.com/~user/%E4%B8%AD"),
    ("http://example.com/a b/中", "http://example.com/a%20b/%E4%B8%AD"),
    ("http://example.com/?b=2&a=1&utm_source=x&fbclid=y#frag", "http://example.com/?a=1&b=2"),
    ("http://user:pw@example.com/", "http://example.com/"),
    ("http://bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://example.com./x", "http://example.com/x"),
    ("http://[::FFFF:7f00:1]/", "http://[::ffff:7f00:1]/"),
])
def test_normalize_url(raw, expected):
    assert urls.normalize_url(raw, tracking_params=("utm_source", "fbclid")) == expected


def test_normalize_url_is_idempotent_and_rejects_junk():
    for raw in ("http://a.org/x/../y?z=%41&b", "https://a.org:444/%2f/a b"):
        once = urls.normalize_url(raw)
        assert urls.normalize_url(once) == once
    for junk in ("", "no scheme", "http://", "http://a.org:99999/", "http://exa mple.com/"):
        assert urls.normalize_url(junk) is None


@pytest.mark.parametrize("url, reason", [
    ("javascript:alert(1)", "crawl.url_scheme"),
    ("http://h/" + "a" * 2000, "crawl.url_too_long"),
    ("http://h/file.ZIP", "crawl.url_binary_extension"),
    ("http://h/x/y/x/y/x/", "crawl.url_path_trap"),
    ("http://h/page.html?f=a.zip", None),
    ("http://h/a/b/c/d", None),
])
def test_url_filters(url, reason):
    p = CrawlParams(user_agent="t")
    assert urls.url_drop_reason(url, max_length=p.max_url_length, max_path_repeats=p.max_path_repeats,
                                binary_extensions=p.binary_extensions) == reason


def test_scope_by_registered_domain_uses_the_bundled_suffix_list():
    assert urls.registered_domain("a.b.example.co.uk") == "example.co.uk"
    assert not urls.in_scope("a.github.io", "b.github.io", "domain")  # a private suffix
    assert urls.in_scope("a.example.org", "example.org", "domain")
    assert not urls.in_scope("a.example.org", "example.org", "host")
    assert urls.in_scope("x.org", "127.0.0.3", "hosts", ("127.0.0.2", "127.0.0.3"))


@pytest.mark.parametrize("address, allowed", [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True),
    ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False), ("100.64.0.1", False),
    ("169.254.169.254", False), ("127.0.0.1", False), ("0.0.0.0", False), ("224.0.0.251", False),
    ("255.255.255.255", False), ("240.0.0.1", False), ("::1", False), ("fe80::1", False),
    ("fc00::1", False), ("ff02::1", False), ("::ffff:10.0.0.1", False), ("::ffff:127.0.0.1", False),
    ("::ffff:8.8.8.8", True), ("not an address", False),
])
def test_address_guard(address, allowed):
    assert (guard.address_refusal(address) is None) is allowed


def test_loopback_only_with_allow_loopback():
    assert guard.address_refusal("127.0.0.2", allow_loopback=True) is None
    assert guard.address_refusal("::ffff:127.0.0.2", allow_loopback=True) is None
    assert guard.address_refusal("10.0.0.1", allow_loopback=True) == "crawl.address_refused"


def test_choose_address_resolves_once_and_skips_refused_addresses():
    calls = []

    def stub(host):
        calls.append(host)
        return ["192.168.0.7", "127.0.0.3"]

    assert guard.choose_address("site.test", stub, allow_loopback=True) == ("127.0.0.3", None)
    assert guard.choose_address("site.test", stub, allow_loopback=False) == (None, "crawl.address_refused")
    assert calls == ["site.test", "site.test"]

    def broken(host):
        raise OSError("no such host")

    assert guard.choose_address("x.test", broken, allow_loopback=True) == (None, "crawl.dns_failed")


def test_robots_longest_match_wildcards_and_agent_groups():
    text = (b"User-agent: otherbot\nDisallow: /\n\n"
            b"User-agent: *\nDisallow: /private\nAllow: /private/public\nDisallow: /*.cgi$\n"
            b"Crawl-delay: 0.5\n")
    policy = robots.robots_policy(200, text)
    ua = "testbot/1.0 (+http://example.org/bot)"
    assert policy.allows("http://h/index.html", ua)
    assert not policy.allows("http://h/private/x", ua)
    assert policy.allows("http://h/private/public/x", ua)  # the longer rule wins
    assert not policy.allows("http://h/a/run.cgi", ua)
    assert policy.allows("http://h/a/run.cgi?x=1", ua)
    assert not policy.allows("http://h/index.html", "otherbot")
    assert policy.crawl_delay(ua) == 0.5


def test_robots_status_meanings():
    assert robots.robots_policy(500).outcome == "defer"
    assert robots.robots_policy(429).outcome == "defer"
    assert robots.robots_policy(None).outcome == "defer"
    assert robots.robots_policy(403).allows("http://h/x", "bot")
    assert robots.robots_policy(404).allows("http://h/x", "bot")
    assert not robots.robots_policy(503).allows("http://h/x", "bot")


def test_crawl_delay_limit():
    assert schedule.host_wait_s(0.2, 0.5, 30) == 0.5
    assert schedule.host_wait_s(5, 30, 30) == 30
    assert schedule.host_wait_s(5, 30.5, 30) is None


def _transition(outcome, reason=None, status=None, prev="unfetched", retries=0):
    return schedule.transition(outcome=outcome, reason=reason, http_status=status, prev_status=prev,
                               prev_retries=retries, now=datetime(2026, 1, 1),
                               p=CrawlParams(user_agent="t"))


def test_transitions_cover_every_outcome():
    now = datetime(2026, 1, 1)
    assert _transition("fetched", status=200).next_fetch_time == now + timedelta(days=30)
    assert _transition("fetched", status=301).status == "redirected"
    assert _transition("fetched", status=404).status == "gone"
    assert _transition("fetched", status=429).status == "failed"
    retry = _transition("failed", reason="crawl.timeout", retries=2)
    assert (retry.status, retry.retries, retry.reason) == ("failed", 3, "crawl.timeout")
    assert retry.next_fetch_time == now + timedelta(hours=2)
    final = _transition("failed", reason="crawl.timeout", retries=3)
    assert (final.retries, final.reason) == (4, "crawl.retries_exhausted")
    deferred = _transition("skipped", reason="crawl.robots_unavailable", prev="fetched", retries=1)
    assert (deferred.status, deferred.retries) == ("fetched", 1)
    assert _transition("skipped", reason="crawl.address_refused").status == "refused"
    assert _transition("skipped", reason="crawl.crawl_delay_too_long").status == "robots_denied"


def test_select_fetch_list_orders_caps_per_host_and_in_all():
    now = datetime(2026, 1, 2)
    rows = [dict(url=f"http://{h}/{i}", host=h, score=1.0 / (1 + i), next_fetch_time=datetime(2026, 1, 1))
            for h in ("a", "b", "c") for i in range(5)]
    rows.append(dict(url="http://a/late", host="a", score=9.0, next_fetch_time=datetime(2026, 2, 1)))
    chosen = schedule.select_fetch_list(rows, now=now, max_per_host=2, limit=5)
    assert [r["url"] for r in chosen] == ["http://a/0", "http://b/0", "http://c/0", "http://a/1", "http://b/1"]


def test_outlinks_decode_gbk_and_honour_meta_nofollow():
    p = CrawlParams(user_agent="t", scope="host")
    body = '<html><head><meta charset="gbk"></head><body><a href="/中文">中</a></body></html>'.encode("gbk")
    links, dropped = parse.outlinks(body, "text/html", "http://h/", p)
    assert links == ["http://h/%E4%B8%AD%E6%96%87"] and dropped == {}
    nofollow = b'<meta name="robots" content="noindex, nofollow"><a href="/a">a</a>'
    assert parse.outlinks(nofollow, "text/html", "http://h/", p) == ([], {"crawl.url_nofollow": 1})
    assert parse.outlinks(b"<a href='/a'>", "application/octet-stream", "http://h/", p) == ([], {})


def test_config_requires_a_user_agent_and_checks_values():
    with pytest.raises(ConfigError, match="crawl.user_agent is required"):
        load_crawl_config()
    with pytest.raises(ConfigError, match="crawl.delay_s must be > 0"):
        load_crawl_config(overrides=["crawl.user_agent=bot", "crawl.delay_s=0"])
    with pytest.raises(ConfigError, match="unknown key 'crawl.delay'"):
        load_crawl_config(overrides=["crawl.user_agent=bot", "crawl.delay=1"])
    with pytest.raises(ConfigError, match="crawl.hosts"):
        load_crawl_config(overrides=["crawl.user_agent=bot", "crawl.scope=hosts"])
    cfg = load_crawl_config(overrides=["crawl.user_agent=bot", 'crawl.resolve={"a.test"="127.0.0.2"}'])
    assert cfg.crawl.delay_s == 5.0 and cfg.crawl.max_bytes == 1 << 20 and cfg.crawl.timeout_s == 10.0
    assert cfg.crawl.resolve == {"a.test": "127.0.0.2"}


def test_every_crawl_reason_is_documented():
    import re
    from pathlib import Path

    used = set()
    for path in Path(urls.__file__).parent.glob("*.py"):
        used.update(re.findall(r'"(crawl\.[a-z_]+)"', path.read_text()))
    used -= {"crawl.generate", "crawl.fetch", "crawl.parse", "crawl.updatedb", "crawl.py", "crawl.toml"}  # stage and file names
    assert used and not (used - set(REASONS)), sorted(used - set(REASONS))


def test_read_seeds_normalizes_and_names_the_bad_line(tmp_path):
    from corpusforge.crawl.cli import read_seeds
    from corpusforge.errors import InputError

    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# comment\n\nHTTP://Example.org:80/a/../b?utm_source=x\nhttps://example.org/\n")
    assert read_seeds(str(seeds), ("utm_source",)) == ["http://example.org/b", "https://example.org/"]
    seeds.write_text("http://ok.org/\nftp://nope.org/\n")
    with pytest.raises(ConfigError, match=r"seeds.txt:2: not an http\(s\) URL: 'ftp://nope.org/'"):
        read_seeds(str(seeds))
    seeds.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="no seed URLs"):
        read_seeds(str(seeds))
    with pytest.raises(InputError, match="seeds file not found"):
        read_seeds(str(tmp_path / "missing.txt"))


def test_the_shipped_crawl_config_loads_and_still_asks_for_a_user_agent():
    from corpusforge.crawl.config import load_crawl_config

    path = Path(__file__).resolve().parents[2] / "configs" / "crawl.toml"
    cfg = load_crawl_config(path, ['crawl.user_agent="testbot/0.1"'])
    assert cfg.crawl.user_agent == "testbot/0.1" and cfg.crawl.delay_s == 5.0
    with pytest.raises(ConfigError, match="user_agent"):
        load_crawl_config(path)
