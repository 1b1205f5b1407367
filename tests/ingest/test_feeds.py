"""RSS and Atom feeds by URL: read, followed, updated conditionally; against a real server on
127.0.0.1 and a real index."""

import contextlib
import io
import json
from html import escape

import pytest

from rag.cli import main
from rag.errors import BadInput
from rag.ingest.feeds import followed_feeds, html_text, registry_path, update_feeds
from rag.ingest.web import doc_id_for, ingest_urls
from rag.store.factory import open_index
from tests.ingest.test_web import article_html

STORIES = {
    "/stories/harbour": ("Harbour reopens after storm", [
        "The harbour of Valmora reopened on Thursday after a storm closed it for nine days, the "
        "port authority said.", "Fishing boats were the first to leave the harbour."]),
    "/stories/bridge": ("Bridge inspection finds cracks", [
        "Inspectors found cracks in two pillars of the Osterbro bridge, the city engineer said "
        "on Friday.", "The bridge stays open to cars but closes to lorries from Monday."]),
    "/stories/library": ("Library extends opening hours", [
        "The central library of Valmora will open until ten in the evening from November, the "
        "council decided.", "Students had asked for longer hours during the exam season."]),
}
GONE_TEXT = ("The ferry to Holm sails again on Friday, the operator announced, after repairs "
             "to its engine took three weeks longer than planned.")


def rss(site, items: list[tuple[str, str, str]]) -> str:
    """RSS 2.0 whose items are (path, title, pubDate)."""
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{site.url(path)}</link>"
        f"<guid>{site.url(path)}</guid><pubDate>{stamp}</pubDate>"
        f"<description>{escape('<p>' + GONE_TEXT + '</p>')}</description></item>"
        for path, title, stamp in items)
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Valmora Courier</title><link>{site.url('/')}</link>"
            f"<description>News from Valmora</description>{body}</channel></rss>")


def atom(site, entries: list[tuple[str, str, str]]) -> str:
    """Atom 1.0 whose entries are (path, title, updated)."""
    body = "".join(
        f'<entry><title>{escape(title)}</title><link href="{site.url(path)}"/>'
        f"<id>{site.url(path)}</id><updated>{stamp}</updated>"
        "<author><name>Nils Berg</name></author><summary>A summary.</summary></entry>"
        for path, title, stamp in entries)
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Valmora City Hall</title><id>{site.url('/atom.xml')}</id>"
            f"<updated>2025-10-06T09:00:00Z</updated>{body}</feed>")


HARBOUR_ITEM = ("/stories/harbour", "Harbour reopens", "Thu, 02 Oct 2025 08:00:00 GMT")
FERRY_ITEM = ("/stories/ferry", "Ferry sails again", "Fri, 03 Oct 2025 07:00:00 GMT")  # 404s
BRIDGE_ENTRY = ("/stories/bridge", "Bridge cracks", "2025-10-04T12:00:00Z")
LIBRARY_ENTRY = ("/stories/library", "Library hours", "2025-10-06T09:00:00Z")
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": '"rss-1"'}
ATOM_HEADERS = {"Content-Type": "application/atom+xml",
                "Last-Modified": "Mon, 06 Oct 2025 09:00:00 GMT"}


@pytest.fixture
def news(site):
    """Two feeds on one server: RSS (with an ETag) and Atom (with Last-Modified); one RSS entry's
    page is gone (404); the bridge page gives no date, so its entry's date is kept."""
    site.route("/stories/harbour", article_html(*STORIES["/stories/harbour"], date="2025-10-02",
                                                author="Ingrid Solberg"))
    site.route("/stories/bridge", article_html(*STORIES["/stories/bridge"]))
    site.route("/stories/library", article_html(*STORIES["/stories/library"], date="2025-10-06"))
    site.route("/rss.xml", rss(site, [HARBOUR_ITEM, FERRY_ITEM]), headers=RSS_HEADERS)
    site.route("/atom.xml", atom(site, [BRIDGE_ENTRY, LIBRARY_ENTRY]), headers=ATOM_HEADERS)
    return site


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _messages(err: str) -> list[str]:
    """stderr without the progress bar."""
    return [line.strip() for line in err.splitlines() if line.strip().startswith("rag:")]


