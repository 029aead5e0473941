"""Outlinks of a fetched page: `<a>`/`<area>` hrefs against `<base>`, normalized, filtered
and scoped; `rel=nofollow` links and pages marked `<meta name=robots content=nofollow>` give
none. The page is decoded the way ingest decodes it (corpusforge.ingest.html).

Example::

    links, dropped = outlinks(body, "text/html", "http://h/a/", params)
"""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from corpusforge.crawl.config import CrawlParams
from corpusforge.crawl.urls import host_of, in_scope, normalize_url, url_drop_reason

HTML_TYPES = ("text/html", "application/xhtml+xml")


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.hrefs: list[str] = []
        self.nofollow = False

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        elif tag in ("a", "area") and values.get("href"):
            if "nofollow" not in values.get("rel", "").lower().split():
                self.hrefs.append(values["href"])
        elif tag == "meta" and values.get("name", "").lower() in ("robots",):
            if "nofollow" in values.get("content", "").lower() or "none" in values.get("content", "").lower():
                self.nofollow = True


def is_html(content_type: str | None) -> bool:
    """Whether a Content-Type value names HTML.

    >>> is_html("text/html; charset=gbk"), is_html("application/octet-stream"), is_html(None)
    (True, False, False)
    """
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() in HTML_TYPES


def extract_hrefs(html: str) -> tuple[str | None, list[str], bool]:
    """(the `<base href>`, the followable hrefs in page order, whether the page says nofollow).

    >>> extract_hrefs('<base href="/d/"><a href="x">x</a><a rel="nofollow" href="y">y</a><area href="z">')
    ('/d/', ['x', 'z'], False)
    """
    parser = _LinkParser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    return parser.base, parser.hrefs, parser.nofollow


def filter_link(link: str, base: str, source_host: str, p: CrawlParams) -> tuple[str | None, str | None]:
    """(normalized URL, None) when `link` found on a page of `source_host` may be crawled,
    else (None, the `crawl.url_*` reason).

    >>> p = CrawlParams(user_agent="t", scope="host")
    >>> filter_link("b.html#x", "http://h/a/", "h", p), filter_link("http://other/", "http://h/", "h", p)
    (('http://h/a/b.html', None), (None, 'crawl.url_out_of_scope'))
    >>> filter_link("mailto:a@h", "http://h/", "h", p)
    (None, 'crawl.url_scheme')
    """
    try:
        scheme = urlsplit(urljoin(base, link.strip())).scheme.lower()
    except ValueError:
        return None, "crawl.url_invalid"
    if scheme not in ("http", "https"):
        return None, "crawl.url_scheme"
    url = normalize_url(link, base=base, tracking_params=p.tracking_params)
    if url is None:
        return None, "crawl.url_invalid"
    reason = url_drop_reason(url, max_length=p.max_url_length, max_path_repeats=p.max_path_repeats,
                             binary_extensions=p.binary_extensions)
    if reason is None and not in_scope(source_host, host_of(url), p.scope, p.hosts):
        reason = "crawl.url_out_of_scope"
    return (None, reason) if reason else (url, None)


def outlinks(body: bytes, content_type: str | None, page_url: str, p: CrawlParams) -> tuple[list[str], dict[str, int]]:
    """(the page's outlinks to crawl, unique, at most max_outlinks; dropped links by reason).

    >>> p = CrawlParams(user_agent="t", scope="host", max_outlinks=2)
    >>> outlinks(b'<a href="/a">a</a><a href="/a#x">a</a><a href="http://o/">o</a><a href="/b"><a href="/c">',
    ...          "text/html", "http://h/", p)
    (['http://h/a', 'http://h/b'], {'crawl.url_out_of_scope': 1, 'crawl.url_max_outlinks': 1})
    """
    if not is_html(content_type) or not body:
        return [], {}
    from corpusforge.ingest.html import decode_html

    decoded = decode_html(body, content_type)
    if decoded is None:
        return [], {}
    base, hrefs, nofollow = extract_hrefs(decoded.text)
    if nofollow:
        return [], {"crawl.url_nofollow": len(hrefs)} if hrefs else {}
    base_url = normalize_url(base, base=page_url) if base else page_url
    kept: list[str] = []
    dropped: dict[str, int] = {}
    source_host = host_of(page_url)
    for href in hrefs:
        url, reason = filter_link(href, base_url or page_url, source_host, p)
        if url is not None and url in kept:
            continue
        if url is not None and len(kept) >= p.max_outlinks:
            reason = "crawl.url_max_outlinks"
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
        else:
            kept.append(url)
    return kept, dropped
