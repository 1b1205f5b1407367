"""Incremental ingest: add new articles, replace changed ones, drop ones gone from their folder.

Only new and changed articles are embedded, and only they are written, through the index backend
the settings name (`rag.store.factory`): the embedded store replaces them in one transaction, so the
cost of a change follows the articles changed, and a failed or interrupted ingest leaves the
previous index as it was. Parsing and embedding run here or on Ray (`Workers`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rag.errors import BadInput, IndexMissing
from rag.ingest.chunking import chunk_article
from rag.ingest.copies import link_copies
from rag.ingest.sources import load_articles
from rag.models.embedding import Embedder
from rag.models.kv_store import drop_all, drop_groups
from rag.settings import Settings
from rag.store.factory import IndexWriter, describe_index, index_writer, read_listing
from rag.store.layout import check_compatible
from rag.types import Article, IndexSettings, NewArticle, ProgressFn, Skipped, is_web_source
from rag.untrusted import instruction_sentences


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
    # added or updated articles holding text addressed to AI assistants, with how many sentences:
    # kept as text (a reader may want to see it), never shown to the model or quoted
    addressed: dict[str, int] = field(default_factory=dict)
    # added or updated articles that are near-copies of another (the same story from another
    # outlet): {doc_id: the article it copies}
    copies: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
                f"{len(self.unchanged)} unchanged, {sum(not s.kept for s in self.skipped)} skipped; "
                f"index holds {self.articles} articles in {self.chunks} chunks")


def index_settings(settings: Settings, embedder: Embedder) -> IndexSettings:
    return IndexSettings(embedding_model=settings.embedding_model, dimensions=embedder.dimensions,
                         chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)


class Workers(Protocol):
    """Who parses and embeds: this process (`LocalWorkers`), or a Ray cluster (`rag.ingest.ray_workers`).
    Either way the writes go through this module, so the result is the same index."""

    def load(self, paths: list[Path]) -> tuple[list[Article], list[Skipped]]: ...

    def embed(self, articles: list[Article], on_progress: ProgressFn | None) -> list[NewArticle]: ...


class LocalWorkers:
    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder

    def load(self, paths: list[Path]) -> tuple[list[Article], list[Skipped]]:
        return load_articles(paths)

    def embed(self, articles: list[Article], on_progress: ProgressFn | None) -> list[NewArticle]:
        size, overlap = self.settings.chunk_size, self.settings.chunk_overlap
        chunked = [chunk_article(a, size=size, overlap=overlap) for a in articles]
        flat = [c for chunks in chunked for c in chunks]
        vectors = self.embedder.embed([c.text for c in flat], on_progress=on_progress)
        new, offset = [], 0
        for article, chunks in zip(articles, chunked):
            new.append(NewArticle(article, chunks, vectors[offset:offset + len(chunks)]))
            offset += len(chunks)
        return new


def ingest(paths: Iterable[Path], settings: Settings, embedder: Embedder, *,
           rebuild: bool = False, on_progress: ProgressFn | None = None,
           workers: Workers | None = None) -> IngestReport:
    """Bring the index the settings name up to date with the articles under `paths`; a folder
    among them is synced (its articles whose files are gone are removed)."""
    paths = list(paths)
    workers = workers or LocalWorkers(settings, embedder)
    loaded, skipped = workers.load(paths)
    synced = [p for p in paths if p.is_dir()]
    return ingest_articles(loaded, skipped, settings, embedder, synced=synced, rebuild=rebuild,
                           on_progress=on_progress, workers=workers)


def ingest_articles(loaded: list[Article], skipped: list[Skipped], settings: Settings,
                    embedder: Embedder, *, synced: Iterable[Path] = (), remove: Iterable[str] = (),
                    rebuild: bool = False, on_progress: ProgressFn | None = None,
                    workers: Workers | None = None) -> IngestReport:
    """Write articles read by any source (files, web pages, feed entries): new ones added,
    changed ones replaced, unchanged ones left as they are, in one transaction. Articles whose
    source file lies in a `synced` folder but is gone are removed, and so are those of `remove`
    that the index holds (a feed entry's text that its page now replaces)."""
    workers = workers or LocalWorkers(settings, embedder)
    if not loaded and not skipped:
        raise BadInput("nothing to ingest")
    wanted = index_settings(settings, embedder)
    with index_writer(settings, wanted, rebuild) as writer:
        check_compatible(writer.settings, wanted, describe_index(settings))
        report = IngestReport(skipped=skipped)
        _plan(writer, loaded, skipped, list(synced), report)
        retired = [d for d in dict.fromkeys(remove) if d not in {a.doc_id for a in loaded}]
        report.removed += [d for d in writer.entries(retired) if d not in report.removed]
        if not loaded and not report.removed:
            raise BadInput("no readable article among the given sources: "
                           + "; ".join(f"{s.path}: {s.reason}" for s in skipped))
        _sign_earlier(writer, settings.copy_threshold)
        changed = set(report.added) | set(report.updated)
        fresh, report.copies = link_copies([a for a in loaded if a.doc_id in changed],
                                           writer.likenesses, settings.copy_threshold,
                                           updated=report.updated)
        report.addressed = {a.doc_id: n for a in fresh if (n := len(instruction_sentences(a.text)))}
        started = time.perf_counter()
        new = workers.embed(fresh, on_progress) if fresh else []
        report.embed_seconds = time.perf_counter() - started
        report.chunks_embedded = sum(len(n.chunks) for n in new)
        if new or report.removed:
            writer.apply(add=new, remove=report.removed)
        report.articles, report.chunks = writer.counts()
    _drop_saved_passages(settings, rebuild, report.updated + report.removed)
    return report


def unchanged_report(settings: Settings, skipped: Iterable[Skipped] = ()) -> IngestReport:
    """The report of a run that wrote nothing, with the index's counts as they are."""
    try:
        manifest = read_listing(settings)
        articles, chunks = len(manifest.articles), manifest.chunks
    except IndexMissing:
        articles = chunks = 0
    return IngestReport(skipped=list(skipped), articles=articles, chunks=chunks)


def _sign_earlier(writer: IndexWriter, threshold: float) -> None:
    """Articles of an index converted from before near-copies were linked are signed and
    linked to each other once, before new ones are linked to them."""
    earlier = writer.unsigned()
    if earlier:
        writer.sign(link_copies(earlier, writer.likenesses, threshold)[0])


def remove_articles(doc_ids: Iterable[str], settings: Settings) -> IngestReport:
    """Drop articles by doc id; nothing needs embedding, so no embedder is loaded."""
    doc_ids = list(doc_ids)
    with index_writer(settings, None) as writer:
        unknown = [d for d in doc_ids if d not in writer.entries(doc_ids)]
        if unknown:
            raise BadInput(f"not in the index: {', '.join(unknown)} (see: rag list)")
        writer.apply(add=[], remove=doc_ids)
        articles, chunks = writer.counts()
    _drop_saved_passages(settings, False, doc_ids)
    return IngestReport(removed=doc_ids, articles=articles, chunks=chunks)


def _drop_saved_passages(settings: Settings, everything: bool, doc_ids: list[str]) -> None:
    """The passage cache's states of articles that changed or went (all, on a rebuild): their
    blocks' text is gone from the index, so nothing would read them again."""
    if everything:
        drop_all(settings.index)
    elif doc_ids:
        drop_groups(settings.index, doc_ids)


def _plan(writer: IndexWriter, loaded: list[Article], skipped: list[Skipped], folders: list[Path],
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
    synced = [p.resolve() for p in folders]
    if not synced:
        return
    unreadable = {Path(s.path).resolve() for s in skipped}
    for doc_id, source in writer.sources():
        if doc_id in loaded_ids or is_web_source(source):
            continue  # a web page is no file in a folder
        source = Path(source).resolve()
        if source in unreadable:
            continue  # a file that became unreadable keeps its last good version
        if any(source.is_relative_to(folder) for folder in synced) and not source.exists():
            report.removed.append(doc_id)
