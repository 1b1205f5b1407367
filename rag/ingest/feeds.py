"""RSS (0.9x, 1.0, 2.0) and Atom feeds: read one into articles, and check a followed one again.

Each entry's linked page is fetched and read like any page (`rag.ingest.web`); when the page
cannot be fetched, the entry's own content (or summary) is indexed instead, with a warning. Only
the newest `feed_max_entries` entries (by their date; undated ones after dated ones) are read,
so a feed of thousands of entries costs no more than that many page fetches.

A followed feed is asked for conditionally (If-None-Match / If-Modified-Since), so an unchanged
feed costs one small request and ingests nothing. In a changed feed, an entry's page is fetched
again only when the entry is new or *changed*: its link was not seen in the feed before, or its
`updated` stamp (else its `published` one) differs from the one recorded. An entry whose page
could not be fetched is kept as *pending* in the feed's record (`rag.ingest.feed_registry`) and
its page asked for on every later check, even when the feed answers 304, until it comes; the
page then replaces the entry's own text, and when the page names another canonical URL (so
another doc id) the fallback article is retired (`FeedRead.retired`).

Reading writes nothing: the articles, and the records to keep, are written by the caller
(`rag.ingest.by_url`), so fetching can run without holding any writer's lock.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from urllib.parse import urljoin, urlsplit

from rag.ingest.cleaning import clean
from rag.ingest.feed_registry import Feed, PendingEntry
from rag.ingest.fetching import FEED_TYPES, PAGE_TYPES, Fetched, FetchFailed, fetch
from rag.ingest.web import doc_id_for, page_article
from rag.settings import Settings
from rag.types import Article, Skipped

PageFn = Callable[[str], None]  # told each entry's page URL before it is fetched, for progress


@dataclass
class FeedRead:
    """What reading a feed gave: its new record, the articles of its new or changed entries (and
    of pending ones that came), the entries skipped or read from the feed's own text, and the
    doc ids of fallback articles that an entry's page, now fetched, supersedes."""
    feed: Feed
    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def now_utc() -> str:
    """Now, as a feed's `last_checked` and a refresh's time: ISO 8601, UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


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
              seen: Mapping[str, str] | None = None,
              pending: Mapping[str, PendingEntry] | None = None,
              on_page: PageFn | None = None) -> FeedRead:
    """The feed's record and the articles of its newest entries; given what an earlier read
    `seen`, only the entries new or changed since are fetched. `pending`: the entries whose page
    failed before, whose fallback articles a page now fetched retires."""
    seen, pending = seen or {}, pending or {}
    read = FeedRead(Feed(url=url, title=" ".join(str(parsed.feed.get("title") or "").split()),
                         etag=fetched.etag, last_modified=fetched.last_modified,
                         last_checked=now_utc(), entries=len(parsed.entries)))
    entries = newest_entries(parsed.entries, settings.feed_max_entries)
    for entry in entries:
        title = " ".join(str(entry.get("title") or "").split())
        link, refused = _entry_link(entry, fetched.url)
        if link is None:
            read.skipped.append(Skipped(f"{url} entry {title or '(untitled)'!r}", refused))
            continue
        stamp = str(_field(entry, "updated") or _field(entry, "published") or "")
        if seen.get(link) == stamp and link not in pending:
            read.feed.seen[link] = stamp
            continue
        earlier = pending.get(link)
        wanted = PendingEntry(stamp, title, _entry_date(entry),
                              str(entry.get("author") or "").strip() or None,
                              fallback=earlier.fallback if earlier else None)
        _read_entry(read, link, wanted, settings, allow_private=allow_private, entry=entry,
                    on_page=on_page)
    total = len(parsed.entries)
    shown = f" (the newest {len(entries)} of {total})" if len(entries) < total else ""
    read.feed.last_status = (f"{fetched.status}: "
                             f"{_count(len(read.articles), 'new or changed entry')}{shown}")
    return read


def retry_pending(feed: Feed, fetched: Fetched, settings: Settings, *,
                  allow_private: bool, on_page: PageFn | None = None) -> FeedRead:
    """A feed that answered 304: its record kept, and the pages of its pending entries asked
    for again."""
    read = FeedRead(replace(feed, last_checked=now_utc(), seen=dict(feed.seen), pending={},
                            etag=fetched.etag or feed.etag,
                            last_modified=fetched.last_modified or feed.last_modified))
    for link, wanted in feed.pending.items():
        _read_entry(read, link, wanted, settings, allow_private=allow_private, on_page=on_page)
    tried = (f"; {len(read.articles)} of {_count(len(feed.pending), 'pending entry')} read"
             if feed.pending else "")
    read.feed.last_status = f"304: not modified{tried}"
    return read


def check_feed(feed: Feed, settings: Settings, *, allow_private: bool,
               on_page: PageFn | None = None) -> FeedRead:
    """A followed feed asked again, conditionally: its new or changed entries, and its pending
    ones whether or not the feed changed. Raises `FetchFailed` when the feed cannot be read."""
    fetched = fetch(feed.url, settings, allow_private=allow_private,
                    accept=FEED_TYPES | PAGE_TYPES, etag=feed.etag,
                    last_modified=feed.last_modified)
    if fetched.status == 304:
        return retry_pending(feed, fetched, settings, allow_private=allow_private,
                             on_page=on_page)
    parsed = parse_feed(fetched)
    if parsed is None:
        raise FetchFailed(feed.url, "no longer an RSS or Atom feed")
    return read_feed(feed.url, fetched, parsed, settings, allow_private=allow_private,
                     seen=feed.seen, pending=feed.pending, on_page=on_page)


def newest_entries(entries: Sequence, limit: int) -> list:
    """The `limit` newest entries by date (undated ones after the dated, in feed order), kept
    in the feed's own order."""
    if len(entries) <= limit:
        return list(entries)
    order = sorted(range(len(entries)), key=lambda i: _sort_key(entries[i]), reverse=True)
    kept = set(order[:limit])
    return [entry for i, entry in enumerate(entries) if i in kept]


