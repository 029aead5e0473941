"""A small web site on loopback addresses for the crawler's tests, demo and benchmark.

Each host is a real HTTP server (ThreadingHTTPServer) bound to its own loopback address,
127.0.0.2 and 127.0.0.3 by default (https when given a TLS context: `make_tls_files` writes a
throw-away CA and a certificate for the addresses), and every request's arrival (host, path,
monotonic time) is recorded, so tests can check what the crawler asked and when. The site has robots.txt
with a disallowed path and a Crawl-delay, linked pages, a redirect, a 404, a 500, a page
over the test cap, a slow-drip page, a stalled page, a non-HTML file, a GBK page and a trap.

Run it by hand (for the README example): `python tests/crawl/testsite.py` prints seed URLs and
serves until Ctrl-C.
"""
from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BIG_PAGE_BYTES = 200_000  # over the tests' 64 KiB cap
DRIP_INTERVAL_S = 0.2  # the slow page sends one byte this often, for DRIP_FOR_S
DRIP_FOR_S = 8.0
STALL_S = 3.0  # the stalled page waits this long before its headers


@dataclass
class Page:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    behaviour: str = ""  # "" | "drip" | "stall"


@dataclass
class Hit:
    host: str
    path: str
    arrived: float  # time.monotonic() when the request line was read
    closed_by_client: float | None = None  # when a drip noticed the client had gone


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        server: _HostServer = self.server  # type: ignore[assignment]
        hit = Hit(host=server.host, path=self.path, arrived=time.monotonic())
        with server.site.lock:
            server.site.hits.append(hit)
        page = server.pages.get(self.path) or Page(status=404, body=b"<html><body>not here</body></html>")
        if page.behaviour == "stall":
            time.sleep(STALL_S)
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        for key, value in page.headers.items():
            self.send_header(key, value)
        if page.behaviour == "drip":
            self.send_header("Content-Length", str(int(DRIP_FOR_S / DRIP_INTERVAL_S) + 100))
            self.end_headers()
            try:
                self.wfile.write(b"<html><body>")
                self.wfile.flush()
                end = time.monotonic() + DRIP_FOR_S
                while time.monotonic() < end:
                    time.sleep(DRIP_INTERVAL_S)
                    self.wfile.write(b"x")
                    self.wfile.flush()
            except OSError:
                hit.closed_by_client = time.monotonic()
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        try:
            self.wfile.write(page.body)
        except OSError:
            pass


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, site: "Site", tls: ssl.SSLContext | None = None):
        super().__init__((host, 0), _Handler)
        self.host = host
        self.site = site
        self.pages: dict[str, Page] = {}
        if tls is not None:
            # The handshake happens in the request's own thread (on its first read), so a client
            # that rejects the certificate never stalls the accept loop.
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        pass  # a client that refused our certificate, or hung up mid-drip: nothing to report


class Site:
    """Loopback HTTP servers, one per address; `start()` then fill `pages(host)`."""

    def __init__(self, hosts: list[str], tls: ssl.SSLContext | None = None):
        self.lock = threading.Lock()
        self.hits: list[Hit] = []
        self.scheme = "https" if tls is not None else "http"
        self.servers = {host: _HostServer(host, self, tls) for host in hosts}
        self.threads: list[threading.Thread] = []

    def base(self, host: str) -> str:
        return f"{self.scheme}://{host}:{self.servers[host].server_address[1]}"

    def pages(self, host: str) -> dict[str, Page]:
        return self.servers[host].pages

    def start(self) -> "Site":
        for server in self.servers.values():
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)

    def hits_of(self, host: str, since: float = 0.0) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.host == host and h.arrived >= since]


