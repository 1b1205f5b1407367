"""Web pages by URL: fetched (`rag.ingest.fetching`), read by trafilatura, cleaned like any
article, and written through the indexer; a URL that turns out to be a feed goes to
`rag.ingest.feeds`, which reads its entries' pages through here.

A page's doc id comes from its canonical URL (`doc_id_for`), so fetching it again, by the same
or another address that names the same canonical page, finds the same article: unchanged when
its content hash is, replaced when not. Page text is untrusted like any article's.

All URLs are fetched before the index is opened: one that fails raises `FetchFailed` (a
`BadInput`) naming it, and the index is left as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from rag.errors import IndexMissing
from rag.ingest.cleaning import clean, iso_date
from rag.ingest.fetching import FEED_TYPES, PAGE_TYPES, Fetched, FetchFailed, fetch
from rag.ingest.indexer import IngestReport, LocalWorkers, Workers, ingest_articles
from rag.models.embedding import Embedder
from rag.settings import Settings
from rag.types import Article, ProgressFn, Skipped

if TYPE_CHECKING:
    from rag.ingest.feeds import Feed


@dataclass(frozen=True)
class HtmlPage:
    """What trafilatura reads from a page: its words and what it says about itself."""
    title: str
    date: str | None
    author: str | None
    url: str | None  # the canonical URL the page declares, if any
    text: str


def read_html(html: str, *, guess_date: bool = True) -> HtmlPage:
    """The main text and metadata of an HTML page (a file or a fetched page alike). Without
    `guess_date`, a date comes from the page's markup (meta tags, <time>, a dated byline) or
    not at all, never from htmldate's last resorts ("Copyright 2025" reads as 2025-01-01);
    an undated page still gets a dateline found in its text by `clean`. Files keep the
    guesses, so their content hashes stay as they were."""
    import trafilatura
    from trafilatura.settings import set_date_params

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                      include_tables=True, favor_recall=True,
                                      date_extraction_params=set_date_params(guess_date))
    if doc is None:
        return HtmlPage("", None, None, None, "")
    return HtmlPage(title=(doc.title or "").strip(), date=iso_date(doc.date) if doc.date else None,
                    author=(doc.author or "").strip() or None, url=doc.url or None,
                    text=doc.text or "")


def doc_id_for(url: str) -> str:
    """`<host with dots as ->_<12 hex of sha256(url)>`: stable, readable, [A-Za-z0-9_-] only."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", (urlsplit(url).hostname or "web").replace(".", "-"))
    return f"{host.strip('-')[:60] or 'web'}_{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}"


def canonical_url(declared: str | None, final: str) -> str:
    """The page's declared canonical URL when it is on the host the page came from (a page may
    not claim another site's address), else the URL it was fetched from; without fragments."""
    final = _without_fragment(final)
    if declared:
        claimed = _without_fragment(urljoin(final, declared.strip()))
        parts = urlsplit(claimed)
        if parts.scheme in ("http", "https") and parts.hostname == urlsplit(final).hostname:
            return claimed
    return final


def page_article(fetched: Fetched, source: str, *, title: str = "", date: str | None = None,
                 author: str | None = None) -> Article:
    """An Article from a fetched page; `title`, `date` and `author` (a feed entry's) fill in
    what the page does not say."""
    page = read_html(_decode(fetched), guess_date=False)
    url = canonical_url(page.url, fetched.url)
    content = page.text.replace("\r\n", "\n").replace("\r", "\n")
    text, found_title, found_date = clean(content, title=page.title or title,
                                          date=page.date or date)
    if not text.strip():
        raise FetchFailed(source, "no article text found on the page")
    return Article(doc_id=doc_id_for(url), title=found_title or url, date=found_date,
                   source=source, text=text, url=url, author=page.author or author)


def _decode(fetched: Fetched) -> str:
    if fetched.charset:
        try:
            return fetched.body.decode(fetched.charset)
        except (LookupError, UnicodeDecodeError):
            pass
    from trafilatura.utils import decode_file

    return decode_file(fetched.body)  # the page's own <meta charset>, else a guess


