"""The HTTP API against a real server: uvicorn on a free port in front of the session's assistant
(seed index, bundled GGUF), called the way its users call it: the official `openai` client and
plain HTTP. The browser-side check that UI, `curl` and `openai` agree is in
tests/ui/test_browser.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from rag.serve.api import create_api
from rag.serve.shelf import Shelf

ENVOY = "Which US special envoy attended the talks at the Elysee Palace?"


@contextmanager
def running(app) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a thread; log records reach pytest's caplog."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           log_level="info"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def base_url(assistant) -> Iterator[str]:
    with running(create_api(assistant, Shelf(assistant))) as url:
        yield url


# ---------------------------------------------------------------------------------------------
# a small news site on 127.0.0.1 (tests/webserver.py), for adding pages and feeds by URL


def page(title: str, body: str) -> str:
    """A news page whose main text trafilatura finds: a headline and a few paragraphs."""
    paragraphs = "".join(f"<p>{body} Paragraph {i} adds detail for readers.</p>" for i in range(4))
    return (f"<html><head><title>{title}</title></head><body><nav>Home | World</nav>"
            f"<article><h1>{title}</h1>{paragraphs}</article><footer>(c) Test</footer></body></html>")


def rss(site, items: list[tuple[str, str]]) -> str:
    """An RSS 2.0 feed whose entries link to pages on `site`: (path, title) each."""
    entries = "".join(f"<item><title>{title}</title><link>{site.url(path)}</link>"
                      f"<pubDate>Mon, 06 Oct 2025 08:00:00 GMT</pubDate></item>"
                      for path, title in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour News</title>'
            f"<link>{site.url('/')}</link><description>Test feed</description>{entries}"
            "</channel></rss>")


FEED_HEADERS = {"Content-Type": "application/rss+xml", "ETag": '"v1"'}


def serve_feed(site, items: list[tuple[str, str, str]], etag: str = '"v1"') -> str:
    """Route a feed of (path, title, body) entries and their pages; returns the feed's URL."""
    for path, title, body in items:
        site.route(path, page(title, body))
    site.route("/feed.xml", rss(site, [(p, t) for p, t, _ in items]),
               headers={**FEED_HEADERS, "ETag": etag})
    return site.url("/feed.xml")


def requests_for(site, path: str) -> list:
    return [r for r in site.requests if r.path == path]
