"""The articles a running server manages: list, read, add uploads and web pages, follow feeds.

The browser UI, the HTTP API and the feed refresher all change the index through one `Shelf`, so
an upload gets the same limits and file-name sanitising whichever way it came, in-process writers
take turns instead of failing on the index's write lock, and the assistant picks up each new
generation at once. Web pages and feeds are fetched before the shelf's write lock is taken, and
the lock held only to write, so a slow site never holds up an upload, a removal or another
refresh. Web addresses are fetched with the server's guard against addresses on this machine or
its network (`RAG_ALLOW_PRIVATE_URLS`), since whoever may add a URL could otherwise make the
server read what only it can reach.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.errors import BadInput, IndexMissing, RagError
from rag.ingest.by_url import FeedsUpdate, check_feeds, read_urls, write_batch, write_check
from rag.ingest.feed_registry import Feed, followed_feeds
from rag.ingest.feeds import now_utc
from rag.ingest.indexer import IngestReport, ingest_articles, remove_articles
from rag.ingest.sources import load_articles
from rag.serve.uploads import Upload, checked_names
from rag.store.factory import read_listing
from rag.types import Article, ArticleEntry, ProgressFn, Skipped, is_web_source

MAX_URLS = 20


@dataclass(frozen=True)
class FeedRefresh:
    """How the last feed refresh went, for a status line."""
    at: str  # when it ended: ISO 8601, UTC, to the second
    ok: bool
    line: str  # its summary, or why it failed


class Shelf:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.uploads = assistant.settings.index / "uploads"
        self.last_feed_refresh: FeedRefresh | None = None
        self._writing = threading.Lock()

    @property
    def _allow_private(self) -> bool:
        return self.assistant.settings.allow_private_urls

    # -- reading -------------------------------------------------------------------------------

    def articles(self) -> list[ArticleEntry]:
        """Newest first; an index not built yet holds nothing."""
        try:
            manifest = read_listing(self.assistant.settings)
        except IndexMissing:
            return []
        return sorted(manifest.articles.values(), key=lambda e: (e.date or "", e.doc_id),
                      reverse=True)

    def article(self, doc_id: str) -> Article | None:
        """The whole article as indexed (text, URL, author, page starts), for a reader to open."""
        try:
            return self.assistant.index.article(doc_id)
        except IndexMissing:
            return None

    def feeds(self) -> list[Feed]:
        return followed_feeds(self.assistant.settings)

    # -- writing -------------------------------------------------------------------------------

    def add(self, files: Sequence[Upload], on_progress: ProgressFn | None = None) -> IngestReport:
        """Check every file before any is saved, so a bad one in a batch adds nothing; a batch
        the ingest refuses leaves the upload folder as it was. A file that cannot be read (a
        scanned PDF, an encrypted one) comes back in `skipped` under its name, with the reason."""
        targets = [self.uploads / name for name in checked_names(files)]
        with self._writing:
            self.uploads.mkdir(parents=True, exist_ok=True)
            earlier = {t: t.read_bytes() for t in targets if t.is_file()}
            try:
                for file, target in zip(files, targets):
                    target.write_bytes(file.content)
                loaded, skipped = load_articles(targets)
                skipped = [Skipped(Path(s.path).name, s.reason) for s in skipped]
                if not loaded:
                    raise BadInput("no readable article among the uploads: "
                                   + "; ".join(f"{s.path}: {s.reason}" for s in skipped))
                report = ingest_articles(loaded, skipped, self.assistant.settings,
                                         self.assistant.embedder, on_progress=on_progress)
            except BaseException:
                _restore(targets, earlier)  # the files on disk stay those the index was built from
                raise
            self.assistant.reload_index()
        return report

    def add_urls(self, urls: Sequence[str], on_progress: ProgressFn | None = None) -> IngestReport:
        """Fetch web pages (and every entry of a feed, which is then followed); one address that
        fails adds nothing, a feed entry that fails comes back in `skipped`."""
        urls = [u.strip() for u in urls if u.strip()]
        if not urls:
            raise BadInput("no URLs given; add one or more http(s) addresses of pages or feeds")
        if len(urls) > MAX_URLS:
            raise BadInput(f"{len(urls)} URLs at once; the limit is {MAX_URLS}")
        settings = self.assistant.settings
        batch = read_urls(urls, settings, allow_private=self._allow_private)  # no lock held
        with self._writing:
            report = write_batch(batch, settings, self.assistant.embedder,
                                 on_progress=on_progress)
            if report.changed:
                self.assistant.reload_index()
        return report

    def update_feeds(self, on_progress: ProgressFn | None = None) -> FeedsUpdate:
        """Fetch every followed feed (a feed unchanged since the last look costs one request and
        no embedding) and add its new entries; the result, or the failure, becomes
        `last_feed_refresh` either way."""
        settings = self.assistant.settings
        try:
            check = check_feeds(settings, allow_private=self._allow_private)  # no lock held
            with self._writing:
                update = write_check(check, settings, self.assistant.embedder,
                                     on_progress=on_progress)
                if update.report.changed:  # an unchanged feed leaves the loaded index as it is
                    self.assistant.reload_index()
        except RagError as exc:
            self.last_feed_refresh = FeedRefresh(now_utc(), False, f"failed: {exc}")
            raise
        except Exception as exc:
            self.last_feed_refresh = FeedRefresh(now_utc(), False,
                                                 f"failed: {type(exc).__name__}: {exc}")
            raise
        self.last_feed_refresh = FeedRefresh(now_utc(), not update.failed, update_line(update))
        return update

    def remove(self, doc_id: str) -> IngestReport:
        """Drop an article; an uploaded one loses its file too, else the next upload would bring
        it back."""
        with self._writing:
            entry = next((e for e in self.articles() if e.doc_id == doc_id), None)
            report = remove_articles([doc_id], self.assistant.settings)
            if entry is not None and not is_web_source(entry.source):
                source = Path(entry.source).resolve()
                if source.parent == self.uploads.resolve():
                    source.unlink(missing_ok=True)
            self.assistant.reload_index()
        return report


def update_line(update: FeedsUpdate) -> str:
    """One line for a status bar or a log: feeds checked and failed, articles added."""
    if not update.lines:
        return "no feeds followed"
    checked = f"{len(update.lines)} feed{'s' if len(update.lines) != 1 else ''} checked"
    failed = f", {len(update.failed)} failed ({', '.join(update.failed)})" if update.failed else ""
    report = update.report
    return (f"{checked}{failed}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{sum(not s.kept for s in report.skipped)} skipped")


def _restore(targets: Sequence[Path], earlier: dict[Path, bytes]) -> None:
    for target in targets:
        if target in earlier:
            target.write_bytes(earlier[target])
        else:
            target.unlink(missing_ok=True)
