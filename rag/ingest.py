"""Incremental ingest: add new articles, replace changed ones, drop ones gone from their folder.

Only new and changed articles are embedded; everything else is carried over from the current
generation, and the result is written as a new generation (see `rag.store`), so a failed or
interrupted ingest leaves the previous index as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.chunking import Chunk, chunk_article
from rag.corpus import Article, Skipped, load_articles
from rag.embedding import Embedder, ProgressFn
from rag.errors import BadInput, IndexCorrupt, IndexMissing
from rag.settings import Settings
from rag.store import Index, IndexSettings, check_compatible, load_index, save_generation, write_lock


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
    root = settings.index
    with write_lock(root):
        current = None if rebuild else _existing_index(root)
        if current is not None:
            check_compatible(current, wanted)
        report = IngestReport(skipped=skipped)
        kept = _plan(current, loaded, skipped, paths, report)
        if not loaded and not report.removed:
            raise BadInput("no readable article among the given files: "
                           + "; ".join(f"{s.path}: {s.reason}" for s in skipped))
        fresh = [a for a in loaded if a.doc_id in set(report.added) | set(report.updated)]
        chunks_by_doc, vectors_by_doc = _carry_over(current, kept)
        _embed_new(fresh, settings, embedder, chunks_by_doc, vectors_by_doc, report, on_progress)
        articles = [current.articles[d] for d in kept] + fresh if current else fresh
        if report.changed or rebuild or current is None:
            save_generation(root, wanted, articles, chunks_by_doc, vectors_by_doc)
        report.articles = len(articles)
        report.chunks = sum(len(chunks_by_doc[a.doc_id]) for a in articles)
    return report


def remove_articles(doc_ids: Iterable[str], settings: Settings) -> IngestReport:
    """Drop articles by doc id; nothing needs embedding, so no embedder is loaded."""
    root = settings.index
    with write_lock(root):
        current = load_index(root)
        doc_ids = list(doc_ids)
        unknown = [d for d in doc_ids if d not in current.articles]
        if unknown:
            raise BadInput(f"not in the index: {', '.join(unknown)} (see: rag list)")
        kept = [d for d in current.articles if d not in doc_ids]
        chunks_by_doc, vectors_by_doc = _carry_over(current, kept)
        articles = [current.articles[d] for d in kept]
        save_generation(root, current.settings, articles, chunks_by_doc, vectors_by_doc)
    return IngestReport(removed=doc_ids, unchanged=kept, articles=len(articles),
                        chunks=sum(len(c) for c in chunks_by_doc.values()))


def _existing_index(root: Path) -> Index | None:
    try:
        return load_index(root)
    except IndexMissing:
        return None
    except IndexCorrupt as exc:
        raise IndexCorrupt(f"{exc} (ingest refuses to build on it)") from None


def _plan(current: Index | None, loaded: list[Article], skipped: list[Skipped],
          paths: list[Path], report: IngestReport) -> list[str]:
    """Sort articles into added / updated / unchanged / removed; return the doc ids kept as is."""
    existing = current.manifest.articles if current else {}
    loaded_ids = {a.doc_id for a in loaded}
    for article in loaded:
        entry = existing.get(article.doc_id)
        if entry is None:
            report.added.append(article.doc_id)
        elif entry.content_hash != article.content_hash:
            report.updated.append(article.doc_id)
        else:
            report.unchanged.append(article.doc_id)
    synced = [p.resolve() for p in paths if p.is_dir()]
    unreadable = {Path(s.path).resolve() for s in skipped}
    for doc_id, entry in existing.items():
        if doc_id in loaded_ids:
            continue
        source = Path(entry.source).resolve()
        if source in unreadable:
            continue  # a file that became unreadable keeps its last good version
        if any(source.is_relative_to(folder) for folder in synced) and not source.exists():
            report.removed.append(doc_id)
    dropped = set(report.removed) | set(report.updated)
    return [d for d in existing if d not in dropped and d not in report.added]


def _carry_over(current: Index | None, kept: list[str]) -> tuple[dict[str, list[Chunk]],
                                                                 dict[str, np.ndarray]]:
    chunks_by_doc: dict[str, list[Chunk]] = {d: [] for d in kept}
    rows_by_doc: dict[str, list[int]] = {d: [] for d in kept}
    if current is None:
        return chunks_by_doc, {}
    for row, chunk in enumerate(current.chunks):
        if chunk.doc_id in chunks_by_doc:
            chunks_by_doc[chunk.doc_id].append(chunk)
            rows_by_doc[chunk.doc_id].append(row)
    vectors = current.vectors()
    return chunks_by_doc, {d: vectors[rows] for d, rows in rows_by_doc.items()}


def _embed_new(fresh: list[Article], settings: Settings, embedder: Embedder,
               chunks_by_doc: dict[str, list[Chunk]], vectors_by_doc: dict[str, np.ndarray],
               report: IngestReport, on_progress: ProgressFn | None) -> None:
    new_chunks = {a.doc_id: chunk_article(a, size=settings.chunk_size, overlap=settings.chunk_overlap)
                  for a in fresh}
    flat = [c for chunks in new_chunks.values() for c in chunks]
    started = time.perf_counter()
    vectors = embedder.embed([c.text for c in flat], on_progress=on_progress)
    report.embed_seconds = time.perf_counter() - started
    report.chunks_embedded = len(flat)
    offset = 0
    for doc_id, chunks in new_chunks.items():
        chunks_by_doc[doc_id] = chunks
        vectors_by_doc[doc_id] = vectors[offset:offset + len(chunks)]
        offset += len(chunks)
