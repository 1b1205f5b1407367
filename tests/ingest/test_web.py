"""Web pages by URL, through the library and `rag ingest URL`, from a real server on 127.0.0.1
into a real index."""

import contextlib
import hashlib
import io
import json
import re
import socket
from html import escape

import pytest

from rag.cli import main
from rag.errors import BadInput
from rag.ingest.fetching import FetchFailed
from rag.ingest.by_url import ingest_urls
from rag.ingest.web import canonical_url, doc_id_for
from rag.settings import Settings
from rag.store.factory import open_index
from tests.webserver import Site

HARBOUR = [
    "The harbour of Valmora reopened on Thursday after a storm closed it for nine days, the port "
    "authority said in a statement.",
    "Fishing boats were the first to leave, carrying crews who had waited since the closure "
    "began. The authority expects ferries to resume their timetable by the weekend.",
    "Repairs to the northern breakwater will cost an estimated 4.2 million kronor, the harbour "
    "master told reporters.",
]


def article_html(title: str, paragraphs: list[str], *, author: str | None = None,
                 date: str | None = None, canonical: str | None = None) -> str:
    """A news page as sites publish them: metadata in the head, the story in <article>, and
    navigation and a footer around it."""
    head = [f"<title>{escape(title)} | Valmora Courier</title>"]
    if canonical:
        head.append(f'<link rel="canonical" href="{escape(canonical)}">')
    if author:
        head.append(f'<meta name="author" content="{escape(author)}">')
    if date:
        head.append(f'<meta property="article:published_time" content="{date}T08:00:00Z">')
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{''.join(head)}</head><body>"
            "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<article><h1>{escape(title)}</h1>{body}</article>"
            "<footer>Copyright 2025 Valmora Courier. All rights reserved.</footer></body></html>")


def _listing(index) -> list[dict]:
    return json.loads(_run(["list", "--json", "--index", str(index)])[1])


