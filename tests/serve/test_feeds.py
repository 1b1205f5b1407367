"""Pages and feeds added by URL over HTTP, from a real web server on 127.0.0.1: refused by the
address guard unless allowed, then listed with their URLs, opened whole, followed and refreshed."""

from __future__ import annotations

import httpx

from rag.answer.assistant import Assistant
from rag.serve.api import create_api
from rag.serve.shelf import Shelf
from rag.settings import Settings
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