def _without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


# ---------------------------------------------------------------------------------------------
# ingesting URLs


@dataclass
class WebBatch:
    """What a list of URLs gave: articles (one per doc id), entries skipped, feeds read."""
    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    feeds: list[Feed] = field(default_factory=list)

    def add(self, article: Article) -> None:
        """Keep the first article of each doc id: two links to one canonical page are one."""
        if all(a.doc_id != article.doc_id for a in self.articles):
            self.articles.append(article)


def read_urls(urls: Sequence[str], settings: Settings, *, allow_private: bool) -> WebBatch:
    """Fetch every URL, a page or a feed (told apart by content type and by what feedparser
    makes of it, not by how the URL looks). A URL that fails raises; a feed entry whose page
    fails is read from the feed instead, or skipped, with a warning in `skipped`."""
    from rag.ingest.feeds import parse_feed, read_feed  # feeds read their pages through here

    batch = WebBatch()
    for url in urls:
        fetched = fetch(url, settings, allow_private=allow_private, accept=PAGE_TYPES | FEED_TYPES)
        parsed = parse_feed(fetched)
        if parsed is None and fetched.content_type not in PAGE_TYPES:
            raise FetchFailed(url, f"served as {fetched.content_type} but is not an RSS or Atom "
                                   "feed (nor a web page)")
        if parsed is None:
            batch.add(page_article(fetched, url))
            continue
        feed, articles, skipped = read_feed(url, fetched, parsed, settings,
                                            allow_private=allow_private)
        batch.feeds.append(feed)
        batch.skipped += skipped
        for article in articles:
            batch.add(article)
    return batch


def ingest_sources(paths: Sequence[Path], urls: Sequence[str], settings: Settings,
                   embedder: Embedder, *, allow_private: bool, rebuild: bool = False,
                   on_progress: ProgressFn | None = None,
                   workers: Workers | None = None) -> tuple[IngestReport, list[Feed]]:
    """Files, folders and URLs in one transaction; the feeds among the URLs are followed once
    their articles are written. URLs are fetched first, so a failing one costs no parsing."""
    from rag.ingest.feeds import follow

    batch = read_urls(urls, settings, allow_private=allow_private)
    workers = workers or LocalWorkers(settings, embedder)
    loaded, skipped = workers.load(list(paths)) if paths else ([], [])
    known = {a.doc_id for a in loaded}
    loaded += [a for a in batch.articles if a.doc_id not in known]
    skipped += batch.skipped
    if loaded or skipped or rebuild:
        report = ingest_articles(loaded, skipped, settings, embedder,
                                 synced=[p for p in paths if p.is_dir()], rebuild=rebuild,
                                 on_progress=on_progress, workers=workers)
    else:  # only feeds with no entries yet: followed, nothing to write
        report = report_without_changes(settings, skipped)
    follow(settings, batch.feeds)
    return report, batch.feeds


def ingest_urls(urls: Sequence[str], settings: Settings, embedder: Embedder, *,
                allow_private: bool, on_progress: ProgressFn | None = None) -> IngestReport:
    """Pages and feeds by URL (feeds are followed): the library call behind `rag ingest URL`
    and the server's URL ingest. The server passes `settings.allow_private_urls`."""
    return ingest_sources([], urls, settings, embedder, allow_private=allow_private,
                          on_progress=on_progress)[0]


def report_without_changes(settings: Settings, skipped: list[Skipped]) -> IngestReport:
    """A report for a run that wrote nothing, with the index's counts as they are."""
    from rag.store.factory import read_listing

    try:
        manifest = read_listing(settings)
        articles, chunks = len(manifest.articles), manifest.chunks
    except IndexMissing:
        articles = chunks = 0
    return IngestReport(skipped=list(skipped), articles=articles, chunks=chunks)
