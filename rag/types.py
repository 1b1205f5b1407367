"""The plain data the stages hand each other, from a file on disk to a checked answer.

They live at the ground floor so that no stage imports another just to name what it passes on:
the checking code names a `Passage` without importing retrieval. The answer's types (`Passage`,
`Citation`, `SentenceSupport`, `AnswerRecord`) serialise with `dataclasses.asdict` to the JSON
contract of `rag ask --json`.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

ProgressFn = Callable[[int, int], None]  # (done, total), for progress bars of long work


# -- ingest: an article read from a file, and its chunks ---------------------------------------

@dataclass(frozen=True)
class Article:
    doc_id: str
    title: str
    date: str | None  # ISO 8601 day, YYYY-MM-DD
    source: str  # the file it was read from, or the URL it was fetched from
    text: str
    url: str | None = None  # the page's canonical URL (web pages, feed entries): what a citation links
    author: str | None = None
    pages: tuple[int, ...] = ()  # where page 1, 2, ... starts in `text` (PDF); () has no pages
    # near-copies (see `rag.ingest.copies`): the group (the first article of a story several
    # outlets republished), the MinHash signature and the LSH band keys that find it; none of
    # them is part of the content
    group: str | None = None
    signature: tuple[int, ...] = ()
    bands: tuple[int, ...] = ()

    @property
    def content_hash(self) -> str:
        """Changes whenever anything the index stores about the article changes. An article
        without a URL, author or pages hashes as it did before they existed, so upgrading an
        index does not make every article look changed."""
        parts = [self.title, self.date or "", self.text]
        if self.url or self.author or self.pages:
            parts += [self.url or "", self.author or "", ",".join(map(str, self.pages))]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    @property
    def meta(self) -> dict:
        """What the store keeps beside title, date and text; empty fields are left out."""
        fields = {"url": self.url, "author": self.author, "pages": list(self.pages),
                  "group": self.group}
        return {k: v for k, v in fields.items() if v}

    def page_at(self, offset: int) -> int | None:
        return page_at(self.pages, offset)


def is_web_source(source: str) -> bool:
    """Whether an article's source is a URL it was fetched from, rather than a file."""
    return source.startswith(("http://", "https://"))


def page_at(pages: tuple[int, ...] | list[int], offset: int) -> int | None:
    """The page (from 1) holding character `offset`, for text that has pages."""
    if not pages:
        return None
    return max(1, bisect.bisect_right(pages, offset))


def article_of(doc_id: str, title: str, date: str | None, source: str, text: str,
               meta: str | dict | None) -> Article:
    """An article as a store keeps it: its meta (JSON or a dict) spread back into fields."""
    meta = read_meta_json(meta) if not isinstance(meta, dict) else meta
    return Article(doc_id, title, date, source, text, url=meta.get("url"),
                   author=meta.get("author"), pages=tuple(meta.get("pages") or ()),
                   group=meta.get("group"))


def chunk_of(chunk_id: str, doc_id: str, title: str, date: str | None, start: int, end: int,
             text: str, *, meta: dict) -> Chunk:
    """A stored chunk with what its article's meta says of it: link, page, near-copy group."""
    return Chunk(chunk_id, doc_id, title, date, start, end, text, url=meta.get("url"),
                 page=page_at(meta.get("pages") or (), start), group=meta.get("group"))


def meta_json(meta: dict) -> str:
    return json.dumps(meta, ensure_ascii=False, separators=(",", ":"))


