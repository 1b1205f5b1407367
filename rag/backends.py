"""The one factory for the parts that can move off this machine: where the chunks live and what
generates answers. Settings choose; nothing else in the assistant knows which one runs.

- `RAG_INDEX_BACKEND`: `faiss` (default), SQLite + FAISS + tantivy in the index folder
  (`rag.store`); or `milvus`, a Milvus Lite file or a Milvus server (`rag.milvus_store`).
- `RAG_LLM_URL`: unset (default), llama.cpp in this process (`rag.llm`); or the address of any
  OpenAI-compatible server (`rag.remote_llm`).

Ray ingest (`rag ingest --ray`) is a way of running ingest, not a backend: it writes through
whichever index backend the settings name (`rag.ray_ingest`).

Client libraries of the scaled-out backends are imported only when chosen; a missing one is a
one-line error with the command that installs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.chunking import Chunk
from rag.corpus import Article
from rag.errors import IndexCorrupt, IndexMissing, IndexOutdated
from rag.llm import Generator, ProgressFn, check_gguf, default_model_path
from rag.settings import Settings
from rag.store import ArticleEntry, IndexSettings, Manifest, NewArticle


class SearchIndex(Protocol):
    """What retrieval and the answer pipeline read; `select` returns a backend's own filter."""
    settings: IndexSettings
    chunk_count: int

    def article_entries(self) -> dict[str, ArticleEntry]: ...
    def article(self, doc_id: str) -> Article | None: ...
    def article_text(self, doc_id: str, start: int, end: int) -> str: ...
    def chunks(self, ids) -> dict[int, Chunk]: ...
    def all_chunks(self) -> list[tuple[int, Chunk]]: ...
    def select(self, *, since: str | None = None, until: str | None = None,
               doc_ids: Sequence[str] | None = None) -> object | None: ...
    def search_dense(self, vector: np.ndarray, k: int,
                     selection: object | None = None) -> list[tuple[int, float]]: ...
    def search_lexical(self, query: str, k: int, *, since: str | None = None,
                       until: str | None = None,
                       doc_ids: Sequence[str] | None = None) -> list[tuple[int, float]]: ...
    def close(self) -> None: ...


class ChatModel(Protocol):
    """What answering, its checks and the API need from a generation model."""
    name: str
    n_ctx: int
    has_chat_template: bool
    last_evaluated: int

    def count_tokens(self, text: str) -> int: ...
    def prompt_tokens(self, messages: list[dict]) -> int: ...
    def stream_chat(self, messages: list[dict], *, max_tokens: int, temperature: float,
                    stop: Sequence[str] = (), shares_start_with: list[dict] | None = None
                    ) -> Iterator[str]: ...
    def chat(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0) -> str: ...
    def yes_probability(self, messages: list[dict]) -> float: ...
    def session(self) -> threading.Lock: ...


class IndexWriter(Protocol):
    """What ingest writes through: `new` writers become current on `publish` only."""
    settings: IndexSettings
    new: bool

    def entries(self, doc_ids: Sequence[str]) -> dict[str, ArticleEntry]: ...
    def sources(self) -> Iterator[tuple[str, str]]: ...
    def counts(self) -> tuple[int, int]: ...
    def apply(self, add: Sequence[NewArticle], remove: Sequence[str]) -> None: ...
    def publish(self) -> object: ...
    def discard(self) -> None: ...
    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# the index


def open_index(settings: Settings, previous: SearchIndex | None = None) -> SearchIndex:
    """The index in use, for searching; `previous` lets the embedded store reuse what it loaded."""
    if settings.index_backend == "milvus":
        from rag.milvus_store import MilvusIndex

        return MilvusIndex(settings)
    from rag.store import Index, load_index

    return load_index(settings.index, settings.ann, previous if isinstance(previous, Index) else None)


def read_listing(settings: Settings) -> Manifest:
    """Articles and settings, without loading vectors."""
    if settings.index_backend == "milvus":
        from rag.milvus_store import read_milvus_manifest

        return read_milvus_manifest(settings)
    from rag.store import read_manifest

    return read_manifest(settings.index)


def describe_index(settings: Settings) -> str:
    """Where the index is, for a status line."""
    if settings.index_backend == "milvus":
        from rag.milvus_store import milvus_uri

        return f"Milvus collection {settings.milvus_collection} at {milvus_uri(settings)}"
    return str(settings.index)


def upgrade(settings: Settings) -> None:
    """Convert an embedded index written by an earlier release (see `rag.migrate`)."""
    from rag.migrate import migrate
    from rag.store import write_lock

    with write_lock(settings.index):
        migrate(settings.index, settings.ann)


@contextmanager
def index_writer(settings: Settings, wanted: IndexSettings | None,
                 rebuild: bool = False) -> Iterator[IndexWriter]:
    """The index in use changed in place, or a new one (first ingest, --rebuild) that becomes the
    one in use only once it is complete; without `wanted` settings, only the one in use."""
    with _write_lock(settings):
        writer = _open_writer(settings, wanted, rebuild)
        try:
            yield writer
            if writer.new:
                writer.publish()
        except BaseException:
            if writer.new:
                writer.discard()
            raise
        finally:
            writer.close()


def _write_lock(settings: Settings):
    """One writer at a time, where the index is a local folder or file; a Milvus server has no
    lock a client could take, so there one ingest at a time is the operator's to keep."""
    from rag.store import write_lock

    if settings.index_backend == "milvus":
        from rag.milvus_store import milvus_uri

        uri = milvus_uri(settings)
        if uri.startswith(("http://", "https://", "tcp://", "unix:")):
            return nullcontext()
        return write_lock(Path(uri).parent)
    return write_lock(settings.index)


def _open_writer(settings: Settings, wanted: IndexSettings | None, rebuild: bool) -> IndexWriter:
    if settings.index_backend == "milvus":
        from rag.milvus_store import MilvusWriter

        def current() -> IndexWriter:
            return MilvusWriter.open(settings)

        def fresh() -> IndexWriter:
            return MilvusWriter.create(settings, wanted)
    else:
        from rag.migrate import migrate
        from rag.store import Writer

        def current() -> IndexWriter:
            try:
                return Writer.open(settings.index, settings.ann)
            except IndexOutdated:
                migrate(settings.index, settings.ann)
                return Writer.open(settings.index, settings.ann)
            except IndexCorrupt as exc:
                raise IndexCorrupt(f"{exc} (ingest refuses to build on it)") from None

        def fresh() -> IndexWriter:
            return Writer.create(settings.index, wanted, settings.ann)
    if not rebuild:
        try:
            return current()
        except IndexMissing:
            if wanted is None:
                raise
    return fresh()


# ---------------------------------------------------------------------------------------------
# the generation model


def make_generator(settings: Settings, model_progress: ProgressFn | None = None) -> ChatModel:
    """llama.cpp in this process, or the OpenAI-compatible server `RAG_LLM_URL` names."""
    if settings.llm_url:
        from rag.remote_llm import RemoteGenerator

        return RemoteGenerator(settings.llm_url, api_key=settings.llm_api_key,
                               model=settings.llm_model, timeout=settings.llm_timeout,
                               n_ctx=settings.n_ctx, seed=settings.seed)
    path = (check_gguf(settings.model) if settings.model
            else default_model_path(settings.cache_dir, model_progress))
    return Generator(path, n_ctx=settings.n_ctx, n_threads=settings.n_threads, seed=settings.seed)
