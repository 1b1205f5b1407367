"""RSS (0.9x, 1.0, 2.0) and Atom feeds: read one into articles, follow it, update what is followed.

Each entry's linked page is fetched and read like any page (`rag.ingest.web`); when the page
cannot be fetched, the entry's own content (or summary) is indexed instead, with a warning.

Followed feeds are kept in `<index>/feeds.json`, replaced atomically. An update asks each feed
conditionally (If-None-Match / If-Modified-Since), so an unchanged feed costs one small request
and ingests nothing. In a changed feed, an entry's page is fetched again only when the entry is
new or *changed*: its link was not seen in the feed before, or its `updated` stamp (else its
`published` one) differs from the one recorded. An entry whose page could not be fetched is not
recorded, so the next update tries its page again.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urljoin

from rag.errors import BadInput, IndexCorrupt
from rag.ingest.cleaning import clean
from rag.ingest.fetching import FEED_TYPES, PAGE_TYPES, Fetched, FetchFailed, fetch
from rag.ingest.indexer import IngestReport, ingest_articles
from rag.ingest.web import doc_id_for, page_article, report_without_changes
from rag.models.embedding import Embedder
from rag.settings import Settings
from rag.store.files import fsync_file
from rag.types import Article, ProgressFn, Skipped

REGISTRY = "feeds.json"
REGISTRY_VERSION = 1


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


@dataclass
class FeedsUpdate:
    lines: list[str]  # one per followed feed: what its update did
    report: IngestReport
    failed: list[str] = field(default_factory=list)  # URLs of the feeds that could not be updated


# ---------------------------------------------------------------------------------------------
# reading a feed


def parse_feed(fetched: Fetched):
    """feedparser's reading of a fetched document, or None when it is no RSS or Atom feed. An
    HTML-typed document is only tried when it opens like a feed (some servers mislabel them)."""
    import feedparser

    head = fetched.body[:1024].lstrip().lower()
    if fetched.content_type in PAGE_TYPES and not re.search(rb"<(rss|feed|rdf:rdf)\b", head):
        return None
    parsed = feedparser.parse(io.BytesIO(fetched.body),  # a stream: never a URL or file name
                              response_headers={"content-type": fetched.content_type,
                                                "content-location": fetched.url})
    return parsed if parsed.get("version") else None


def read_feed(url: str, fetched: Fetched, parsed, settings: Settings, *, allow_private: bool,
              previous: Feed | None = None) -> tuple[Feed, list[Article], list[Skipped]]:
    """The feed's record and the articles of its entries; with `previous`, only the entries
    new or changed since then are fetched and returned."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    known = previous.seen if previous else {}
    for entry in parsed.entries:
        link = _entry_link(entry, fetched.url)
        title = " ".join(str(entry.get("title") or "").split())
        if not link:
            skipped.append(Skipped(f"{url} entry {title or '(untitled)'!r}", "no link to a page"))
            continue
        stamp = str(_field(entry, "updated") or _field(entry, "published") or "")
        if link in known and known[link] == stamp:
            seen[link] = stamp
            continue
        day, author = _entry_date(entry), str(entry.get("author") or "").strip() or None
        try:
            page = fetch(link, settings, allow_private=allow_private, accept=PAGE_TYPES)
            articles.append(page_article(page, link, title=title, date=day, author=author))
            seen[link] = stamp
        except FetchFailed as exc:
            fallback = _entry_article(entry, link, title=title, date=day, author=author)
            if fallback is None:
                skipped.append(Skipped(link, f"page not fetched ({exc.reason}), and the feed "
                                             "gives no text for it"))
            else:
                articles.append(fallback)
                skipped.append(Skipped(link, f"page not fetched ({exc.reason}); indexed the "
                                             "feed entry's own text instead", kept=True))
    feed = Feed(url=url, title=" ".join(str(parsed.feed.get("title") or "").split()),
                etag=fetched.etag, last_modified=fetched.last_modified, last_checked=_now(),
                last_status=f"{fetched.status}: {_count(len(articles), 'new or changed entry')}",
                entries=len(parsed.entries), seen=seen)
    return feed, articles, skipped


def _entry_link(entry, base: str) -> str | None:
    link = str(entry.get("link") or "").strip()
    if not link and str(entry.get("id") or "").startswith(("http://", "https://")):
        link = entry["id"]  # an Atom entry may name its page only by its id
    return urljoin(base, link) if link else None


def _field(entry, name: str):
    """An entry's own field: feedparser's `get` answers `updated` with `published` (warning)."""
    return dict.get(entry, name)


def _entry_date(entry) -> str | None:
    stamp = _field(entry, "published_parsed") or _field(entry, "updated_parsed")
    return date(*stamp[:3]).isoformat() if stamp else None


