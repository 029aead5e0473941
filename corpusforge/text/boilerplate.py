"""What counts as a host's boilerplate line: the params of the `boilerplate` stage, and hosts.

The stage itself (a Spark aggregation over the run) is `corpusforge.stages.boilerplate`; a line
is the hash of its dedup key and is removed by number, with the same functions as the
`dedup_lines` stage (`corpusforge.dedup.lines`).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, kw_only=True)
class BoilerplateParams:
    """When a line counts as a host's boilerplate."""

    min_host_docs: int = 5  # hosts with fewer live documents are left alone: too little evidence
    min_doc_frac: float = 0.5  # a line in at least this fraction of the host's documents ...
    min_line_docs: int = 3  # ... and in at least this many of them is removed everywhere on the host


def url_host(url: str | None) -> str | None:
    """The lower-cased host of `url` (port and credentials dropped), or None when it has none.

    >>> url_host("https://User@News.Example.com:8080/a?b"), url_host("not a url"), url_host(None)
    ('news.example.com', None, None)
    """
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:  # e.g. an invalid IPv6 literal in the netloc
        return None
    return host or None