def _run(argv: list[str]) -> tuple[int, str, str]:
    """`rag ...` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_doc_ids_come_from_the_canonical_url():
    url = "https://news.example.org/2025/10/harbour?id=7"
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    assert doc_id_for(url) == f"news-example-org_{digest}"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", doc_id_for("http://[::1]:8080/x"))


def test_a_canonical_url_on_another_host_is_not_believed():
    final = "http://127.0.0.1:8000/news/harbour?utm=feed#top"
    assert canonical_url("/news/harbour", final) == "http://127.0.0.1:8000/news/harbour"
    assert canonical_url("http://127.0.0.1:8000/c", final) == "http://127.0.0.1:8000/c"
    assert canonical_url("https://elsewhere.example/harbour", final) == final.split("#")[0]
    assert canonical_url(None, final) == "http://127.0.0.1:8000/news/harbour?utm=feed"


def test_a_page_by_url_keeps_its_metadata_and_updates_in_place(site, settings, embedder):
    canonical = site.url("/news/harbour-reopens")
    site.route("/go/harbour", "", status=301, headers={"Location": "/news/harbour-reopens?ref=rss"})
    site.route("/news/harbour-reopens?ref=rss", article_html(
        "Harbour reopens after storm", HARBOUR, author="Ingrid Solberg", date="2025-10-02",
        canonical=canonical))
    given = site.url("/go/harbour")

    report = ingest_urls([given], settings, embedder, allow_private=True)
    doc_id = doc_id_for(canonical)
    assert report.added == [doc_id] and not report.skipped
    article = open_index(settings).article(doc_id)
    assert article.title == "Harbour reopens after storm"
    assert article.author == "Ingrid Solberg" and article.date == "2025-10-02"
    assert article.url == canonical and article.source == given
    assert "4.2 million kronor" in article.text
    assert "All rights reserved" not in article.text and "World" not in article.text

    entry = next(e for e in _listing(settings.index) if e["doc_id"] == doc_id)
    assert entry["source"] == given and entry["meta"]["url"] == canonical

    again = ingest_urls([given], settings, embedder, allow_private=True)
    assert again.unchanged == [doc_id] and again.chunks_embedded == 0

    site.route("/news/harbour-reopens?ref=rss", article_html(
        "Harbour reopens after storm", HARBOUR + ["Update: the ferry to Holm sails again."],
        author="Ingrid Solberg", date="2025-10-02", canonical=canonical))
    changed = ingest_urls([given], settings, embedder, allow_private=True)
    assert changed.updated == [doc_id] and changed.articles == 1
    assert "ferry to Holm" in open_index(settings).article(doc_id).text


def test_rag_ingest_takes_urls_beside_paths(site, tmp_path, embedder):
    site.route("/story", article_html("Harbour reopens after storm", HARBOUR))
    note = tmp_path / "ferry-note.txt"
    note.write_text("date 2025-10-03\nFerries resume\n\nThe ferry to Holm sails again on Friday, "
                    "the operator said.\n", encoding="utf-8")
    index = tmp_path / "index"
    code, out, err = _run(["ingest", str(note), site.url("/story"), "--index", str(index)])
    assert code == 0, err
    assert out.startswith("2 added, 0 updated")
    dates = {e["source"]: e["date"] for e in _listing(index)}
    # the page gives no date: its footer's "Copyright 2025" is not read as 2025-01-01
    assert dates == {str(note): "2025-10-03", site.url("/story"): None}
    assert site.requests[0].headers["user-agent"].startswith("rag-news-assistant/")


def test_the_server_side_call_refuses_private_addresses(site, settings, embedder):
    site.route("/story", article_html("Harbour reopens after storm", HARBOUR))
    with pytest.raises(BadInput, match="loopback address.*RAG_ALLOW_PRIVATE_URLS"):
        ingest_urls([site.url("/story")], settings, embedder,
                    allow_private=settings.allow_private_urls)
    assert site.requests == [] and not settings.index.exists()


def test_a_page_without_article_text_is_refused(site, settings, embedder):
    site.route("/empty", "<html><head><title>Nothing</title></head><body></body></html>")
    with pytest.raises(FetchFailed, match="no article text"):
        ingest_urls([site.url("/empty")], settings, embedder, allow_private=True)


# -- bad responses on the command line: one line, exit 2, the index as it was -----------------

@pytest.fixture(scope="module")
def bad_site():
    with Site() as server:
        server.route("/good", article_html("Harbour reopens after storm", HARBOUR))
        server.route("/slow", article_html("Late", HARBOUR), delay=3.0)
        server.route("/loop-a", "", status=302, headers={"Location": "/loop-b"})
        server.route("/loop-b", "", status=302, headers={"Location": "/loop-a"})
        server.route("/huge", article_html("Huge", HARBOUR * 400), headers={"Content-Length": None})
        server.route("/feed.xml", "this is plain text, not a feed",
                     headers={"Content-Type": "application/rss+xml"})
        server.route("/chart.png", b"\x89PNG\r\n\x1a\n" + bytes(64),
                     headers={"Content-Type": "image/png"})
        yield server


@pytest.fixture(scope="module")
def built_index(bad_site, tmp_path_factory, embedder):
    settings = Settings(index=tmp_path_factory.mktemp("web") / "index")
    ingest_urls([bad_site.url("/good")], settings, embedder, allow_private=True)
    return settings.index


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/story"


@pytest.mark.parametrize("path, expected", [
    (None, "cannot connect"),
    ("/missing", "answered 404 Not Found"),
    ("/slow", "no answer within 0.5 s"),
    ("/loop-a", "redirects in a loop"),
    ("/huge", "larger than 20,000 bytes"),
    ("/feed.xml", "not an RSS or Atom feed"),
    ("/chart.png", "sent image/png, not a web page or an RSS/Atom feed"),
])
def test_a_bad_url_is_one_line_and_leaves_the_index_as_it_was(bad_site, built_index, monkeypatch,
                                                              path, expected):
    monkeypatch.setenv("RAG_FETCH_TIMEOUT", "0.5")
    monkeypatch.setenv("RAG_FETCH_MAX_BYTES", "20000")
    url = bad_site.url(path) if path else _closed_port_url()
    before = _listing(built_index)
    code, out, err = _run(["ingest", bad_site.url("/good"), url, "--index", str(built_index)])
    assert code == 2 and out == ""
    assert err.splitlines() == [f"rag: error: {url}: " + err.split(f"{url}: ", 1)[1].strip()]
    assert expected in err
    assert _listing(built_index) == before
    assert not (built_index / "feeds.json").exists()
