"""Pages and feeds by URL into the index: everything fetched first, then written at once.

`rag ingest URL ...`, `rag feeds update` and the server's URL ingest and feed refresh all come
through here, in two halves, so that a server fetches (seconds, or minutes for a feed of many
entries) without holding its writer's lock and takes it only to write (`rag.serve.shelf`):

- `read_urls`, then `write_batch`: the pages and feeds a user names. Every URL is fetched before
  the index is opened: one that fails raises `FetchFailed` naming it, and nothing is written.
- `check_feeds`, then `write_check`: every followed feed asked again; a feed that fails is
  reported, and the others go on.

The index is written before the feeds' records, so a failure in between leaves a pending entry
pending (asked for again next time) rather than recorded as read. A fallback article that an
entry's page now supersedes (`FeedRead.retired`) is removed in the same transaction as the page
is added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.errors import BadInput
from rag.ingest.feed_registry import Feed, follow, followed_feeds, record_updates
from rag.ingest.feeds import FeedRead, PageFn, check_feed, now_utc, parse_feed, read_feed
from rag.ingest.fetching import FEED_TYPES, PAGE_TYPES, FetchFailed, fetch
from rag.ingest.indexer import (
    IngestReport,
    LocalWorkers,
    Workers,
    ingest_articles,
    unchanged_report,
)
from rag.ingest.web import page_article
from rag.models.embedding import Embedder
from rag.settings import Settings
from rag.types import Article, ProgressFn, Skipped


@dataclass
class WebBatch:
    """What URLs gave, not yet written: articles (one per doc id), entries skipped, the feeds'
    records, and fallback articles to retire."""
    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    feeds: list[Feed] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    def add(self, article: Article) -> None:
        """Keep the first article of each doc id: two links to one canonical page are one."""
        if all(a.doc_id != article.doc_id for a in self.articles):
            self.articles.append(article)

    def take(self, read: FeedRead) -> None:
        self.feeds.append(read.feed)
        self.skipped += read.skipped
        self.retired += read.retired
        for article in read.articles:
            self.add(article)


@dataclass
class FeedsCheck:
    """Every followed feed asked again, not yet written."""
    batch: WebBatch
    statuses: dict[str, str]  # feed URL -> what asking it gave (its record's `last_status`)
    failures: dict[str, str]  # feed URL -> why it could not be read


@dataclass
class FeedsUpdate:
    statuses: dict[str, str]  # one per followed feed: what its update did
    report: IngestReport
    failures: dict[str, str] = field(default_factory=dict)  # feeds that could not be updated

    @property
    def lines(self) -> list[str]:
        return [f"{url}: {status}" for url, status in self.statuses.items()]

    @property
    def failed(self) -> list[str]:
        return list(self.failures)


# ---------------------------------------------------------------------------------------------
# pages and feeds a user names


def read_urls(urls: Sequence[str], settings: Settings, *, allow_private: bool,
              on_page: PageFn | None = None) -> WebBatch:
    """Fetch every URL, a page or a feed (told apart by content type and by what feedparser
    makes of it, not by how the URL looks). A URL that fails raises; a feed entry whose page
    fails is read from the feed instead, or skipped, with a warning in `skipped`."""
    followed = {f.url: f for f in followed_feeds(settings)} if urls else {}
    batch = WebBatch()
    for url in urls:
        if on_page is not None:
            on_page(url)
        fetched = fetch(url, settings, allow_private=allow_private, accept=PAGE_TYPES | FEED_TYPES)
        parsed = parse_feed(fetched)
        if parsed is None and fetched.content_type not in PAGE_TYPES:
            raise FetchFailed(url, f"served as {fetched.content_type} but is not an RSS or Atom "
                                   "feed (nor a web page)")
        if parsed is None:
            batch.add(page_article(fetched, url))
            continue
        earlier = followed.get(url)
        batch.take(read_feed(url, fetched, parsed, settings, allow_private=allow_private,
                             pending=earlier.pending if earlier else None, on_page=on_page))
    return batch


def write_batch(batch: WebBatch, settings: Settings, embedder: Embedder, *,
                loaded: Sequence[Article] = (), skipped: Sequence[Skipped] = (),
                synced: Sequence[Path] = (), rebuild: bool = False,
                on_progress: ProgressFn | None = None,
                workers: Workers | None = None) -> IngestReport:
    """The batch's articles, with files' (`loaded`, `skipped`, `synced` as for
    `ingest_articles`), in one transaction; then the batch's feeds are followed."""
    known = {a.doc_id for a in loaded}
    articles = [*loaded, *(a for a in batch.articles if a.doc_id not in known)]
    skipped = [*skipped, *batch.skipped]
    if articles or skipped or rebuild:
        report = ingest_articles(articles, skipped, settings, embedder, synced=synced,
                                 remove=batch.retired, rebuild=rebuild, on_progress=on_progress,
                                 workers=workers)
    else:  # only feeds with no entries yet: followed, nothing to write
        report = unchanged_report(settings, skipped)
    follow(settings, batch.feeds)
    return report


