"""The feed refresher of `rag serve --refresh`: a real thread, a real feed on 127.0.0.1, a real
index; it refreshes at once and then on its interval, logs a failure as one line, and stops."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest

from rag.answer.assistant import Assistant
from rag.serve.api import create_api
from rag.serve.refresh import Refresher
from rag.serve.shelf import Shelf
from rag.store.files import write_lock
from tests.serve.conftest import requests_for, running, serve_feed

FIRST = [("/news/1", "Velmora ferry gets a second deck", "The Velmora ferry will get a second deck.")]
LATER = FIRST + [("/news/2", "Quay lights go amber", "Harbour quay lights in Ostrel turn amber.")]


@pytest.fixture
def shelf(settings, embedder) -> Shelf:
    allowed = settings.model_copy(update={"allow_private_urls": True})
    return Shelf(Assistant(allowed, embedder=embedder))


def _wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_refresher_adds_new_entries_on_its_interval_and_stops(shelf, site):
    shelf.add_urls([serve_feed(site, FIRST)])
    serve_feed(site, LATER, etag='"v2"')
    refresher = Refresher(shelf, interval=0.2)
    refresher.start()
    try:
        _wait_for(lambda: shelf.last_feed_refresh is not None)
        first = shelf.last_feed_refresh
        assert first.ok and first.line == "1 feed checked: 1 added, 0 updated, 0 skipped"
        assert {e.title for e in shelf.articles()} == {title for _, title, _ in LATER}
        fetched = len(requests_for(site, "/feed.xml"))
        _wait_for(lambda: len(requests_for(site, "/feed.xml")) > fetched)  # the next interval
    finally:
        refresher.stop()
    assert not refresher.running
    assert not [t for t in threading.enumerate() if t.name == "rag-feed-refresh"]
    assert requests_for(site, "/news/2")  # a new entry's page fetched once ...
    assert len(requests_for(site, "/news/1")) == 1  # ... a known one's never again


def test_a_failed_refresh_is_one_warning_line_and_recorded(shelf, site, caplog):
    shelf.add_urls([serve_feed(site, FIRST)])
    serve_feed(site, LATER, etag='"v2"')
    caplog.set_level(logging.INFO, logger="rag.serve.refresh")
    with write_lock(shelf.assistant.settings.index):  # another writer holds the index
        Refresher(shelf, interval=60).refresh_once()
    last = shelf.last_feed_refresh
    assert not last.ok and last.line.startswith("failed: another process is writing the index")
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == f"feed refresh: {last.line}"
    assert len(shelf.articles()) == 1

    Refresher(shelf, interval=60).refresh_once()  # the entry was not recorded: tried again
    assert shelf.last_feed_refresh.ok and len(shelf.articles()) == 2


def test_the_server_refreshes_while_it_runs_and_stops_the_refresher(shelf, site):
    shelf.add_urls([serve_feed(site, FIRST)])
    assistant = shelf.assistant  # as `rag serve --refresh 0.5` sets it up
    assistant.settings = assistant.settings.model_copy(update={"feed_refresh_minutes": 0.5})
    with running(create_api(assistant, shelf)) as url:
        _wait_for(lambda: httpx.get(f"{url}/v1/feeds").json()["last_refresh"] is not None)
        assert any(t.name == "rag-feed-refresh" for t in threading.enumerate())
        last = httpx.get(f"{url}/v1/feeds").json()["last_refresh"]
        assert last["ok"] is True and last["line"].startswith("1 feed checked")
    assert not [t for t in threading.enumerate() if t.name == "rag-feed-refresh"]


def test_an_interval_must_be_positive(shelf):
    with pytest.raises(ValueError, match="positive"):
        Refresher(shelf, interval=0)
