"""The loopback test sites, each started once per test session and stopped at the end: the
two-host HTTP site (127.0.0.2, 127.0.0.3) and an https host on 127.0.0.2 with its own CA."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawljobs import CRAWL_DELAY_A, HOST_A, HOST_B  # noqa: E402
from testsite import Page, Site, build_demo_site, html, make_tls_files, server_tls_context  # noqa: E402


@pytest.fixture(scope="session")
def site():
    server = Site([HOST_A, HOST_B]).start()
    try:
        server.info = build_demo_site(server, HOST_A, HOST_B, crawl_delay_a=CRAWL_DELAY_A)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A throw-away CA and a certificate for 127.0.0.2 signed by it (PEM files)."""
    return make_tls_files(tmp_path_factory.mktemp("tls"), [HOST_A])


@pytest.fixture(scope="session")
def tls_site(tls_files):
    """https on 127.0.0.2 (its own port), with the certificate of `tls_files`."""
    server = Site([HOST_A], tls=server_tls_context(tls_files)).start()
    try:
        pages = server.pages(HOST_A)
        pages["/robots.txt"] = Page(body=b"User-agent: *\nDisallow: /private\n", content_type="text/plain")
        pages["/"] = Page(body=html("Secure harbour", "Encrypted ledgers of the harbour master.", ["/s1.html"]))
        yield server
    finally:
        server.stop()