def ingest_sources(paths: Sequence[Path], urls: Sequence[str], settings: Settings,
                   embedder: Embedder, *, allow_private: bool, rebuild: bool = False,
                   on_progress: ProgressFn | None = None, on_page: PageFn | None = None,
                   workers: Workers | None = None) -> tuple[IngestReport, list[Feed]]:
    """Files, folders and URLs in one transaction; the feeds among the URLs are followed once
    their articles are written. URLs are fetched first, so a failing one costs no parsing."""
    batch = read_urls(urls, settings, allow_private=allow_private, on_page=on_page)
    workers = workers or LocalWorkers(settings, embedder)
    loaded, skipped = workers.load(list(paths)) if paths else ([], [])
    report = write_batch(batch, settings, embedder, loaded=loaded, skipped=skipped,
                         synced=[p for p in paths if p.is_dir()], rebuild=rebuild,
                         on_progress=on_progress, workers=workers)
    return report, batch.feeds


def ingest_urls(urls: Sequence[str], settings: Settings, embedder: Embedder, *,
                allow_private: bool, on_progress: ProgressFn | None = None) -> IngestReport:
    """Pages and feeds by URL (feeds are followed), read and written in one call. The server
    passes `settings.allow_private_urls`."""
    batch = read_urls(urls, settings, allow_private=allow_private)
    return write_batch(batch, settings, embedder, on_progress=on_progress)


# ---------------------------------------------------------------------------------------------
# the followed feeds


def check_feeds(settings: Settings, *, allow_private: bool,
                on_page: PageFn | None = None) -> FeedsCheck:
    """Ask every followed feed for what is new (and for its pending entries' pages); a feed
    that fails keeps its record, marked failed, and the others go on."""
    check = FeedsCheck(WebBatch(), {}, {})
    for feed in followed_feeds(settings):
        try:
            if on_page is not None:
                on_page(feed.url)
            read = check_feed(feed, settings, allow_private=allow_private, on_page=on_page)
        except BadInput as exc:
            reason = exc.reason if isinstance(exc, FetchFailed) else str(exc)
            read = FeedRead(replace(feed, last_checked=now_utc(), last_status=f"failed: {reason}"))
            check.failures[feed.url] = reason
        check.batch.take(read)
        check.statuses[feed.url] = read.feed.last_status
    return check


def write_check(check: FeedsCheck, settings: Settings, embedder: Embedder, *,
                on_progress: ProgressFn | None = None) -> FeedsUpdate:
    """The new and changed entries in one transaction, then the records of the feeds still
    followed (one removed meanwhile stays removed)."""
    batch = check.batch
    if batch.articles:
        report = ingest_articles(batch.articles, batch.skipped, settings, embedder,
                                 remove=batch.retired, on_progress=on_progress)
    else:
        report = unchanged_report(settings, batch.skipped)
    record_updates(settings, batch.feeds)
    return FeedsUpdate(statuses=check.statuses, report=report, failures=check.failures)


def update_feeds(settings: Settings, embedder: Embedder, *, allow_private: bool,
                 on_progress: ProgressFn | None = None,
                 on_page: PageFn | None = None) -> FeedsUpdate:
    """`check_feeds` then `write_check`: `rag feeds update`."""
    check = check_feeds(settings, allow_private=allow_private, on_page=on_page)
    return write_check(check, settings, embedder, on_progress=on_progress)
