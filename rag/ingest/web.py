"""Web pages by URL: a fetched page (`rag.ingest.fetching`) read by trafilatura and cleaned like
any article, under a doc id from its canonical URL. Writing pages and feeds into the index is
`rag.ingest.by_url`'s job.

A page's doc id comes from its canonical URL (`doc_id_for`), so fetching it again, by the same
or another address that names the same canonical page, finds the same article: unchanged when
its content hash is, replaced when not. Page text is untrusted like any article's.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from rag.ingest.cleaning import clean, iso_date
from rag.ingest.fetching import Fetched, FetchFailed
from rag.types import Article


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
