"""The Articles tab's callbacks over a real shelf: pages and feeds fetched from a real HTTP server
on 127.0.0.1 into a real index, with the bundled embedding model (no browser, no GGUF model)."""

from __future__ import annotations

import html

import pytest

from rag.answer.assistant import Assistant
from rag.serve.shelf import Shelf
from rag.settings import Settings
from tests.webserver import Site
from ui.articles import ArticlesTab

PAGE = """<html><head><title>Quellmar harbour reopens</title>
<link rel="canonical" href="{url}"></head><body><article><h1>Quellmar harbour reopens</h1>
<p>Published 6 October 2025.</p>
<p>The harbour of Quellmar reopened on Monday after three weeks of dredging, the port authority
said. The first ship to dock was the ferry Zorblat, which carries up to 80 passengers.</p>
<p>Harbour master Ilsa Varn said the channel is now eleven metres deep.</p></article></body></html>"""

FEED = """<?xml version="1.0"?><rss version="2.0"><channel>
<title>Quellmar &lt;script&gt;alert(1)&lt;/script&gt; news</title><link>{base}</link>
<description>news</description>
<item><title>Quellmar harbour reopens</title><link>{page}</link>
<pubDate>Mon, 06 Oct 2025 08:00:00 GMT</pubDate></item>
</channel></rss>"""


def _no_progress(*args, **kwargs) -> None:
    """Stands in for Gradio's progress bar, which only exists inside a running event."""


@pytest.fixture
def tab(tmp_path, embedder):
    settings = Settings(index=tmp_path / "index", allow_private_urls=True)
    return ArticlesTab(Shelf(Assistant(settings, embedder=embedder)))


def test_a_page_url_is_added_and_listed(tab):
    with Site() as site:
        site.route("/harbour", PAGE.format(url=site.url("/harbour")))
        status, rows, choices, feeds, box = tab.add_urls(f"  {site.url('/harbour')}\n",
                                                         progress=_no_progress)
    assert html.unescape(status).startswith("1 added, 0 updated"), status
    assert [row[0] for row in rows] == ["Quellmar harbour reopens"]
    assert rows[0][3] == site.url("/harbour")  # the url column
    assert choices["choices"] == [rows[0][4]]
    assert "No feeds followed yet" in feeds and "Feeds last refreshed: never" in feeds
    assert box == ""  # added: the box is cleared for the next address


def test_a_feed_is_followed_and_its_refresh_shown(tab):
    with Site() as site:
        site.route("/harbour", PAGE.format(url=site.url("/harbour")))
        site.route("/feed.xml", FEED.format(base=site.url("/"), page=site.url("/harbour")),
                   headers={"Content-Type": "application/rss+xml"})
        status, rows, _, feeds, _ = tab.add_urls(site.url("/feed.xml"), progress=_no_progress)
        assert html.unescape(status).startswith("1 added"), status
        assert "Feeds followed (1)" in feeds and "Feeds last refreshed: never" in feeds
        assert "<script" not in feeds and "&lt;script&gt;" in feeds  # the feed's title is text
        assert f'href="{site.url("/feed.xml")}"'.replace(":", "&#58;") in feeds
        status, *_, feeds = tab.refresh_feeds(progress=_no_progress)
    assert html.unescape(status).startswith("Feeds refreshed:"), status
    last = tab.shelf.last_feed_refresh
    assert last is not None and f"Feeds last refreshed: {last.at}" in feeds


def test_a_url_that_cannot_be_added_is_one_line_and_adds_nothing(tab):
    with Site() as site:
        status, rows, *_, box = tab.add_urls(site.url("/missing"), progress=_no_progress)
    assert html.unescape(status).startswith("Not added: ") and "\n" not in status
    assert rows == [] and box == site.url("/missing")  # kept, to mend
    status, *_ = tab.add_urls("javascript:alert(1)", progress=_no_progress)
    assert html.unescape(status).startswith("Not added: ")
    status, *_ = tab.add_urls("   ", progress=_no_progress)
    assert status.startswith("Paste the http(s) address")
