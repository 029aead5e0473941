"""Which addresses the crawler may contact: globally routable ones, and loopback when allowed.

Each host is resolved once; the fetcher then connects to the address that was checked, never
to the name, so a second DNS answer cannot point it elsewhere (DNS rebinding). IPv4-mapped
IPv6 (`::ffff:10.0.0.1`) is unwrapped first: the mapped form is not reported as private.

Example::

    address, reason = choose_address("127.0.0.2", resolve_with({}), allow_loopback=True)
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

Resolver = Callable[[str], list[str]]


def address_refusal(address: str, allow_loopback: bool = False) -> str | None:
    """Why `address` may not be contacted (`crawl.address_refused: ...`), or None when it may.

    >>> address_refusal("93.184.216.34") is None, address_refusal("10.1.2.3")
    (True, 'crawl.address_refused')
    >>> address_refusal("::ffff:127.0.0.1"), address_refusal("::ffff:127.0.0.1", allow_loopback=True)
    ('crawl.address_refused', None)
    >>> [address_refusal(a) for a in ("100.64.0.1", "169.254.1.1", "224.0.0.1", "240.0.0.1", "::1")]
    ['crawl.address_refused', 'crawl.address_refused', 'crawl.address_refused', 'crawl.address_refused', 'crawl.address_refused']
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "crawl.address_refused"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else "crawl.address_refused"
    # is_global is False for private, link-local, CGNAT, reserved and unspecified ranges, but
    # True for multicast, so that is refused on its own.
    if not ip.is_global or ip.is_multicast or ip.is_reserved:
        return "crawl.address_refused"
    return None


def system_resolver(host: str) -> list[str]:
    """The addresses DNS gives for `host` (one lookup), in the resolver's order."""
    seen: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
        if sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def resolve_with(overrides: dict[str, str], fallback: Resolver = system_resolver) -> Resolver:
    """A resolver that answers an address literal itself, a host in `overrides` from the map
    (crawl.resolve, like curl --resolve), and anything else with `fallback`."""
    def resolve(host: str) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host in overrides:
            return [overrides[host]]
        return fallback(host)

    return resolve


def choose_address(host: str, resolver: Resolver, *, allow_loopback: bool) -> tuple[str | None, str | None]:
    """(the first allowed address of `host`, None) or (None, the reason none may be used).

    >>> choose_address("a.test", resolve_with({"a.test": "192.168.1.5"}), allow_loopback=True)
    (None, 'crawl.address_refused')
    >>> choose_address("127.0.0.3", resolve_with({}), allow_loopback=True)
    ('127.0.0.3', None)
    """
    try:
        addresses = resolver(host)
    except (OSError, UnicodeError):
        return None, "crawl.dns_failed"
    if not addresses:
        return None, "crawl.dns_failed"
    for address in addresses:
        if address_refusal(address, allow_loopback) is None:
            return address, None
    return None, "crawl.address_refused"
