"""The followed feeds, kept in `<index>/feeds.json`: each feed's record, read and changed under a
lock across processes, replaced atomically.

Writers race: `rag feeds update` beside a server refreshing the same feeds, or `rag feeds remove`
while an update is fetching. So a record read at the start of an update is only written back at
its end if its feed is still followed (`record_updates`), and of two records of one feed the one
checked later stays, whoever writes last.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from rag.errors import BadInput, IndexCorrupt
from rag.settings import Settings
from rag.store.files import fsync_file

REGISTRY = "feeds.json"
REGISTRY_VERSION = 1  # `pending` was added without a version change: older files read as before


@dataclass
class PendingEntry:
    """A feed entry whose page could not be fetched: its page is asked for again on every update,
    even when the feed itself answers 304, until it comes."""
    stamp: str  # the entry's updated (else published) stamp
    title: str = ""
    date: str | None = None
    author: str | None = None
    fallback: str | None = None  # doc id of the entry's own text, indexed in the page's stead


@dataclass
class Feed:
    """A followed feed, as `rag feeds` shows it."""
    url: str  # as the user gave it
    title: str = ""
    etag: str | None = None
    last_modified: str | None = None
    last_checked: str | None = None  # ISO 8601, UTC
    last_status: str = ""  # "200: 3 new or changed entries", "304: not modified", "failed: ..."
    entries: int = 0  # entries in the feed when last read
    seen: dict[str, str] = field(default_factory=dict)  # entry page URL -> its updated stamp
    pending: dict[str, PendingEntry] = field(default_factory=dict)  # entry page URL -> entry


def registry_path(settings: Settings) -> Path:
    return Path(settings.index) / REGISTRY


def followed_feeds(settings: Settings) -> list[Feed]:
    """The followed feeds, in the order they were first followed."""
    path = registry_path(settings)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [_feed(item) for item in data["feeds"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorrupt(f"{path}: the list of followed feeds cannot be read ({exc}); fix it, "
                           "or delete it and ingest the feeds again") from None


def follow(settings: Settings, feeds: list[Feed]) -> None:
    """Add feeds to the followed ones, or refresh the records of feeds followed already."""
    _merge(settings, feeds, add=True)


def record_updates(settings: Settings, records: list[Feed]) -> None:
    """Write back what an update found, for the feeds still followed: a feed removed while the
    update ran stays removed."""
    _merge(settings, records, add=False)


def remove_feed(settings: Settings, url: str) -> Feed:
    """Stop following a feed; the articles already read from it stay in the index."""
    with _registry_lock(settings):
        feeds = followed_feeds(settings)
        kept = [f for f in feeds if f.url != url]
        if len(kept) == len(feeds):
            raise BadInput(f"not a followed feed: {url} (see: rag feeds)")
        _save(settings, kept)
    return next(f for f in feeds if f.url == url)


def _merge(settings: Settings, feeds: list[Feed], *, add: bool) -> None:
    if not feeds:
        return
    with _registry_lock(settings):
        records = {f.url: f for f in followed_feeds(settings)}
        for feed in feeds:
            current = records.get(feed.url)
            if current is None and not add:
                continue
            if current is None or (feed.last_checked or "") >= (current.last_checked or ""):
                records[feed.url] = feed
        _save(settings, list(records.values()))


def _feed(item: dict) -> Feed:
    names = {f.name for f in fields(Feed)} - {"pending"}
    entry_names = {f.name for f in fields(PendingEntry)}
    pending = {link: PendingEntry(**{k: v for k, v in entry.items() if k in entry_names})
               for link, entry in (item.get("pending") or {}).items()}
    return Feed(**{k: v for k, v in item.items() if k in names}, pending=pending)


@contextmanager
def _registry_lock(settings: Settings) -> Iterator[None]:
    """One read-modify-write of the list at a time across processes (`rag feeds update` beside
    a server refreshing the same feeds), so that neither loses the other's record."""
    path = registry_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{REGISTRY}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _save(settings: Settings, feeds: list[Feed]) -> None:
    """Write the whole list to a temporary file, flush it to disk, then rename it over the old
    one: a crash leaves the old list or the new one, never half of either."""
    path = registry_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{REGISTRY}.{os.getpid()}.tmp")
    data = {"version": REGISTRY_VERSION, "feeds": [asdict(f) for f in feeds]}
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_file(path.parent)
