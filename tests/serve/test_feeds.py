"""Pages and feeds added by URL over HTTP, from a real web server on 127.0.0.1: refused by the
address guard unless allowed, then listed with their URLs, opened whole, followed and refreshed."""

from __future__ import annotations

import threading
import time

import httpx

from rag.answer.assistant import Assistant
from rag.ingest.by_url import FeedsUpdate
from rag.ingest.indexer import IngestReport
from rag.serve.api import create_api
from rag.serve.shelf import Shelf, update_line
from rag.serve.uploads import Upload
from rag.settings import Settings
from rag.types import Skipped
from tests.serve.conftest import page, requests_for, running, serve_feed

ENTRIES = [("/news/1", "Velmora ferry gets a second deck", "The Velmora ferry will get a second deck."),
           ("/news/2", "Quay lights go amber", "Harbour quay lights in Ostrel turn amber at dusk.")]


def _server(settings: Settings, embedder):
    assistant = Assistant(settings, embedder=embedder)
    return running(create_api(assistant, Shelf(assistant)))


def test_a_page_on_this_machine_is_refused_unless_allowed(settings, embedder, site):
    site.route("/story", page("Zorblat bridge painted teal",
                              "City engineers painted the Zorblat bridge in Quellmar teal."))
    story = site.url("/story")
    with _server(settings, embedder) as url:
        refused = httpx.post(f"{url}/v1/articles/urls", json={"urls": [story]}, timeout=60)
        assert refused.status_code == 400
        assert "RAG_ALLOW_PRIVATE_URLS" in refused.json()["error"]["message"]
        assert site.requests == []  # judged by its address, never contacted
        assert httpx.get(f"{url}/v1/articles").json()["data"] == []

    allowed = settings.model_copy(update={"allow_private_urls": True})
    with _server(allowed, embedder) as url:
        added = httpx.post(f"{url}/v1/articles/urls", json={"urls": [story]}, timeout=120)
        assert added.status_code == 201, added.text
        [doc_id] = added.json()["added"]
        [entry] = httpx.get(f"{url}/v1/articles").json()["data"]
        assert entry["id"] == doc_id and entry["url"] == story
        assert entry["title"] == "Zorblat bridge painted teal"
        whole = httpx.get(f"{url}/v1/articles/{doc_id}").json()
        assert whole["url"] == story and "painted the Zorblat bridge in Quellmar teal" in whole["text"]

        for body, message in [({"urls": []}, "urls: "), ({"urls": ["ftp://x/y"]}, "http://"),
                              ({"urls": ["not a url"]}, "not a url")]:
            response = httpx.post(f"{url}/v1/articles/urls", json=body, timeout=60)
            assert response.status_code == 400 and message in response.json()["error"]["message"]


def test_a_feed_is_followed_and_an_unchanged_one_costs_one_request(settings, embedder, site):
    feed = serve_feed(site, ENTRIES)
    allowed = settings.model_copy(update={"allow_private_urls": True})
    with _server(allowed, embedder) as url:
        assert httpx.get(f"{url}/v1/feeds").json() == {"object": "list", "data": [],
                                                       "last_refresh": None}
        added = httpx.post(f"{url}/v1/articles/urls", json={"urls": [feed]}, timeout=120)
        assert added.status_code == 201 and len(added.json()["added"]) == 2, added.text
        listed = {a["url"] for a in httpx.get(f"{url}/v1/articles").json()["data"]}
        assert listed == {site.url(path) for path, _, _ in ENTRIES}
        [followed] = httpx.get(f"{url}/v1/feeds").json()["data"]
        assert followed["url"] == feed and followed["title"] == "Harbour News"
        assert followed["entries"] == 2 and followed["last_status"].startswith("200")

        site.route("/feed.xml", "", status=304, headers={"ETag": '"v1"'})
        refreshed = httpx.post(f"{url}/v1/feeds/refresh", timeout=120)
        assert refreshed.status_code == 200, refreshed.text
        body = refreshed.json()
        assert body["added"] == [] and body["updated"] == [] and body["failed"] == []
        assert body["articles"] == 2
        assert body["feeds"][0]["last_status"] == "304: not modified"
        assert body["last_refresh"]["ok"] is True
        assert body["last_refresh"]["line"] == "1 feed checked: 0 added, 0 updated, 0 skipped"
        assert requests_for(site, "/feed.xml")[-1].headers["if-none-match"] == '"v1"'
        assert [len(requests_for(site, path)) for path, _, _ in ENTRIES] == [1, 1]
        assert httpx.get(f"{url}/v1/feeds").json()["last_refresh"] == body["last_refresh"]


def test_a_slow_site_does_not_hold_the_shelf(settings, embedder, site):
    """Pages are fetched before the shelf's write lock is taken: a removal goes ahead while a
    slow page is still on its way, and the page is added once it comes."""
    allowed = settings.model_copy(update={"allow_private_urls": True, "fetch_timeout": 10})
    shelf = Shelf(Assistant(allowed, embedder=embedder))
    [uploaded] = shelf.add([Upload("bridge.md", b"# Bridge\n\nThe Zorblat bridge in Quellmar "
                                                b"was painted teal in October 2025.\n")]).added
    site.route("/slow", page("Quay lights go amber", "Harbour quay lights turn amber."), delay=3.0)
    adding = threading.Thread(target=shelf.add_urls, args=([site.url("/slow")],))
    adding.start()
    deadline = time.monotonic() + 10
    while not site.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    shelf.remove(uploaded)
    assert time.monotonic() - started < 2.0 and adding.is_alive()
    adding.join(30)
    assert [e.url for e in shelf.articles()] == [site.url("/slow")]


def test_the_refresh_line_counts_only_real_skips():
    """An entry read from the feed's own text is indexed: a warning, not a skip."""
    report = IngestReport(added=["a"], skipped=[Skipped("http://x/1", "page not fetched; "
                                                         "indexed the entry's text", kept=True),
                                                Skipped("http://x/2", "no text")])
    update = FeedsUpdate({"http://x/feed": "200: 2 new or changed entries"}, report)
    assert update_line(update) == "1 feed checked: 1 added, 0 updated, 1 skipped"
