"""The HTTP client's limits and the address guard, against a real server on 127.0.0.1.

No traffic goes anywhere else: the guard is tested on literal addresses, which it judges
without a lookup or a connection.
"""

import gzip
import ipaddress
import socket
import socketserver
import threading
import time
import tracemalloc

import pytest

from rag.ingest.fetching import (FEED_TYPES, PAGE_TYPES, FetchFailed, check_address, fetch,
                                 is_url, refused_because)
from rag.settings import Settings

PAGE = "<html><head><title>Quay</title></head><body><p>The quay reopened.</p></body></html>"


@pytest.fixture
def limits(tmp_path) -> Settings:
    return Settings(index=tmp_path / "index", fetch_timeout=0.5, fetch_max_bytes=4096,
                    fetch_max_redirects=3)


def _fails(url: str, settings: Settings, accept=PAGE_TYPES, **kw) -> str:
    with pytest.raises(FetchFailed) as caught:
        fetch(url, settings, allow_private=True, accept=accept, **kw)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(url)
    return message


# -- the address guard ----------------------------------------------------------------------

@pytest.mark.parametrize("url, kind", [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.8.9.10:8080/x", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://192.168.0.7/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fc00::1]/", "private"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://100.64.0.1/", "non-public"),
    ("http://[2002:7f00:1::1]/", "loopback"),  # 6to4 around 127.0.0.1
])
def test_the_guard_refuses_addresses_that_are_not_public(url, kind):
    with pytest.raises(FetchFailed) as caught:
        check_address(url, allow_private=False)
    assert f"is a {kind} address" in str(caught.value)
    assert "RAG_ALLOW_PRIVATE_URLS" in str(caught.value)
    assert check_address(url, allow_private=True)  # the CLI's own user may


@pytest.mark.parametrize("url, address", [
    ("http://93.184.216.34/story", "93.184.216.34"),
    ("https://[2606:2800:220:1:248:1893:25c8:1946]/", "2606:2800:220:1:248:1893:25c8:1946"),
    ("http://[::ffff:93.184.216.34]/", "::ffff:5db8:d822"),
])
def test_the_guard_allows_public_literals_without_contacting_them(url, address):
    """Judged from the literal alone: no lookup, no connection."""
    assert check_address(url, allow_private=False) == [address]


def test_a_mapped_address_is_judged_as_the_address_it_maps():
    assert refused_because(ipaddress.ip_address("::ffff:127.0.0.1")) == "loopback"
    assert refused_because(ipaddress.ip_address("::ffff:93.184.216.34")) is None


def test_a_host_name_is_judged_by_what_it_resolves_to():
    """`localhost` resolves (from /etc/hosts, no traffic) to loopback addresses only."""
    with pytest.raises(FetchFailed, match="localhost .* is a loopback address"):
        check_address("http://localhost:9/", allow_private=False)


def test_fetching_checks_the_address_before_connecting(site, limits):
    site.route("/story", PAGE)
    with pytest.raises(FetchFailed, match="loopback address.*RAG_ALLOW_PRIVATE_URLS"):
        fetch(site.url("/story"), limits, allow_private=False, accept=PAGE_TYPES)
    assert site.requests == []


def test_every_redirect_hop_is_judged(site, limits, monkeypatch):
    """The real guard runs for the first URL and again for each hop (watched, not replaced:
    only 127.0.0.1 may be contacted here, so a refused hop cannot be shown by following it)."""
    import rag.ingest.fetching as fetching

    judged = []
    real = fetching.check_address

    def watched(url, *, allow_private):
        judged.append(url)
        return real(url, allow_private=allow_private)

    monkeypatch.setattr(fetching, "check_address", watched)
    site.route("/one", "", status=302, headers={"Location": "/two?from=one"})
    site.route("/two?from=one", "", status=303, headers={"Location": site.url("/three")})
    site.route("/three", PAGE)
    fetch(site.url("/one"), limits, allow_private=True, accept=PAGE_TYPES)
    assert judged == [site.url("/one"), site.url("/two?from=one"), site.url("/three")]
    assert [r.path for r in site.requests] == ["/one", "/two?from=one", "/three"]


