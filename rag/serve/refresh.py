"""Feeds kept fresh while the server runs (`rag serve --refresh MINUTES`).

One daemon thread refreshes through the shelf, so a refresh takes its turn with uploads and never
overlaps another; the next one is timed from the end of the last, so a slow feed cannot make
refreshes pile up. A failure (a feed that is down, the network gone) is one warning line in the
log and in `Shelf.last_feed_refresh`; the thread carries on and tries again next time.
"""

from __future__ import annotations

import logging
import threading

from rag.serve.shelf import Shelf

log = logging.getLogger(__name__)


class Refresher:
    """Refreshes the shelf's feeds at once, then every `interval` seconds, until `stop`."""

    def __init__(self, shelf: Shelf, interval: float) -> None:
        if interval <= 0:
            raise ValueError("the refresh interval must be positive")
        self.shelf = shelf
        self.interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def every(cls, shelf: Shelf, minutes: float) -> Refresher:
        return cls(shelf, minutes * 60)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this refresher has already been started")
        self._thread = threading.Thread(target=self._run, name="rag-feed-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30) -> None:
        """Ask the thread to end and wait for it: a refresh under way finishes first (its ingest
        is one transaction either way); past `timeout` the daemon thread is left to the process."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the feed refresh still running after %s s is left to finish on its "
                            "own", timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.refresh_once()
            self._stopping.wait(self.interval)

    def refresh_once(self) -> None:
        """One refresh, its failure logged as one line rather than raised."""
        try:
            self.shelf.update_feeds()
        except Exception:  # noqa: BLE001 - any failure is the next attempt's to retry
            pass
        last = self.shelf.last_feed_refresh
        if last is None or not last.ok:
            log.warning("feed refresh: %s", last.line if last else "failed")
        else:
            log.info("feed refresh: %s", last.line)
