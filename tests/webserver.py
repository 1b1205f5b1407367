"""A real HTTP server on 127.0.0.1, for tests that fetch pages, feeds or anything else by URL.

    from tests.webserver import Site

    with Site() as site:                        # or the `site` fixture of tests/conftest.py
        site.route("/story", "<html>...</html>", headers={"Content-Type": "text/html"})
        site.route("/old", "", status=301, headers={"Location": "/story"})
        site.route("/slow", "late", delay=2.0)  # sleeps before answering
        fetch(site.url("/story"))
        assert site.requests[-1].headers["user-agent"].startswith("rag")

- `route(path, body, status=200, headers=None, delay=0.0)` sets (or replaces) what a GET or HEAD
  of `path` answers; `body` is str (sent as UTF-8) or bytes. `Content-Type` defaults to
  `text/html; charset=utf-8` and `Content-Length` to the body's length; a header given as None is
  left out (`{"Content-Length": None}`: the body ends when the connection closes). A path with no
  route answers 404. A 200 route with an `ETag` or `Last-Modified` header answers 304 (no body)
  to a request whose If-None-Match or If-Modified-Since repeats it, as a real server would.
- `url(path)` is the full URL of `path`; `requests` lists every request received, oldest first,
  as `Request(method, path, headers)` with header names in lower case.

Only 127.0.0.1 is ever bound or contacted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with its query string
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


@dataclass
class _Route:
    body: bytes
    status: int
    headers: dict[str, str | None]
    delay: float


class Site:
    def __init__(self) -> None:
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, body: str | bytes, status: int = 200,
              headers: dict[str, str | None] | None = None, delay: float = 0.0) -> None:
        raw = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self._routes[path] = _Route(raw, status, dict(headers or {}), delay)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append(Request(handler.command, handler.path,
                                         {k.lower(): v for k, v in handler.headers.items()}))
            route = self._routes.get(handler.path)
        if route is None:
            route = _Route(b"not found", 404, {"Content-Type": "text/plain"}, 0.0)
        if route.delay:
            time.sleep(route.delay)
        headers = {"Content-Type": "text/html; charset=utf-8",
                   "Content-Length": str(len(route.body)), **route.headers}
        status = 304 if route.status == 200 and _not_modified(handler, headers) else route.status
        if status == 304:
            headers["Content-Length"] = None
        try:
            handler.send_response(status)
            for name, value in headers.items():
                if value is not None:
                    handler.send_header(name, value)
            handler.end_headers()
            if handler.command != "HEAD" and status not in (204, 304):
                handler.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (a size cap, a timeout): what some tests want


def _not_modified(handler: BaseHTTPRequestHandler, headers: dict[str, str | None]) -> bool:
    etag, modified = headers.get("ETag"), headers.get("Last-Modified")
    return bool((etag and handler.headers.get("If-None-Match") == etag)
                or (modified and handler.headers.get("If-Modified-Since") == modified))


def _handler_for(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            site._answer(self)

        do_HEAD = do_GET

        def log_message(self, format: str, *args) -> None:  # keep test output quiet
            pass

    return Handler
