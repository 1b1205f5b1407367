"""Incremental ingest: add new articles, replace changed ones, drop ones gone from their folder.

Only new and changed articles are embedded, and only they are written: one transaction of the
store (see `rag.store`) replaces them, so the cost of a change follows the articles changed, and a
failed or interrupted ingest leaves the previous index as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rag.chunking import chunk_article
from rag.corpus import Article, Skipped, load_articles
from rag.embedding import Embedder, ProgressFn
from rag.errors import BadInput, IndexCorrupt, IndexMissing, IndexOutdated
from rag.migrate import migrate
from rag.settings import Settings
from rag.store import IndexSettings, NewArticle, Writer, check_compatible, write_lock


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    embed_seconds: float = 0.0
    articles: int = 0
    chunks: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
                f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
                f"index holds {self.articles} articles in {self.chunks} chunks")


def index_settings(settings: Settings, embedder: Embedder) -> IndexSettings:
    return IndexSettings(embedding_model=settings.embedding_model, dimensions=embedder.dimensions,
                         chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)


def ingest(paths: Iterable[Path], settings: Settings, embedder: Embedder, *,
           rebuild: bool = False, on_progress: ProgressFn | None = None) -> IngestReport:
    """Bring the index in `settings.index` up to date with the articles under `paths`."""
    paths = list(paths)
    loaded, skipped = load_articles(paths)
    if not loaded and not skipped:
        raise BadInput("nothing to ingest")
    wanted = index_settings(settings, embedder)
    with _writing(settings, wanted, rebuild) as writer:
        check_compatible(writer.settings, wanted, settings.index)
        report = IngestReport(skipped=skipped)
        _plan(writer, loaded, skipped, paths, report)
        if not loaded and not report.removed:
            raise BadInput("no readable article among the given files: "
                           + "; ".join(f"{s.path}: {s.reason}" for s in skipped))
        changed = set(report.added) | set(report.updated)
        fresh = _embed([a for a in loaded if a.doc_id in changed], settings, embedder, report,
                       on_progress)
        if fresh or report.removed:
            writer.apply(add=fresh, remove=report.removed)
        report.articles, report.chunks = writer.counts()
    return report


def upgrade(settings: Settings) -> None:
    """Convert an index written by an earlier release (see `rag.migrate`)."""
    with write_lock(settings.index):
        migrate(settings.index, settings.ann)


def remove_articles(doc_ids: Iterable[str], settings: Settings) -> IngestReport:
    """Drop articles by doc id; nothing needs embedding, so no embedder is loaded."""
    doc_ids = list(doc_ids)
    with _writing(settings, None, rebuild=False) as writer:
        unknown = [d for d in doc_ids if d not in writer.entries(doc_ids)]
        if unknown:
            raise BadInput(f"not in the index: {', '.join(unknown)} (see: rag list)")
        writer.apply(add=[], remove=doc_ids)
        articles, chunks = writer.counts()
    return IngestReport(removed=doc_ids, articles=articles, chunks=chunks)


@contextmanager
def _writing(settings: Settings, wanted: IndexSettings | None, rebuild: bool) -> Iterator[Writer]:
    """The current generation changed in place, or a new one (first ingest, --rebuild) that
    becomes current only once it is complete; without `wanted` settings, only the current one."""
    root = settings.index
    ann = settings.ann
    with write_lock(root):
        if not rebuild:
            try:
                writer = Writer.open(root, ann)
            except IndexMissing:
                if wanted is None:
                    raise
                rebuild = True
            except IndexOutdated:
                migrate(root, ann)
                writer = Writer.open(root, ann)
            except IndexCorrupt as exc:
                raise IndexCorrupt(f"{exc} (ingest refuses to build on it)") from None
        if rebuild:
            writer = Writer.create(root, wanted, ann)
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


def _plan(writer: Writer, loaded: list[Article], skipped: list[Skipped], paths: list[Path],
          report: IngestReport) -> None:
    """Sort articles into added / updated / unchanged / removed. Only a folder is synced (its
    articles whose files are gone are removed), so only then are all sources read."""
    loaded_ids = {a.doc_id for a in loaded}
    existing = writer.entries(sorted(loaded_ids))
    for article in loaded:
        entry = existing.get(article.doc_id)
        if entry is None:
            report.added.append(article.doc_id)
        elif entry.content_hash != article.content_hash:
            report.updated.append(article.doc_id)
        else:
            report.unchanged.append(article.doc_id)
    synced = [p.resolve() for p in paths if p.is_dir()]
    if not synced:
        return
    unreadable = {Path(s.path).resolve() for s in skipped}
    for doc_id, source in writer.sources():
        if doc_id in loaded_ids:
            continue
        source = Path(source).resolve()
        if source in unreadable:
            continue  # a file that became unreadable keeps its last good version
        if any(source.is_relative_to(folder) for folder in synced) and not source.exists():
            report.removed.append(doc_id)


def _embed(fresh: list[Article], settings: Settings, embedder: Embedder, report: IngestReport,
           on_progress: ProgressFn | None) -> list[NewArticle]:
    if not fresh:
        return []
    chunked = [(a, chunk_article(a, size=settings.chunk_size, overlap=settings.chunk_overlap))
               for a in fresh]
    flat = [c for _, chunks in chunked for c in chunks]
    started = time.perf_counter()
    vectors = embedder.embed([c.text for c in flat], on_progress=on_progress)
    report.embed_seconds = time.perf_counter() - started
    report.chunks_embedded = len(flat)
    new, offset = [], 0
    for article, chunks in chunked:
        new.append(NewArticle(article, chunks, vectors[offset:offset + len(chunks)]))
        offset += len(chunks)
    return new
