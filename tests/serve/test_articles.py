"""`/v1/articles` and `/health` over a private index: listed, added, refused and removed."""

from __future__ import annotations

import logging

import httpx

from rag.answer.assistant import Assistant
from rag.serve.api import create_api
from rag.serve.shelf import MAX_UPLOAD_BYTES, Shelf
from tests.serve.conftest import running


def test_articles_are_listed_added_and_removed(settings, embedder, assistant, caplog):
    caplog.set_level(logging.INFO)
    private = Assistant(settings, embedder=embedder, generator=assistant.generator)
    text = b"# Quellmar bridge works\n\nCity engineers painted the Zorblat bridge teal in October 2025.\n"
    article = ("bridge.md", text, "text/markdown")
    with running(create_api(private, Shelf(private))) as url:
        assert httpx.get(f"{url}/v1/articles").json()["data"] == []
        added = httpx.post(f"{url}/v1/articles", files=[("files", article)], timeout=120)
        assert added.status_code == 201 and len(added.json()["added"]) == 1, added.text
        [entry] = httpx.get(f"{url}/v1/articles").json()["data"]
        assert entry["title"] == "Quellmar bridge works"
        assert httpx.get(f"{url}/health").json()["articles"] == 1

        refused = [
            (("run.sh", b"echo hi", "text/plain"), 400, "only .txt"),
            (("big.txt", b"x" * (MAX_UPLOAD_BYTES + 1), "text/plain"), 400, "larger than 2 MB"),
        ]
        for file, status, message in refused:
            response = httpx.post(f"{url}/v1/articles", files=[("files", file)], timeout=120)
            assert response.status_code == status and message in response.json()["error"]["message"]
        assert httpx.post(f"{url}/v1/articles", timeout=60).status_code == 400  # no files at all

        assert httpx.delete(f"{url}/v1/articles/nope").status_code == 404
        removed = httpx.delete(f"{url}/v1/articles/{entry['id']}")
        assert removed.json() == {"id": entry["id"], "object": "article", "deleted": True,
                                  "articles": 0, "chunks": 0}
        assert httpx.get(f"{url}/v1/articles").json()["data"] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
