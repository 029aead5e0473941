"""The loopback test site, started once per test session and stopped at the end."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from testsite import Site, build_demo_site  # noqa: E402  (tests/crawl/testsite.py)

HOST_A, HOST_B = "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="session")
def site():
    server = Site([HOST_A, HOST_B]).start()
    try:
        server.info = build_demo_site(server, HOST_A, HOST_B)
        yield server
    finally:
        server.stop()
