"""The run report in a real headless Chromium (Debian's package), driven over the DevTools protocol.

The page must load with no console message of level error or warning, no uncaught exception,
no request other than its own file, and every chart must have drawn marks: SVG elements
whose id carries "-mark-" (charts.py tags each bar, histogram and line with one) with a
non-empty box on the rendered page, not just an axes frame. A full-page screenshot is saved
(CORPUSFORGE_REPORT_SCREENSHOT=path keeps it somewhere to look at).

In CI (CI=true) a missing Chromium fails the test; elsewhere it skips and says how to install it.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from report_run import build_hand_run

from corpusforge.report.html import write_report

pytestmark = pytest.mark.browser

INSTALL_HINT = "apt-get update && apt-get install -y chromium chromium-driver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                  "--window-size=1200,900")
# For every chart: its name, its rendered size, and how many marked elements have a box.
CHART_MARKS_JS = """
JSON.stringify([...document.querySelectorAll('figure.chart')].map(fig => {
  const svg = fig.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const marks = [...fig.querySelectorAll('[id*="-mark-"]')].filter(m => {
    const r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0; });
  return {chart: fig.dataset.chart, width: box.width, height: box.height, marks: marks.length};
}))
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"Chromium is not installed; the report's browser test needs it in CI ({INSTALL_HINT})")
    pytest.skip(f"Chromium not found; to run the report's browser test: {INSTALL_HINT}")


class DevTools:
    """One page of a headless Chromium on 127.0.0.1, spoken to over its DevTools websocket."""

    def __init__(self, binary: str, profile: Path):
        import websocket

        self.proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"Chromium did not open its DevTools port (exit {self.proc.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            page = next(t for t in json.load(reply) if t["type"] == "page")
        # No Origin header: Chromium refuses websocket clients from other origins.
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.events: list[dict] = []
        self._id = 0

    def call(self, method: str, **params) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture
def browser(tmp_path):
    binary = _chromium()
    tools = DevTools(binary, tmp_path / "chromium-profile")
    yield tools
    tools.close()


def test_report_renders_in_chromium(browser, tmp_path):
    report = write_report(build_hand_run(tmp_path / "out"), "a")
    for domain in ("Runtime", "Log", "Network", "Page"):
        browser.call(f"{domain}.enable")
    browser.call("Page.navigate", url=report.as_uri())
    browser.wait_for("Page.loadEventFired")

    problems = [e for e in browser.events
                if e.get("method") == "Runtime.exceptionThrown"
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "warning", "assert"))
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning"))]
    assert problems == []
    requested = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert requested == [report.as_uri()]  # nothing else: no font, script, style or image fetched

    result = browser.call("Runtime.evaluate", expression=CHART_MARKS_JS, returnByValue=True)
    charts = json.loads(result["result"]["value"])
    names = [c["chart"] for c in charts]
    assert names == ["funnel", "reasons", "languages", "sources", "chars", "tokens", "signals", "clusters", "phases"]
    for chart in charts:
        assert chart["width"] > 200 and chart["height"] > 100, chart
        assert chart["marks"] > 0, f"chart {chart['chart']} drew no marks: {chart}"
    by_name = {c["chart"]: c["marks"] for c in charts}
    assert by_name["funnel"] == 7  # read, ingest, normalize, gopher, exact, minhash, kept: one bar each
    assert by_name["reasons"] == 4 and by_name["phases"] == 3

    size = browser.call("Page.getLayoutMetrics")["cssContentSize"]
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    target = Path(os.environ.get("CORPUSFORGE_REPORT_SCREENSHOT", tmp_path / "report.png"))
    target.write_bytes(png)
