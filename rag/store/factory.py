"""Where the chunks live: the embedded store in the index folder, or a Milvus collection.

`RAG_INDEX_BACKEND` decides: `faiss` (default), SQLite + FAISS + tantivy in the index folder
(`rag.store.layout`, `rag.store.reader`, `rag.store.writer`); or `milvus`, a Milvus Lite file or
a Milvus server (`rag.store.milvus`). Nothing else in the assistant knows which one runs. What
generates answers is chosen the same way, by `rag.models.factory`. Ray ingest (`rag ingest
--ray`) is a way of running ingest, not a backend: it writes through whichever index backend the
settings name.

Client libraries of the scaled-out backends are imported only when chosen; a missing one is a
one-line error with the command that installs it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import IndexCorrupt, IndexMissing, IndexOutdated
from rag.settings import Settings
from rag.types import Article, ArticleEntry, Chunk, IndexSettings, Likeness, Manifest, NewArticle


class SearchIndex(Protocol):
    """What retrieval and the answer pipeline read; `select` returns a backend's own filter."""
    settings: IndexSettings
    chunk_count: int

    def article_entries(self) -> dict[str, ArticleEntry]: ...
    def article(self, doc_id: str) -> Article | None: ...
    def article_text(self, doc_id: str, start: int, end: int) -> str: ...
    def group_members(self, groups: Sequence[str]) -> dict[str, list[ArticleEntry]]: ...
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


class IndexWriter(Protocol):
    """What ingest writes through: `new` writers become current on `publish` only."""
    settings: IndexSettings
    new: bool

    def entries(self, doc_ids: Sequence[str]) -> dict[str, ArticleEntry]: ...
    def likenesses(self, bands: Sequence[int]) -> list[Likeness]: ...
    def unsigned(self) -> list[Article]: ...
    def sign(self, articles: Sequence[Article]) -> None: ...
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
        from rag.store.milvus.reader import MilvusIndex

        return MilvusIndex(settings)
    from rag.store.reader import Index, load_index

    return load_index(settings.index, settings.ann, previous if isinstance(previous, Index) else None)


def read_listing(settings: Settings) -> Manifest:
    """Articles and settings, without loading vectors."""
    if settings.index_backend == "milvus":
        from rag.store.milvus.reader import read_milvus_manifest

        return read_milvus_manifest(settings)
    from rag.store.layout import read_manifest

    return read_manifest(settings.index)


def describe_index(settings: Settings) -> str:
    """Where the index is, for a status line."""
    if settings.index_backend == "milvus":
        from rag.store.milvus.collection import milvus_uri

        return f"Milvus collection {settings.milvus_collection} at {milvus_uri(settings)}"
    return str(settings.index)


def upgrade(settings: Settings) -> None:
    """Convert an embedded index written by an earlier release (see `rag.store.migrate`)."""
    from rag.store.migrate import migrate
    from rag.store.files import write_lock

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
    from rag.store.files import write_lock

    if settings.index_backend == "milvus":
        from rag.store.milvus.collection import is_server, milvus_uri

        uri = milvus_uri(settings)
        if is_server(uri):
            return nullcontext()
        return write_lock(Path(uri).parent)
    return write_lock(settings.index)


def _open_writer(settings: Settings, wanted: IndexSettings | None, rebuild: bool) -> IndexWriter:
    if settings.index_backend == "milvus":
        from rag.store.milvus.writer import MilvusWriter

        def current() -> IndexWriter:
            return MilvusWriter.open(settings)

        def fresh() -> IndexWriter:
            return MilvusWriter.create(settings, wanted)
    else:
        from rag.store.migrate import migrate
        from rag.store.writer import Writer

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
