"""URL hygiene: one normal form per page, filters for what is never fetched, and scope.

Normal form (so one page is one crawldb row): lower-case scheme and host (IDN as punycode),
no default port, no user info, dot segments resolved, percent-encoding normalized (unreserved
characters decoded, other escapes upper-case, unsafe characters escaped), no fragment, query
parameters sorted with the tracking ones removed.

Example::

    normalize_url("HTTP://Example.COM:80/a/./b/../c?b=2&utm_source=x&a=1#top")
    # 'http://example.com/a/c?a=1&b=2'
"""
from __future__ import annotations

import functools
import ipaddress
import posixpath
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = frozenset(b"!$&'()*+,;=")
_PATH_SAFE = _UNRESERVED | _SUB_DELIMS | frozenset(b":@/")
_QUERY_PART_SAFE = (_UNRESERVED | _SUB_DELIMS | frozenset(b":@/?")) - frozenset(b"&=")
_HEX = re.compile(rb"%([0-9A-Fa-f]{2})")


def normalize_url(url: str, base: str | None = None,
                  tracking_params: tuple[str, ...] = ()) -> str | None:
    """The normal form of `url` (resolved against `base`), or None when it is not a URL.

    >>> normalize_url("HTTP://Example.COM:80/a/./b/../c?b=2&utm_source=x&a=1#top", tracking_params=("utm_source",))
    'http://example.com/a/c?a=1&b=2'
    >>> normalize_url("../x%7e%2f y", base="https://h.org:443/p/q/")
    'https://h.org/p/x~%2F%20y'
    >>> normalize_url("http://[::1]:8080") , normalize_url("http://bad host/")
    ('http://[::1]:8080/', None)
    """
    try:
        if base is not None:
            url = urljoin(base, url.strip())
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname  # lower-cased, brackets and user info removed
        port = parts.port
    except ValueError:
        return None
    if not scheme or not host:
        return None
    host = _normal_host(host)
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = _normal_escapes(remove_dot_segments(parts.path or "/"), _PATH_SAFE)
    query = normalize_query(parts.query, tracking_params)
    return urlunsplit((scheme, netloc, path, query, ""))


@functools.lru_cache(maxsize=4096)
def _normal_host(host: str) -> str | None:
    host = host.rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    if not re.fullmatch(r"[a-z0-9_]([a-z0-9_-]{0,62}\.?)*", ascii_host):
        return None
    return ascii_host


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, keeping a trailing slash.

    >>> remove_dot_segments("/a/b/../../../c/./d/"), remove_dot_segments("")
    ('/c/d/', '/')
    """
    if not path.startswith("/"):
        path = "/" + path
    resolved = posixpath.normpath(path)
    if resolved.startswith("//"):  # normpath keeps a leading '//'
        resolved = "/" + resolved.lstrip("/")
    if path.endswith(("/", "/.", "/..")) and resolved != "/":
        resolved += "/"
    return resolved


def normalize_query(query: str, tracking_params: tuple[str, ...] = ()) -> str:
    """Sorted parameters, tracking ones removed, escapes normalized; '' for none.

    >>> normalize_query("z=1&a=%7e&utm_source=t&&a=0", ("utm_source",))
    'a=0&a=~&z=1'
    """
    drop = {name.lower() for name in tracking_params}
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = _normal_escapes(key, _QUERY_PART_SAFE)
        if key.lower() in drop:
            continue
        pairs.append((key, sep + _normal_escapes(value, _QUERY_PART_SAFE)))
    pairs.sort()
    return "&".join(key + value for key, value in pairs)


def _normal_escapes(text: str, safe: frozenset[int]) -> str:
    data = text.encode("utf-8", "surrogatepass")
    out = []
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x25 and _HEX.match(data, i):  # '%XX'
            value = int(data[i + 1:i + 3], 16)
            out.append(chr(value) if value in _UNRESERVED else f"%{value:02X}")
            i += 3
            continue
        out.append(chr(byte) if byte in safe else f"%{byte:02X}")
        i += 1
    return "".join(out)


def host_of(url: str) -> str:
    """The politeness key of a URL: its host name or address, without the port.

    >>> host_of("http://127.0.0.2:8080/x"), host_of("https://[::1]/")
    ('127.0.0.2', '::1')
    """
    return urlsplit(url).hostname or ""


def url_drop_reason(url: str, *, max_length: int = 1024, max_path_repeats: int = 3,
                    binary_extensions: tuple[str, ...] = ()) -> str | None:
    """The filter a normalized URL fails (`crawl.url_*`), or None when it may be fetched.

    >>> url_drop_reason("ftp://h/x"), url_drop_reason("http://h/a.PDF", binary_extensions=("pdf",))
    ('crawl.url_scheme', 'crawl.url_binary_extension')
    >>> url_drop_reason("http://h/a/b/a/b/a/b"), url_drop_reason("http://h/a/b/c")
    ('crawl.url_path_trap', None)
    """
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        return "crawl.url_scheme"
    if len(url) > max_length:
        return "crawl.url_too_long"
    last = parts.path.rsplit("/", 1)[-1]
    if "." in last and last.rsplit(".", 1)[1].lower() in binary_extensions:
        return "crawl.url_binary_extension"
    counts: dict[str, int] = {}
    for segment in parts.path.split("/"):
        if segment:
            counts[segment] = counts.get(segment, 0) + 1
            if counts[segment] >= max_path_repeats:
                return "crawl.url_path_trap"
    return None


@functools.lru_cache(maxsize=1)
def _suffix_list():
    from publicsuffixlist import PublicSuffixList  # bundles its list: nothing is fetched

    return PublicSuffixList()


def registered_domain(host: str) -> str:
    """The registrable domain of `host` (the bundled public-suffix list); an address or a
    single label is its own domain.

    >>> registered_domain("a.b.example.co.uk"), registered_domain("127.0.0.2"), registered_domain("localhost")
    ('example.co.uk', '127.0.0.2', 'localhost')
    """
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return _suffix_list().privatesuffix(host) or host


def in_scope(source_host: str, target_host: str, scope: str, hosts: tuple[str, ...] = ()) -> bool:
    """Whether a link from a page on `source_host` to `target_host` stays in the crawl.

    >>> in_scope("www.example.com", "docs.example.com", "domain"), in_scope("a.org", "b.org", "domain")
    (True, False)
    >>> in_scope("a.org", "a.org", "host"), in_scope("a.org", "b.org", "hosts", ("b.org",))
    (True, True)
    """
    if scope == "host":
        return source_host == target_host
    if scope == "domain":
        return registered_domain(source_host) == registered_domain(target_host)
    return target_host in hosts
