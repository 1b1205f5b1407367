"""RSS and Atom feeds by URL: read, followed, updated conditionally; against a real server on
127.0.0.1 and a real index."""

import contextlib
import io
import json
from html import escape

import pytest

from rag.cli import main
from rag.errors import BadInput
from rag.ingest.by_url import check_feeds, ingest_urls, update_feeds, write_check
from rag.ingest.feed_registry import (Feed, follow, followed_feeds, record_updates,
                                      registry_path, remove_feed)
from rag.ingest.feeds import html_text
from rag.ingest.web import doc_id_for
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
    assert out.startswith("4 added, 0 updated, 0 removed, 0 unchanged, 0 skipped"), "an entry read from the feed is no skip"
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
    # one small request a feed, and the ferry's page, which failed, asked for again
    assert _paths_since(news, start) == ["/rss.xml", "/stories/ferry", "/atom.xml"]
    rss_request, _, atom_request = news.requests[start:]
    assert rss_request.headers["if-none-match"] == '"rss-1"'
    assert atom_request.headers["if-modified-since"] == ATOM_HEADERS["Last-Modified"]
    assert f"{rss_url}: 304: not modified; 0 of 1 pending entry read" in out
    assert f"{atom_url}: 304: not modified\n" in out
    assert "0 added, 0 updated" in out and "embedded 0 chunks" in out
    assert _messages(err) == [f"rag: warning: {ferry}: page not fetched (the server answered "
                              "404 Not Found); the feed entry's own text stays indexed"]
    assert list(followed_feeds(_settings(index))[0].pending) == [ferry]

    news.route("/stories/ferry", article_html("Ferry sails again", [
        GONE_TEXT, "Tickets are on sale at the harbour office."], date="2025-10-03"))
    code, out, err = _run(["feeds", "update", "--index", index])
    assert code == 0, err
    assert "0 added, 1 updated" in out  # the page replaces the entry's own text
    assert "Tickets are on sale" in open_index(_settings(index)).article(doc_id_for(ferry)).text
    assert followed_feeds(_settings(index))[0].pending == {}
    start = len(news.requests)
    assert _run(["feeds", "update", "--index", index])[0] == 0
    assert _paths_since(news, start) == ["/rss.xml", "/atom.xml"]  # nothing pending now


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
    assert (f"rag: warning: {news.url('/rss.xml')}: the server answered 503 Service Unavailable"
            in _messages(err))
    assert news.url("/rss.xml") not in out  # stdout: the feeds updated, and the summary
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
    assert list(registry_path(_settings(index)).parent.glob(".feeds.json.*.tmp")) == []

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


def test_entry_links_that_are_no_web_pages_are_skipped(site, settings, embedder):
    """A feed names its entries' pages; `javascript:`, `data:` or `mailto:` is none, and must
    not become an article, its link shown to readers."""
    items = "".join(f"<item><title>{title}</title><link>{escape(link)}</link>"
                    f"<description>{escape('<p>' + GONE_TEXT + '</p>')}</description></item>"
                    for title, link in [("Script", "javascript:alert(1)"),
                                        ("Data", "data:text/html,<b>hi</b>"),
                                        ("Mail", "mailto:desk@example.org"),
                                        ("Harbour", "/stories/harbour")])
    site.route("/stories/harbour", article_html(*STORIES["/stories/harbour"]))
    site.route("/rss.xml", f'<rss version="2.0"><channel><title>Odd</title>{items}</channel></rss>',
               headers=RSS_HEADERS)
    report = ingest_urls([site.url("/rss.xml")], settings, embedder, allow_private=True)
    assert report.added == [doc_id_for(site.url("/stories/harbour"))]
    reasons = {s.path: s.reason for s in report.skipped}
    feed = site.url("/rss.xml")
    assert reasons == {f"{feed} entry 'Script'": "a javascript: link, not an http(s) page",
                       f"{feed} entry 'Data'": "a data: link, not an http(s) page",
                       f"{feed} entry 'Mail'": "a mailto: link, not an http(s) page"}
    assert [r.path for r in site.requests] == ["/rss.xml", "/stories/harbour"]


def test_only_the_newest_entries_are_read(site, settings, embedder):
    """`feed_max_entries` bounds the page fetches a feed costs: the newest by date are read,
    whatever order the feed lists them in."""
    days = [3, 9, 1, 7, 5]
    for day in days:
        site.route(f"/stories/{day}", article_html(f"Story of the {day}th", [
            f"Story number {day} of October tells of the harbour works on day {day}."]))
    site.route("/rss.xml", rss(site, [(f"/stories/{d}", f"Day {d}",
                                       f"Thu, 0{d} Oct 2025 08:00:00 GMT") for d in days]),
               headers=RSS_HEADERS)
    few = settings.model_copy(update={"feed_max_entries": 2})
    report = ingest_urls([site.url("/rss.xml")], few, embedder, allow_private=True)
    assert sorted(report.added) == sorted(doc_id_for(site.url(f"/stories/{d}")) for d in (9, 7))
    assert [r.path for r in site.requests] == ["/rss.xml", "/stories/9", "/stories/7"]
    [feed] = followed_feeds(few)
    assert feed.entries == 5
    assert feed.last_status == "200: 2 new or changed entries (the newest 2 of 5)"