def test_only_http_and_https_urls():
    assert is_url("https://example.org/x") and is_url("ftp://example.org/")
    assert not is_url("news/story.html") and not is_url("C:\\news\\story.html")
    for url in ("ftp://example.org/feed", "file:///etc/passwd", "http://"):
        with pytest.raises(FetchFailed):
            check_address(url, allow_private=True)


# -- fetching -------------------------------------------------------------------------------

def test_a_page_is_fetched_with_the_assistants_user_agent(site, limits):
    site.route("/final", PAGE, headers={"ETag": '"v1"',
                                        "Last-Modified": "Thu, 02 Oct 2025 08:00:00 GMT"})
    site.route("/start", "", status=301, headers={"Location": "/final"})
    fetched = fetch(site.url("/start"), limits, allow_private=True, accept=PAGE_TYPES)
    assert fetched.url == site.url("/final") and fetched.status == 200
    assert fetched.content_type == "text/html" and fetched.charset == "utf-8"
    assert fetched.body.decode() == PAGE
    assert fetched.etag == '"v1"' and fetched.last_modified.startswith("Thu, 02 Oct 2025")
    assert [r.path for r in site.requests] == ["/start", "/final"]
    assert all(r.headers["user-agent"] == limits.user_agent for r in site.requests)
    assert site.requests[0].headers["host"] == f"127.0.0.1:{site.port}"


def test_a_conditional_fetch_of_something_unchanged_is_a_304(site, limits):
    site.route("/feed", "<rss version='2.0'><channel/></rss>",
               headers={"Content-Type": "application/rss+xml", "ETag": '"abc"'})
    fetched = fetch(site.url("/feed"), limits, allow_private=True, accept=FEED_TYPES, etag='"abc"',
                    last_modified="Thu, 02 Oct 2025 08:00:00 GMT")
    assert fetched.status == 304 and fetched.body == b""
    assert site.requests[-1].headers["if-none-match"] == '"abc"'
    assert site.requests[-1].headers["if-modified-since"] == "Thu, 02 Oct 2025 08:00:00 GMT"


def test_an_http_error_names_its_status(site, limits):
    assert "answered 404 Not Found" in _fails(site.url("/missing"), limits)
    site.route("/broken", "oops", status=500)
    assert "answered 500" in _fails(site.url("/broken"), limits)
    site.route("/unasked", "", status=304)  # not modified, though nothing was asked
    assert "answered 304 Not Modified" in _fails(site.url("/unasked"), limits)


def test_a_closed_port_cannot_be_connected_to(limits):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert "cannot connect" in _fails(f"http://127.0.0.1:{port}/story", limits)


def test_a_slow_server_times_out(site, limits):
    site.route("/slow", PAGE, delay=2.0)
    started = time.monotonic()
    assert "no answer within 0.5 s (RAG_FETCH_TIMEOUT" in _fails(site.url("/slow"), limits)
    assert time.monotonic() - started < 1.9


def test_redirects_are_limited_and_loops_caught(site, limits):
    site.route("/a", "", status=302, headers={"Location": "/b"})
    site.route("/b", "", status=307, headers={"Location": "/a"})
    assert "redirects in a loop" in _fails(site.url("/a"), limits)
    for i in range(6):
        site.route(f"/r{i}", "", status=302, headers={"Location": f"/r{i + 1}"})
    assert "more than 3 redirects (RAG_FETCH_MAX_REDIRECTS" in _fails(site.url("/r0"), limits)
    assert [r.path for r in site.requests][-4:] == ["/r0", "/r1", "/r2", "/r3"]


def test_a_redirect_to_another_scheme_is_refused(site, limits):
    site.route("/away", "", status=302, headers={"Location": "file:///etc/passwd"})
    assert "not an http(s) URL" in _fails(site.url("/away"), limits)


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_cap_is_cut_off(site, limits, declared):
    """Refused from its Content-Length when it gives one, else once the stream passes the cap."""
    headers = {} if declared else {"Content-Length": None}
    site.route("/huge", "<p>" + "x" * 200_000 + "</p>", headers=headers)
    assert "larger than 4,096 bytes (RAG_FETCH_MAX_BYTES" in _fails(site.url("/huge"), limits)


