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