def _read_entry(read: FeedRead, link: str, wanted: PendingEntry, settings: Settings, *,
                allow_private: bool, entry=None, on_page: PageFn | None = None) -> None:
    """The entry's page as an article; when it fails, the entry's own text (when `entry`, the
    feed's, is at hand and has any) and the entry kept pending."""
    if on_page is not None:
        on_page(link)
    try:
        page = fetch(link, settings, allow_private=allow_private, accept=PAGE_TYPES)
        article = page_article(page, link, title=wanted.title, date=wanted.date,
                               author=wanted.author)
    except FetchFailed as exc:
        fallback = None if entry is None else _entry_article(
            entry, link, title=wanted.title, date=wanted.date, author=wanted.author)
        if fallback is not None:
            read.articles.append(fallback)
            reason = "indexed the feed entry's own text instead"
        elif wanted.fallback:
            reason = "the feed entry's own text stays indexed"
        else:
            reason = "and the feed gives no text for it"
        indexed = fallback.doc_id if fallback is not None else wanted.fallback
        read.feed.pending[link] = replace(wanted, fallback=indexed)
        read.skipped.append(Skipped(link, f"page not fetched ({exc.reason})"
                                          f"{'; ' if indexed else ', '}{reason}",
                                    kept=indexed is not None))
        return
    read.articles.append(article)
    read.feed.seen[link] = wanted.stamp
    if wanted.fallback and wanted.fallback != article.doc_id:
        read.retired.append(wanted.fallback)


def _entry_link(entry, base: str) -> tuple[str | None, str]:
    """The entry's page as an http(s) URL, or None and why not: a `javascript:`, `data:` or
    `mailto:` link is no page, and must not become an article's link."""
    link = str(entry.get("link") or "").strip()
    if not link and str(entry.get("id") or "").startswith(("http://", "https://")):
        link = entry["id"]  # an Atom entry may name its page only by its id
    if not link:
        return None, "no link to a page"
    link = urljoin(base, link)
    parts = urlsplit(link)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        scheme = f"a {parts.scheme}: link" if parts.scheme else f"the link {link[:60]!r}"
        return None, f"{scheme}, not an http(s) page"
    return link, ""


def _field(entry, name: str):
    """An entry's own field: feedparser's `get` answers `updated` with `published` (warning)."""
    return dict.get(entry, name)


def _entry_date(entry) -> str | None:
    stamp = _field(entry, "published_parsed") or _field(entry, "updated_parsed")
    return date(*stamp[:3]).isoformat() if stamp else None


def _sort_key(entry) -> tuple:
    stamp = _field(entry, "published_parsed") or _field(entry, "updated_parsed")
    return (1, tuple(stamp[:6])) if stamp else (0, ())


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