@pytest.mark.parametrize("content_type", ["image/png", "application/pdf", "application/json"])
def test_content_types_other_than_asked_for_are_refused(site, limits, content_type):
    site.route("/thing", b"\x89PNG\r\n", headers={"Content-Type": content_type})
    message = _fails(site.url("/thing"), limits, accept=PAGE_TYPES | FEED_TYPES)
    assert f"sent {content_type}, not a web page or an RSS/Atom feed" in message


# -- compressed bodies ------------------------------------------------------------------------

def test_a_gzip_body_is_decoded_and_only_gzip_is_asked_for(site, limits):
    site.route("/story", gzip.compress(PAGE.encode()), headers={"Content-Encoding": "gzip"})
    fetched = fetch(site.url("/story"), limits, allow_private=True, accept=PAGE_TYPES)
    assert fetched.body.decode() == PAGE
    assert site.requests[-1].headers["accept-encoding"] == "gzip, identity"


def test_a_gzip_bomb_is_cut_off_without_being_unpacked(site, tmp_path):
    """50 MB of zeros in about 50 KB: refused at the cap, and never more than about the cap held
    (httpx's own decoding would inflate a whole 64 KB piece, some 50 MB, before any check)."""
    bomb = gzip.compress(bytes(50_000_000), compresslevel=9)
    assert len(bomb) < 100_000
    site.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    capped = Settings(index=tmp_path / "index", fetch_timeout=5, fetch_max_bytes=1_000_000)
    tracemalloc.start()
    try:
        message = _fails(site.url("/bomb"), capped)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "larger than 1,000,000 bytes (RAG_FETCH_MAX_BYTES" in message
    assert peak < 8_000_000, f"{peak:,} bytes held at the peak"


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, br"])
def test_other_encodings_are_refused(site, limits, encoding):
    site.route("/story", b"\x1b\x00\x00", headers={"Content-Encoding": encoding})
    message = _fails(site.url("/story"), limits)
    assert f"encoded as {encoding!r}, which is not read (only gzip" in message


def test_a_damaged_gzip_body_is_one_line(site, limits):
    damaged = gzip.compress(PAGE.encode())[:10] + b"\xff" * 20  # a header, then no deflate data
    site.route("/broken", damaged, headers={"Content-Encoding": "gzip"})
    assert "damaged gzip body" in _fails(site.url("/broken"), limits)
    site.route("/short", gzip.compress(PAGE.encode())[:-12], headers={"Content-Encoding": "gzip"})
    assert "gzip body ends before its end" in _fails(site.url("/short"), limits)


# -- the whole fetch's deadline ---------------------------------------------------------------

def test_the_deadline_covers_every_hop(site, tmp_path):
    """Each hop answers within the step timeout (0.5 s), but seven of them take 2.8 s: the
    fetch ends at four times the timeout, 2 s."""
    quick = Settings(index=tmp_path / "index", fetch_timeout=0.5, fetch_max_redirects=10)
    for i in range(6):
        site.route(f"/hop{i}", "", status=302, headers={"Location": f"/hop{i + 1}"}, delay=0.4)
    site.route("/hop6", PAGE, delay=0.4)
    started = time.monotonic()
    message = _fails(site.url("/hop0"), quick)
    assert "not fetched within 2 s in all (4 times RAG_FETCH_TIMEOUT" in message
    assert 1.9 < time.monotonic() - started < 2.7
    assert "/hop6" not in [r.path for r in site.requests]


@pytest.fixture
def trickle():
    """A server that sends its status line and headers a few bytes every 0.1 s, never reaching
    the body: each read is quick, the whole never ends."""
    stop = threading.Event()

    class Trickle(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(4096)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Padding: " + b"a" * 4000
            try:
                for i in range(0, len(head), 4):
                    if stop.wait(0.1):
                        return
                    self.request.sendall(head[i:i + 4])
            except OSError:
                pass  # the client hung up: what the test wants

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/story"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_the_deadline_covers_headers_trickled_in_one_hop(trickle, tmp_path):
    quick = Settings(index=tmp_path / "index", fetch_timeout=0.3)
    started = time.monotonic()
    assert "not fetched within 1.2 s in all" in _fails(trickle, quick)
    assert time.monotonic() - started < 2.0
