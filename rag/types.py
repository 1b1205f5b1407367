"""The plain data the stages hand each other, from a file on disk to a checked answer.

They live at the ground floor so that no stage imports another just to name what it passes on:
the checking code names a `Passage` without importing retrieval. The answer's types (`Passage`,
`Citation`, `SentenceSupport`, `AnswerRecord`) serialise with `dataclasses.asdict` to the JSON
contract of `rag ask --json`.
"""

from __future__ import annotations

import hashlib
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
    source: str
    text: str

    @property
    def content_hash(self) -> str:
        """Changes whenever anything the index stores about the article changes."""
        payload = "\x1f".join([self.title, self.date or "", self.text])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    start: int
    end: int
    text: str

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
    # the answer ("draft": the model's answer; "quote": its quote, when the draft was rejected)
    quotes: list[Quote] = field(default_factory=list)
    answer_path: str | None = None
    rejected_draft: str | None = None  # why the draft was not kept, when the quote answered

    def to_dict(self) -> dict:
        return asdict(self)