def make_tls_files(directory: Path, addresses: list[str]) -> dict[str, Path]:
    """A throw-away CA and a server certificate it signs for `addresses` (IP SANs), as PEM
    files in `directory`: {"ca": ..., "cert": ..., "key": ...}. Nothing here is trusted by
    the system: a client trusts the server only when told to trust "ca"."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corpusforge test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, addresses[0])]))
              .issuer_name(ca_name).public_key(server_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName(
                  [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    files = {"ca": directory / "ca.pem", "cert": directory / "server.pem", "key": directory / "server.key"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return files


def server_tls_context(files: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["cert"], files["key"])
    return context


def html(title: str, text: str, links: list[str] = ()) -> bytes:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f"<p>{text}</p><ul>{anchors}</ul></body></html>").encode("utf-8")


A_TEXT = "The river port of Alderbank keeps a ledger of every barge that passes the lock."
B_TEXT = "Bellweather orchard grows eleven kinds of apple on the southern slope of the valley."
GBK_TEXT = "这是一个使用国标编码的中文网页，用来检查爬虫和语料构建是否正确处理字符集。"


def build_demo_site(site: Site, host_a: str, host_b: str, *, crawl_delay_a: float = 0.4) -> dict[str, list[str]]:
    """Fill the two hosts with the test pages; return {"seeds": [...], "disallowed": [...]}."""
    a, b = site.base(host_a), site.base(host_b)
    pa, pb = site.pages(host_a), site.pages(host_b)
    pa["/robots.txt"] = Page(body=f"User-agent: *\nDisallow: /private\nCrawl-delay: {crawl_delay_a}\n".encode(),
                             content_type="text/plain")
    pa["/"] = Page(body=html("Alderbank home", A_TEXT, [
        "/a1.html", "/a2.html?utm_source=feed", "/private/secret.html", "/moved", "/missing.html",
        "/error.html", "/big.html", "/slow.html", "/stall.html", "/data", "/gbk.html", "/logo.png",
        "/t/x/t/x/t/", "mailto:port@alderbank.test", f"{b}/", "http://203.0.113.9/outside.html"]))
    for i in (1, 2, 3):
        pa[f"/a{i}.html"] = Page(body=html(f"Alderbank page {i}", f"{A_TEXT} Barge number {i} carried grain.",
                                           [f"/a{i % 3 + 1}.html", "/", "/private/also.html#x"]))
    pa["/moved"] = Page(status=301, headers={"Location": "/a3.html"}, body=b"")
    pa["/missing.html"] = Page(status=404, body=b"<html><body>gone</body></html>")
    pa["/error.html"] = Page(status=500, body=b"<html><body>oops</body></html>")
    pa["/big.html"] = Page(body=b"<html><body><p>" + b"big " * (BIG_PAGE_BYTES // 4) + b"</p></body></html>")
    pa["/slow.html"] = Page(behaviour="drip")
    pa["/stall.html"] = Page(behaviour="stall", body=html("stalled", "late"))
    pa["/data"] = Page(body=bytes(range(256)) * 40, content_type="application/octet-stream")
    pa["/gbk.html"] = Page(body=(f'<html><head><title>中文</title></head><body><p>{GBK_TEXT}</p>'
                                 f'<a href="/a1.html">a1</a></body></html>').encode("gbk"),
                           content_type="text/html; charset=gbk")
    pa["/private/secret.html"] = Page(body=html("secret", "must never be fetched"))
    pb["/robots.txt"] = Page(status=404, body=b"")
    pb["/"] = Page(body=html("Bellweather home", B_TEXT, [f"/b{i}.html" for i in range(1, 6)] + [f"{a}/"]))
    for i in range(1, 6):
        pb[f"/b{i}.html"] = Page(body=html(f"Bellweather page {i}", f"{B_TEXT} Row {i} is pruned in March.",
                                           [f"/b{i % 5 + 1}.html"]))
    return {"seeds": [f"{a}/", f"{b}/"], "disallowed": ["/private/"]}


if __name__ == "__main__":
    demo = Site(["127.0.0.2", "127.0.0.3"]).start()
    info = build_demo_site(demo, "127.0.0.2", "127.0.0.3")
    print("\n".join(info["seeds"]), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        demo.stop()
