"""`/v1/articles` and `/health` over a private index: listed, read, added, refused and removed."""

from __future__ import annotations

import logging

import httpx
from fpdf import FPDF

from rag.answer.assistant import Assistant
from rag.serve.api import create_api
from rag.serve.shelf import Shelf
from rag.serve.uploads import MAX_TEXT_BYTES
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
        assert entry["title"] == "Quellmar bridge works" and entry["url"] is None
        assert httpx.get(f"{url}/health").json()["articles"] == 1
        whole = httpx.get(f"{url}/v1/articles/{entry['id']}").json()
        assert "painted the Zorblat bridge teal" in whole["text"]
        assert whole["title"] == "Quellmar bridge works" and whole["pages"] == []

        refused = [
            (("run.sh", b"echo hi", "text/plain"), 400, "only .txt"),
            (("big.txt", b"x" * (MAX_TEXT_BYTES + 1), "text/plain"), 400, "larger than 2 MB"),
        ]
        for file, status, message in refused:
            response = httpx.post(f"{url}/v1/articles", files=[("files", file)], timeout=120)
            assert response.status_code == status and message in response.json()["error"]["message"]
        assert httpx.post(f"{url}/v1/articles", timeout=60).status_code == 400  # no files at all

        assert httpx.delete(f"{url}/v1/articles/nope").status_code == 404
        assert httpx.get(f"{url}/v1/articles/nope").status_code == 404
        removed = httpx.delete(f"{url}/v1/articles/{entry['id']}")
        assert removed.json() == {"id": entry["id"], "object": "article", "deleted": True,
                                  "articles": 0, "chunks": 0}
        assert httpx.get(f"{url}/v1/articles").json()["data"] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def _pdf(*pages: str) -> bytes:
    """A real PDF: one page per string, written as its text layer; an empty string gives a page
    with only a grey box on it, as a scan without OCR has no text to read."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
        else:
            pdf.set_fill_color(120, 120, 120)
            pdf.rect(20, 20, 170, 250, style="F")
    return bytes(pdf.output())


def test_a_pdf_is_added_with_its_pages_and_a_scanned_one_says_why_not(settings, embedder):
    private = Assistant(settings, embedder=embedder)
    report = _pdf("Harbour report. The Velmora ferry carried 12,400 passengers in March.",
                  "Page two. The Velmora ferry will get a second deck in 2027.")
    with running(create_api(private, Shelf(private))) as url:
        scanned = httpx.post(f"{url}/v1/articles", timeout=120,
                             files=[("files", ("scan.pdf", _pdf(""), "application/pdf"))])
        assert scanned.status_code == 400
        message = scanned.json()["error"]["message"]
        assert message.startswith("no readable article among the uploads: scan.pdf: ")
        assert httpx.get(f"{url}/v1/articles").json()["data"] == []

        both = httpx.post(f"{url}/v1/articles", timeout=120, files=[
            ("files", ("harbour.pdf", report, "application/pdf")),
            ("files", ("scan.pdf", _pdf(""), "application/pdf"))])
        assert both.status_code == 201, both.text
        body = both.json()
        assert len(body["added"]) == 1
        assert body["skipped"] == [{"file": "scan.pdf", "reason": message.split("scan.pdf: ")[1]}]
        whole = httpx.get(f"{url}/v1/articles/{body['added'][0]}").json()
        assert "12,400 passengers" in whole["text"] and "second deck" in whole["text"]
        assert len(whole["pages"]) == 2 and whole["pages"][0] == 0
        assert "second deck" in whole["text"][whole["pages"][1]:]
