"""The `[crawl]` config section: built-in defaults < `--config crawl.toml` < `--set crawl.KEY=V`.

Defaults follow Apache Nutch (5 s per host, Crawl-delay honoured up to 30 s, 1 MiB, 10 s
timeouts, 30-day re-fetch, 3 retries, robots.txt kept 24 h). A crawl without a `user_agent` is refused before any
work: a site owner must be able to tell who is knocking.

Example::

    cfg = load_crawl_config("configs/crawl.toml", ["crawl.delay_s=1"])
    cfg.crawl.delay_s        # 1.0
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from corpusforge.errors import ConfigError
from corpusforge.typed_config import build_config, read_toml

DEFAULT_TRACKING_PARAMS = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
    "gclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "_ga", "yclid",
)
DEFAULT_BINARY_EXTENSIONS = (
    "7z", "apk", "avi", "bin", "bmp", "bz2", "css", "dmg", "doc", "docx", "eot", "exe", "flac",
    "flv", "gif", "gz", "ico", "iso", "jar", "jpeg", "jpg", "js", "m4a", "mkv", "mov", "mp3",
    "mp4", "mpeg", "ogg", "otf", "pdf", "png", "ppt", "pptx", "rar", "rpm", "svg", "tar", "tgz",
    "tif", "tiff", "ttf", "wav", "webm", "webp", "woff", "woff2", "xls", "xlsx", "xz", "zip",
)


@dataclass(frozen=True, kw_only=True)
class CrawlParams:
    user_agent: str = ""  # required: the name sent in User-Agent and matched in robots.txt
    delay_s: float = 5.0  # least wait between two requests to one host (Nutch: 5 s)
    max_crawl_delay_s: float = 30.0  # a robots.txt Crawl-delay above this skips the host
    max_pages: int = 1000  # URLs fetched (generated) in one invocation, over all its rounds
    max_pages_per_host: int = 100  # URLs of one host in one round's fetch list
    timeout_s: float = 10.0  # connect timeout and the longest wait for any one read
    deadline_s: float = 30.0  # total time one response may take, headers to last byte
    max_bytes: int = 1 << 20  # content cap; a longer page is truncated and flagged
    scope: Literal["host", "domain", "hosts"] = "domain"  # host | domain (registered) | hosts (the list)
    hosts: tuple[str, ...] = ()  # scope = "hosts": the hosts a crawl may enter
    allow_loopback: bool = False  # contact 127.0.0.0/8 and ::1 (tests, a local site); never else
    resolve: dict[str, str] = field(default_factory=dict)  # host → address, used instead of DNS
    tracking_params: tuple[str, ...] = DEFAULT_TRACKING_PARAMS  # query keys removed from URLs
    binary_extensions: tuple[str, ...] = DEFAULT_BINARY_EXTENSIONS  # path suffixes never fetched
    max_url_length: int = 1024  # longer URLs are dropped
    max_path_repeats: int = 3  # a path segment seen more often is a trap (/a/b/a/b/a/b/…)
    max_outlinks: int = 100  # outlinks kept per page (Nutch default)
    max_depth: int = 10  # links further than this from a seed are not added
    refetch_days: float = 30.0  # a fetched page is due again after this
    gone_refetch_days: float = 90.0  # a gone / denied / refused URL is looked at again after this
    retry_delay_s: float = 7200.0  # a transient failure is tried again after this
    max_retries: int = 3  # transient failures before a URL is `failed` for good
    threads_per_task: int = 16  # host queues one fetch task runs at once (one thread each)
    fetch_tasks: int = 0  # Spark tasks fetching a round (0 = the default parallelism)
    robots_max_age_s: float = 86400.0  # a host's stored robots.txt answer is reused this long (Nutch, Google: 24 h)
    ca_bundle: str = ""  # PEM file of CA certificates trusted for https besides the system store
    local_dir: str = ""  # where fetch tasks write WARC files before they are published (default: the
    #                      output's _staging when it is local, else the system temp dir; on a cluster
    #                      with a remote output, a directory the driver and every executor share)


@dataclass(frozen=True, kw_only=True)
class CrawlConfig:
    crawl: CrawlParams = field(default_factory=CrawlParams)


_TOKEN = re.compile(r"^[\x21-\x7e][\x20-\x7e]*$")  # printable ASCII, as HTTP headers need


def check_params(p: CrawlParams) -> None:
    """Raise ConfigError naming the first key that cannot work.

    >>> check_params(CrawlParams())
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: crawl.user_agent is required: name your crawler (and a contact URL) so site owners can tell who is fetching
    """
    if not p.user_agent.strip():
        raise ConfigError("crawl.user_agent is required: name your crawler (and a contact URL) "
                          "so site owners can tell who is fetching")
    if not _TOKEN.match(p.user_agent):
        raise ConfigError(f"crawl.user_agent must be printable ASCII, got {p.user_agent!r}")
    positive = ("delay_s", "timeout_s", "deadline_s", "max_pages", "max_pages_per_host", "max_bytes",
                "max_url_length", "max_path_repeats", "threads_per_task", "refetch_days")
    for key in positive:
        if getattr(p, key) <= 0:
            raise ConfigError(f"crawl.{key} must be > 0, got {getattr(p, key)!r}")
    for key in ("max_retries", "max_outlinks", "max_depth", "fetch_tasks", "retry_delay_s", "robots_max_age_s"):
        if getattr(p, key) < 0:
            raise ConfigError(f"crawl.{key} must be >= 0, got {getattr(p, key)!r}")
    if p.ca_bundle and not Path(p.ca_bundle).is_file():
        raise ConfigError(f"crawl.ca_bundle: no such file {p.ca_bundle!r} (a PEM file of CA certificates)")
    if p.scope == "hosts" and not p.hosts:
        raise ConfigError("crawl.scope = 'hosts' needs crawl.hosts, the hosts a crawl may enter")


def load_crawl_config(path: str | Path | None = None, overrides: list[str] = ()) -> CrawlConfig:
    """The resolved, checked crawl config.

    >>> load_crawl_config(overrides=["crawl.user_agent=testbot", "crawl.delay_s=1"]).crawl.delay_s
    1.0
    """
    cfg = build_config(CrawlConfig, read_toml(path), overrides)
    check_params(cfg.crawl)
    return cfg


def crawl_config_hash(cfg: CrawlConfig) -> str:
    """A stable 16-hex hash of the resolved config (stored in the crawl's ledger rows)."""
    data = json.dumps(dataclasses.asdict(cfg), sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]


def config_dict(cfg: CrawlConfig) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=list))
