"""Keep the index in step with a folder: what is dropped in or changed is ingested, what is
deleted or moved out is removed, seconds later.

A file is read only once it has settled: no event for `settings.watch_debounce` seconds and the
same size and mtime at both ends of that time, checked again after reading, so a file still being
written (or copied, or downloaded) is never indexed half-way. Dot files, dot folders and Word's
`~$x` locks are never read; a download or working copy under a name of its own (`x.txt.part`,
`x.crdownload`, `x.tmp`) has no article suffix, so it is ignored like any other file until
renamed to `x.txt`. What settles together is written in one transaction (`rag.ingest.indexer`).

`Watcher` runs without a terminal (the CLI's `rag watch` wraps it; tests and a server can drive
it): `start()` syncs the folder and starts watching, `wait_idle()` waits until nothing known is
pending, `stop()` ends it. Changes go to `on_change`, problems to `on_warning`; a file gone or
unreadable when read, or a failed batch, never stops the watching. The folder vanishing does, as
would a bug in the watcher: `failure` then says why in one line and `running()` turns False.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchdog.observers import Observer

from rag.errors import BadInput, IndexBusy, IndexMissing, RagError
from rag.ingest.indexer import IngestReport, ingest_articles, remove_articles, unchanged_report
from rag.ingest.sources import SUPPORTED_SUFFIXES, collect_articles, try_load_article
from rag.ingest.watch_events import (TEMPORARY_PREFIXES, Stat, WatchEvents, cannot_watch,
                                     check_folder, file_stat)
from rag.models.embedding import Embedder
from rag.settings import Settings
from rag.store.factory import read_listing
from rag.types import Article, ArticleEntry, ProgressFn, Skipped, is_web_source

@dataclass
class _Pending:
    stat: Stat
    due: float  # monotonic time after which it may be read, if its stat has not moved


class Watcher:
    """Watches one folder (and its subfolders) and writes what changes into the index."""

    def __init__(self, folder: Path, settings: Settings, embedder: Embedder, *,
                 on_change: Callable[[IngestReport], None] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> None:
        self.folder = check_folder(folder)
        self.settings = settings
        self.embedder = embedder
        self.on_change = on_change or (lambda report: None)
        self.on_warning = on_warning or (lambda message: None)
        self.debounce = settings.watch_debounce
        self.retry_after = max(2 * self.debounce, 1.0)
        self.gather = 4 * self.debounce
        self.failure: RagError | None = None  # why it stopped on its own (`running()` is False)
        self._index_folder = settings.index.resolve()
        self._pending: dict[Path, _Pending] = {}
        self._working = False
        self._stopping = False
        self._cond = threading.Condition()
        self._observer: Observer | None = None
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()  # set when the watching thread has left its loop

    def start(self, on_progress: ProgressFn | None = None) -> IngestReport | None:
        """Sync the folder (new, changed and removed files, as `rag ingest FOLDER`), then watch
        it. Events from the start of the sync on are kept, so nothing slips between the two. The
        sync's report is returned (None when the index was busy: it is synced again later)."""
        self._observer = Observer()
        self._observer.schedule(WatchEvents(self), str(self.folder), recursive=True)
        try:
            self._observer.start()  # one inotify watch per folder, added here
        except OSError as exc:
            raise cannot_watch(self.folder, exc) from None
        try:
            report = self._sync(on_progress)
        except BaseException:
            self._observer.stop()
            raise
        self._thread = threading.Thread(target=self._run, name="rag-watch", daemon=True)
        self._thread.start()
        return report

    def stop(self) -> None:
        """Stop watching; a batch being written is finished first (writes are transactions, so
        even an abandoned one would leave the index as it was)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def running(self) -> bool:
        """Polled by `rag watch` until Ctrl-C. Not `Thread.is_alive()`: on Python 3.11 a
        KeyboardInterrupt landing inside it marks the live thread as ended, so the `join` in
        `stop()` returns at once and the interpreter shuts down under a thread still working."""
        return self._thread is not None and not self._ended.is_set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no change the watcher knows of is pending or being written; False on
        timeout. An event reaches the watcher a few milliseconds after the file system sees it."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._stopping or not (self._pending or self._working), timeout)

    def watches(self, path: Path, *, directory: bool = False) -> bool:
        """Whether `path` is one of the watched article files (or folders holding them): not a
        temporary name, not the index itself."""
        try:
            parts = path.relative_to(self.folder).parts
        except ValueError:
            return False
        if (any(part.startswith(TEMPORARY_PREFIXES) for part in parts)
                or path.is_relative_to(self._index_folder)):
            return False
        return directory or path.suffix.lower() in SUPPORTED_SUFFIXES

    def note(self, path: Path, delay: float | None = None) -> None:
        """Something happened at `path`: look at it again once it has been quiet a while."""
        with self._cond:
            due = time.monotonic() + (delay or self.debounce)
            self._pending[path] = _Pending(file_stat(path), due)
            self._cond.notify_all()

    def _files_under(self, folder: Path) -> list[Path]:
        """The watched files; os.walk passes over a subfolder that vanishes while it walks."""
        files = [Path(top, name) for top, _, names in os.walk(folder) for name in names]
        return sorted(p for p in files if self.watches(p) and p.is_file())

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._stopping:
                        return
                    ready, wait = self._take_ready()
                    if not ready:
                        self._cond.notify_all()  # whoever waits for idle
                        self._cond.wait(wait)
                        continue
                try:
                    self._process(ready)
                except Exception as exc:  # one bad batch must not end the watching
                    self.on_warning(f"could not update the index: {type(exc).__name__}: {exc}")
                finally:
                    with self._cond:
                        self._working = False
                        self._cond.notify_all()
        except BaseException as exc:  # a bug in the watcher: one line, not a silent end
            self.failure = RagError(f"stopped watching {self.folder} on an unexpected error "
                                    f"({type(exc).__name__}: {' '.join(str(exc).split())})")
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
        finally:
            self._ended.set()

    def _take_ready(self) -> tuple[dict[Path, Stat], float | None]:
        """The pending paths that have settled, and how long to wait before looking again.
        Called with the lock held. Files that change together are written together: a settled
        file waits for the others still changing, up to `gather` seconds."""
        now = time.monotonic()
        for path, entry in self._pending.items():
            if entry.due <= now and (stat := file_stat(path)) != entry.stat:
                entry.stat, entry.due = stat, now + self.debounce  # changed with no event (yet)
        dues = [entry.due for entry in self._pending.values()]
        if not dues:
            return {}, None
        first, last = min(dues), max(dues)
        if last > now and first + self.gather > now:
            return {}, max(min(last, first + self.gather) - now, 0.01)
        ready = {path: entry.stat for path, entry in self._pending.items() if entry.due <= now}
        for path in ready:
            del self._pending[path]
        self._working = bool(ready)
        return ready, None

    def _process(self, ready: dict[Path, Stat]) -> None:
        if not self.folder.is_dir():
            # an unmounted or renamed folder is no reason to empty the index: stop instead
            self.failure = BadInput(f"{self.folder}: the folder is gone; stopped watching "
                                    "(its articles stay in the index)")
            with self._cond:
                self._stopping = True
            return
        try:
            report = self._apply(*collect_articles(self._read(ready)))
        except IndexBusy as exc:
            self.on_warning(f"{exc}; trying again in {self.retry_after:.0f} s")
            for path in ready:
                self.note(path, self.retry_after)
            return
        except RagError as exc:
            self.on_warning(str(exc))
            return
        if report is not None and report.changed:
            self.on_change(report)

    def _read(self, ready: dict[Path, Stat]) -> list[Article | Skipped]:
        """The settled files read; one that changed or went while read is looked at later."""
        results: list[Article | Skipped] = []
        for path, stat in ready.items():
            if stat is None:
                continue
            if path.is_dir():
                for file in self._files_under(path):
                    self.note(file)
                continue
            result = try_load_article(path)
            if file_stat(path) != stat:
                self.note(path)
                continue
            results.append(result)
        return results

    def _sync(self, on_progress: ProgressFn | None) -> IngestReport | None:
        files = {file: file_stat(file) for file in self._files_under(self.folder)}
        try:
            return self._apply(*collect_articles(self._read(files)), on_progress=on_progress)
        except IndexBusy as exc:
            self.on_warning(f"{exc}; syncing {self.folder} again in {self.retry_after:.0f} s")
            self.note(self.folder, self.retry_after)
            return None

    def _apply(self, loaded: list[Article], skipped: list[Skipped], *,
               on_progress: ProgressFn | None = None) -> IngestReport | None:
        """Write one batch: what was read, and the removal of articles whose files under the
        folder are gone; None when there was nothing to write."""
        try:
            listing = read_listing(self.settings).articles
        except IndexMissing:
            listing = {}
        loaded, skipped = self._unique(loaded, skipped, listing)
        for item in skipped:
            self.on_warning(f"skipped {item.path}: {item.reason}")
        if loaded:
            return ingest_articles(loaded, skipped, self.settings, self.embedder,
                                   synced=[self.folder], on_progress=on_progress)
        gone = [doc_id for doc_id, entry in listing.items() if self._gone(entry.source)]
        if gone:
            return remove_articles(gone, self.settings)
        return unchanged_report(self.settings, skipped)

    def _gone(self, source: str) -> bool:
        if is_web_source(source):
            return False
        path = Path(source).resolve()
        return path.is_relative_to(self.folder) and not path.exists()

    def _unique(self, loaded: Iterable[Article], skipped: list[Skipped],
                listing: dict[str, ArticleEntry]) -> tuple[list[Article], list[Skipped]]:
        """A file named like another one in the folder that the index already holds is
        skipped, as `rag ingest` skips the second of two such files: doc ids come from names."""
        kept: list[Article] = []
        for article in loaded:
            entry = listing.get(article.doc_id)
            other = Path(entry.source).resolve() if entry and not is_web_source(entry.source) else None
            if (other is not None and other != Path(article.source).resolve()
                    and other.is_relative_to(self.folder) and other.exists()):
                skipped.append(Skipped(article.source, f"same name as {entry.source}; doc ids "
                                                       "come from file names and must be unique"))
            else:
                kept.append(article)
        return kept, skipped