def _paths_since(site, start: int) -> list[str]:
    return [r.path for r in site.requests[start:]]


def test_feeds_are_read_followed_and_updated_conditionally(news, tmp_path):
    index = str(tmp_path / "index")
    rss_url, atom_url = news.url("/rss.xml"), news.url("/atom.xml")
    code, out, err = _run(["ingest", rss_url, atom_url, "--index", index])
    assert code == 0, err
    assert out.startswith("4 added, 0 updated, 0 removed, 0 unchanged, 1 skipped")
    assert f"following the feed {rss_url} (Valmora Courier, 2 entries)" in out
    ferry = news.url("/stories/ferry")
    assert _messages(err) == [f"rag: warning: {ferry}: page not fetched (the server answered "
                              "404 Not Found); indexed the feed entry's own text instead"]

    listing = {e["doc_id"]: e for e in json.loads(_run(["list", "--json", "--index", index])[1])}
    index_ = open_index(_settings(index))
    fallback = index_.article(doc_id_for(ferry))
    assert fallback.text == GONE_TEXT and fallback.title == "Ferry sails again"
    assert fallback.date == "2025-10-03" and listing[fallback.doc_id]["source"] == ferry
    bridge = index_.article(doc_id_for(news.url("/stories/bridge")))
    assert bridge.date == "2025-10-04" and bridge.author == "Nils Berg"  # from the entry
    harbour = index_.article(doc_id_for(news.url("/stories/harbour")))
    assert harbour.date == "2025-10-02" and harbour.author == "Ingrid Solberg"  # from the page
    assert "nine days" in harbour.text

    code, out, _ = _run(["feeds", "--json", "--index", index])
    feeds = {f["url"]: f for f in json.loads(out)}
    assert feeds[rss_url]["title"] == "Valmora Courier" and feeds[rss_url]["entries"] == 2
    assert feeds[atom_url]["title"] == "Valmora City Hall" and feeds[atom_url]["entries"] == 2
    assert feeds[rss_url]["etag"] == '"rss-1"' and feeds[rss_url]["last_status"].startswith("200")
    code, out, _ = _run(["feeds", "--index", index])
    assert code == 0 and out.count("\n") == 2 and "Valmora City Hall  2 entries" in out

    start = len(news.requests)
    code, out, err = _run(["feeds", "update", "--index", index])
    assert code == 0, err
    assert _paths_since(news, start) == ["/rss.xml", "/atom.xml"]  # one small request each
    rss_request, atom_request = news.requests[start:]
    assert rss_request.headers["if-none-match"] == '"rss-1"'
    assert atom_request.headers["if-modified-since"] == ATOM_HEADERS["Last-Modified"]
    assert f"{rss_url}: 304: not modified" in out and f"{atom_url}: 304: not modified" in out
    assert "0 added, 0 updated" in out and "embedded 0 chunks" in out
    assert followed_feeds(_settings(index))[0].last_status == "304: not modified"


def test_an_update_fetches_only_new_or_changed_entries(news, settings, embedder):
    ingest_urls([news.url("/rss.xml"), news.url("/atom.xml")], settings, embedder,
                allow_private=True)
    news.route("/stories/tram", article_html("Tram line approved", [
        "The council approved a tram line from the station to the university on Tuesday.",
        "Construction starts next spring."], date="2025-10-07"))
    tram = ("/stories/tram", "Tram approved", "Tue, 07 Oct 2025 10:00:00 GMT")
    news.route("/rss.xml", rss(news, [tram, HARBOUR_ITEM, FERRY_ITEM]),
               headers={**RSS_HEADERS, "ETag": '"rss-2"'})
    news.route("/stories/library", article_html(*STORIES["/stories/library"], date="2025-10-06")
               .replace("exam season", "exam season, and the council agreed"))
    library = (*LIBRARY_ENTRY[:2], "2025-10-07T15:00:00Z")  # updated: its page is read again
    news.route("/atom.xml", atom(news, [BRIDGE_ENTRY, library]),
               headers={**ATOM_HEADERS, "Last-Modified": "Tue, 07 Oct 2025 15:00:00 GMT"})
    start = len(news.requests)
    result = update_feeds(settings, embedder, allow_private=True)
    # the harbour entry is unchanged; the ferry's page failed before, so it is tried again
    assert _paths_since(news, start) == ["/rss.xml", "/stories/tram", "/stories/ferry",
                                         "/atom.xml", "/stories/library"]
    assert result.report.added == [doc_id_for(news.url("/stories/tram"))]
    assert result.report.updated == [doc_id_for(news.url("/stories/library"))]
    assert result.report.unchanged == [doc_id_for(news.url("/stories/ferry"))]
    assert result.lines == [f"{news.url('/rss.xml')}: 200: 2 new or changed entries",
                            f"{news.url('/atom.xml')}: 200: 1 new or changed entry"]
    assert not result.failed
    assert followed_feeds(settings)[0].entries == 3