def read_meta_json(text: str | None) -> dict:
    """An article's stored meta; an unreadable one reads as none (it only adds links and pages)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str
    kept: bool = False  # a warning only: the article was indexed in another form (a feed entry's text)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    start: int
    end: int
    text: str
    url: str | None = None  # the article's, for showing where a passage comes from
    page: int | None = None  # the page holding `start`, in an article that has pages
    group: str | None = None  # the article's near-copy group

    def to_dict(self) -> dict:
        return asdict(self)


# -- store: what an index holds about each article --------------------------------------------

@dataclass(frozen=True)
class IndexSettings:
    """What the vectors and chunks depend on; an index built with others must be rebuilt."""
    embedding_model: str
    dimensions: int
    chunk_size: int
    chunk_overlap: int


@dataclass
class ArticleEntry:
    doc_id: str
    title: str
    date: str | None
    source: str
    content_hash: str
    chunks: int
    meta: dict = field(default_factory=dict)  # `Article.meta` as stored

    @property
    def url(self) -> str | None:
        return self.meta.get("url")

    @property
    def group(self) -> str:
        """The near-copy group: an article alone is a group of its own."""
        return self.meta.get("group") or self.doc_id


@dataclass(frozen=True)
class Likeness:
    """What a near-copy search finds of an article already indexed."""
    doc_id: str
    group: str
    signature: tuple[int, ...]


@dataclass
class Manifest:
    """What listings and health checks need: read without loading vectors or chunks."""
    format_version: int
    settings: IndexSettings
    articles: dict[str, ArticleEntry] = field(default_factory=dict)
    created_at: str = ""

    @property
    def chunks(self) -> int:
        return sum(a.chunks for a in self.articles.values())


@dataclass
class NewArticle:
    """An article with its chunks and their vectors, ready to be written."""
    article: Article
    chunks: list[Chunk]
    vectors: np.ndarray


# -- answer: the passages a model reads and the record of its checked answer -----------------

@dataclass
class Passage:
    """A stretch of one article shown to the model as source [n]."""
    n: int
    doc_id: str
    chunk_id: str
    title: str
    date: str | None
    text: str
    score: float
    start: int
    end: int
    chunk_ids: list[str] = field(default_factory=list)
    dense_score: float | None = None
    bm25_score: float | None = None
    url: str | None = None  # the article's canonical URL, when it came from the web
    page: int | None = None  # the page the passage starts on, in a PDF
    # other outlets that carried the same story (near-copies left out of the passages):
    # [{"doc_id", "title", "url"}]
    also_in: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Block:
    """A piece of a prompt that the model may read from a saved KV state instead of computing
    it: a passage exactly as the prompt shows it, with the article it comes from (`group`), so
    that a changed or removed article drops its saved states."""
    text: str
    group: str


@dataclass(frozen=True)
class ChatPrompt:
    """Chat messages, and the passage blocks inside them that the model may read from its
    passage cache (none: it reads every token)."""
    messages: list[dict]
    blocks: tuple[Block, ...] = ()


@dataclass
class SentenceSupport:
    sentence: str
    citations: list[int]
    supported: bool
    irrelevant_citations: list[int] = field(default_factory=list)
    reason: str = ""  # what decided, e.g. "numbers not in the passage: 45"


@dataclass
class Quote:
    """Words copied verbatim from shown passage `n`: the evidence an answer states."""
    n: int
    text: str
    doc_id: str
    chunk_id: str


@dataclass
class Citation:
    n: int
    doc_id: str
    chunk_id: str


@dataclass
class AnswerRecord:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    passages: list[Passage]
    timings_ms: dict[str, float]
    model: str
    standalone_question: str = ""
    abstain_reason: str | None = None  # "no_relevant_passages", "model_declined", "unsupported_answer"
    draft_answer: str = ""  # the model's reply as generated, before any check
    readings: int = 1  # 2 when the best passages gave no answer and the model read them all
    prompt_tokens: int = 0  # tokens of the answer prompt the model read
    removed_markers: int = 0  # markers that pointed at no shown passage
    extractive_fallback: bool = False  # the model gave bare markers; a cited sentence was used
    citations_added: int = 0  # uncited sentences given the marker of a supporting passage
    citations_repointed: int = 0  # markers moved to the shown passage that supports the sentence
    unsupported_sentences: list[str] = field(default_factory=list)  # not tied to a citation
    sentence_support: list[SentenceSupport] = field(default_factory=list)
    # passages the model read from its passage cache, and those it computed (and stored) now;
    # None when it read the whole prompt
    passage_cache: dict[str, int] | None = None
    # quote-then-answer: the sentences the model copied before answering, and which path gave
    # the answer ("direct": the direct path; "draft": the model's answer after its quote;
    # "quote": its quote, when the draft was rejected; or the quote path's reason to abstain)
    quotes: list[Quote] = field(default_factory=list)
    answer_path: str | None = None
    rejected_draft: str | None = None  # why the draft was not kept, when the quote answered
    # when the direct answer was declined or rejected and a second try by quoting followed
    # (`quote_retry`): why the first try gave no answer
    first_try: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)