def _entry_article(entry, link: str, *, title: str, date: str | None,
                   author: str | None) -> Article | None:
    """The entry's own text (its content, else its summary), HTML cleaned, as an article."""
    contents = entry.get("content") or []
    html = (contents[0].get("value") if contents else "") or entry.get("summary") or ""
    text, title, date = clean(html_text(html), title=title, date=date)
    if not text.strip():
        return None
    return Article(doc_id=doc_id_for(link), title=title or link, date=date, source=link,
                   text=text, url=link, author=author)


_BLOCKS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr",
           "section", "article", "figcaption")


def html_text(fragment: str) -> str:
    """The words of an HTML fragment (feedparser has already sanitised it), a paragraph a line."""
    import lxml.etree
    import lxml.html

    try:
        tree = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return ""  # nothing but white space or comments
    for element in tree.iter("script", "style"):
        element.text = ""
    for element in tree.iter("br"):
        element.tail = "\n" + (element.tail or "")
    for element in tree.iter(*_BLOCKS):
        element.tail = "\n\n" + (element.tail or "")
    return "\n".join(" ".join(line.split()) for line in tree.text_content().split("\n"))


def _count(n: int, what: str) -> str:
    if n == 1:
        return f"{n} {what}"
    return f"{n} {what[:-1]}ies" if what.endswith("y") else f"{n} {what}s"


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------------------------
# the followed feeds


def registry_path(settings: Settings) -> Path:
    return Path(settings.index) / REGISTRY


def followed_feeds(settings: Settings) -> list[Feed]:
    """The followed feeds, in the order they were first followed."""
    path = registry_path(settings)
    if not path.exists():
        return []
    names = {f.name for f in fields(Feed)}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Feed(**{k: v for k, v in item.items() if k in names}) for item in data["feeds"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorrupt(f"{path}: the list of followed feeds cannot be read ({exc}); fix it, "
                           "or delete it and ingest the feeds again") from None


def follow(settings: Settings, feeds: list[Feed]) -> None:
    """Add feeds to the followed ones, or refresh the records of feeds followed already."""
    if not feeds:
        return
    with _registry_lock(settings):
        records = {f.url: f for f in followed_feeds(settings)}
        records.update((f.url, f) for f in feeds)
        _save(settings, list(records.values()))


def remove_feed(settings: Settings, url: str) -> Feed:
    """Stop following a feed; the articles already read from it stay in the index."""
    with _registry_lock(settings):
        feeds = followed_feeds(settings)
        kept = [f for f in feeds if f.url != url]
        if len(kept) == len(feeds):
            raise BadInput(f"not a followed feed: {url} (see: rag feeds)")
        _save(settings, kept)
    return next(f for f in feeds if f.url == url)


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


# ---------------------------------------------------------------------------------------------
# updating


def update_feeds(settings: Settings, embedder: Embedder, *, allow_private: bool,
                 on_progress: ProgressFn | None = None) -> FeedsUpdate:
    """Ask every followed feed for what is new, ingest the pages of new or changed entries in
    one transaction, and record each feed's state. A feed that fails is reported in its line and
    in `failed`; the others go on."""
    lines: list[str] = []
    failed: list[str] = []
    articles: dict[str, Article] = {}
    skipped: list[Skipped] = []
    records: list[Feed] = []
    for feed in followed_feeds(settings):
        try:
            fetched = fetch(feed.url, settings, allow_private=allow_private,
                            accept=FEED_TYPES | PAGE_TYPES, etag=feed.etag,
                            last_modified=feed.last_modified)
            if fetched.status == 304:
                record = replace(feed, last_checked=_now(), last_status="304: not modified",
                                 etag=fetched.etag or feed.etag,
                                 last_modified=fetched.last_modified or feed.last_modified)
            else:
                parsed = parse_feed(fetched)
                if parsed is None:
                    raise FetchFailed(feed.url, "no longer an RSS or Atom feed")
                record, found, missed = read_feed(feed.url, fetched, parsed, settings,
                                                  allow_private=allow_private, previous=feed)
                skipped += missed
                for article in found:
                    articles.setdefault(article.doc_id, article)
        except BadInput as exc:
            reason = exc.reason if isinstance(exc, FetchFailed) else str(exc)
            record = replace(feed, last_checked=_now(), last_status=f"failed: {reason}")
            failed.append(feed.url)
        records.append(record)
        lines.append(f"{feed.url}: {record.last_status}")
    if articles:
        report = ingest_articles(list(articles.values()), skipped, settings, embedder,
                                 on_progress=on_progress)
    else:
        report = report_without_changes(settings, skipped)
    follow(settings, records)
    return FeedsUpdate(lines=lines, report=report, failed=failed)