def test_a_feed_removed_during_an_update_stays_removed(news, settings, embedder):
    ingest_urls([news.url("/rss.xml"), news.url("/atom.xml")], settings, embedder,
                allow_private=True)
    news.route("/atom.xml", atom(news, [BRIDGE_ENTRY, LIBRARY_ENTRY, ("/stories/harbour",
                                        "Harbour", "2025-10-08T10:00:00Z")]),
               headers={**ATOM_HEADERS, "Last-Modified": "Wed, 08 Oct 2025 10:00:00 GMT"})
    check = check_feeds(settings, allow_private=True)  # fetched, nothing written yet
    remove_feed(settings, news.url("/atom.xml"))
    update = write_check(check, settings, embedder)
    assert update.statuses[news.url("/atom.xml")] == "200: 1 new or changed entry"
    assert [f.url for f in followed_feeds(settings)] == [news.url("/rss.xml")]


def test_of_two_records_of_a_feed_the_later_checked_stays(settings):
    url = "http://127.0.0.1:9/feed.xml"
    follow(settings, [Feed(url, last_checked="2025-10-08T10:00:00+00:00", last_status="fresh")])
    record_updates(settings, [Feed(url, last_checked="2025-10-08T09:00:00+00:00",
                                   last_status="stale")])
    assert followed_feeds(settings)[0].last_status == "fresh"
    record_updates(settings, [Feed("http://127.0.0.1:9/other.xml", last_checked="2025-10-09")])
    assert [f.url for f in followed_feeds(settings)] == [url]  # only followed feeds are written


def test_a_fallback_under_the_entry_link_goes_when_its_page_comes(news, settings, embedder):
    """The ferry's page, once it comes, names its own canonical URL: a new doc id. The entry's
    own text, indexed under the entry's link, is removed in the same update."""
    ingest_urls([news.url("/rss.xml")], settings, embedder, allow_private=True)
    ferry, canonical = news.url("/stories/ferry"), news.url("/news/ferry-sails-again")
    index = open_index(settings)
    assert index.article(doc_id_for(ferry)).text == GONE_TEXT
    news.route("/stories/ferry", article_html("Ferry sails again", [
        GONE_TEXT, "Tickets are on sale at the harbour office."], canonical=canonical))
    result = update_feeds(settings, embedder, allow_private=True)  # the feed answers 304
    assert result.report.added == [doc_id_for(canonical)]
    assert result.report.removed == [doc_id_for(ferry)]
    index = open_index(settings)
    assert index.article(doc_id_for(ferry)) is None
    assert index.article(doc_id_for(canonical)).url == canonical
    assert result.report.articles == 2  # the harbour and the ferry, once each


def test_entry_html_keeps_its_paragraphs():
    assert html_text("<p>One <b>bold</b> line.</p><p>Two<br>three</p>").split("\n") == [
        "One bold line.", "", "Two", "three", "", ""]
    assert html_text("Plain text summary.") == "Plain text summary."


def _settings(index: str):
    from rag.settings import Settings

    return Settings(index=index)


def rss_1(site, paths: list[str]) -> str:
    """RSS 1.0 (RDF) whose items link to `paths`."""
    seq = "".join(f'<rdf:li rdf:resource="{site.url(p)}"/>' for p in paths)
    items = "".join(
        f'<item rdf:about="{site.url(p)}"><title>{escape(STORIES[p][0])}</title>'
        f"<link>{site.url(p)}</link><dc:date>2025-10-0{n + 1}T08:00:00Z</dc:date></item>"
        for n, p in enumerate(paths))
    return ('<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
            ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="{site.url("/rdf.xml")}"><title>Valmora Gazette</title>'
            f'<link>{site.url("/")}</link><description>RSS 1.0</description>'
            f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>{items}</rdf:RDF>")


def test_an_rss_1_feed_is_read_like_the_others(news, settings, embedder):
    paths = ["/stories/harbour", "/stories/library"]
    news.route("/rdf.xml", rss_1(news, paths), headers={"Content-Type": "application/rdf+xml"})
    report = ingest_urls([news.url("/rdf.xml")], settings, embedder, allow_private=True)
    assert sorted(report.added) == sorted(doc_id_for(news.url(p)) for p in paths)
    assert [f.title for f in followed_feeds(settings)] == ["Valmora Gazette"]
    index = open_index(settings)
    assert index.article(doc_id_for(news.url("/stories/library"))).url == news.url("/stories/library")