def test_a_failing_feed_is_reported_and_the_others_updated(news, tmp_path):
    index = str(tmp_path / "index")
    assert _run(["ingest", news.url("/rss.xml"), news.url("/atom.xml"), "--index", index])[0] == 0
    news.route("/rss.xml", "server trouble", status=503)
    news.route("/atom.xml", atom(news, [("/stories/harbour", "Harbour", "2025-10-08T10:00:00Z")]),
               headers={**ATOM_HEADERS, "Last-Modified": "Wed, 08 Oct 2025 10:00:00 GMT"})
    code, out, err = _run(["feeds", "update", "--index", index])
    assert code == 1
    assert f"{news.url('/rss.xml')}: failed: the server answered 503 Service Unavailable" in out
    assert f"{news.url('/atom.xml')}: 200: 1 new or changed entry" in out
    status = {f.url: f.last_status for f in followed_feeds(_settings(index))}
    assert status[news.url("/rss.xml")].startswith("failed: ")


def test_removing_a_feed_keeps_its_articles(news, tmp_path):
    index = str(tmp_path / "index")
    assert _run(["ingest", news.url("/atom.xml"), "--index", index])[0] == 0
    before = _run(["list", "--json", "--index", index])[1]
    code, out, _ = _run(["feeds", "remove", news.url("/atom.xml"), "--index", index])
    assert code == 0 and "its articles stay in the index" in out
    assert followed_feeds(_settings(index)) == []
    assert _run(["list", "--json", "--index", index])[1] == before
    registry = json.loads(registry_path(_settings(index)).read_text())
    assert registry == {"version": 1, "feeds": []}
    assert [p.name for p in registry_path(_settings(index)).parent.glob(".feeds.json*")] == []

    code, _, err = _run(["feeds", "remove", news.url("/atom.xml"), "--index", index])
    assert code == 2 and err.strip() == (f"rag: error: not a followed feed: "
                                         f"{news.url('/atom.xml')} (see: rag feeds)")


def test_a_feed_with_no_entries_is_followed(site, settings, embedder):
    site.route("/empty.xml", rss(site, []), headers=RSS_HEADERS)
    report = ingest_urls([site.url("/empty.xml")], settings, embedder, allow_private=True)
    assert report.added == [] and report.articles == 0
    assert [f.url for f in followed_feeds(settings)] == [site.url("/empty.xml")]


def test_a_feed_url_that_fails_follows_nothing(site, settings, embedder):
    site.route("/rss.xml", rss(site, [("/nowhere", "Gone", "Fri, 03 Oct 2025 07:00:00 GMT")])
               .replace(escape("<p>" + GONE_TEXT + "</p>"), ""), headers=RSS_HEADERS)
    with pytest.raises(BadInput, match="no readable article.*page not fetched"):
        ingest_urls([site.url("/rss.xml")], settings, embedder, allow_private=True)
    assert followed_feeds(settings) == []


def test_entry_html_keeps_its_paragraphs():
    assert html_text("<p>One <b>bold</b> line.</p><p>Two<br>three</p>").split("\n") == [
        "One bold line.", "", "Two", "three", "", ""]
    assert html_text("Plain text summary.") == "Plain text summary."


def _settings(index: str):
    from rag.settings import Settings

    return Settings(index=index)
