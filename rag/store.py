"""The on-disk index: FAISS vectors, BM25, chunk table, articles and a manifest, saved atomically.

Layout of an index folder:

    CURRENT            names the generation in use ("gen-000004")
    LOCK               held by the one process writing
    gen-000004/        one complete, immutable index
        manifest.json  format version, embedding model, dimensions, chunking, article hashes
        articles.jsonl one article a line, with its clean text
        chunks.jsonl   one chunk a line, row i = FAISS row i = BM25 document i
        dense.faiss    normalised embeddings, inner product
        bm25/          bm25s index

A write builds a whole new generation beside the old one and then replaces CURRENT with
`os.replace`, which is atomic: a process killed at any moment leaves CURRENT naming a complete
generation, so the previous index always loads.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

from rag.chunking import Chunk
from rag.corpus import Article
from rag.errors import IndexBusy, IndexCorrupt, IndexMismatch, IndexMissing
from rag.lexical import LexicalIndex

FORMAT_VERSION = 1
CURRENT = "CURRENT"


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
    format_version: int
    settings: IndexSettings
    articles: dict[str, ArticleEntry] = field(default_factory=dict)
    created_at: str = ""

    def to_json(self) -> str:
        return json.dumps({
            "format_version": self.format_version,
            "created_at": self.created_at,
            "settings": asdict(self.settings),
            "chunks": sum(a.chunks for a in self.articles.values()),
            "articles": {k: asdict(v) for k, v in sorted(self.articles.items())},
        }, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(format_version=data["format_version"],
                   settings=IndexSettings(**data["settings"]),
                   articles={k: ArticleEntry(**v) for k, v in data["articles"].items()},
                   created_at=data.get("created_at", ""))


@dataclass
class Index:
    """A loaded generation: everything retrieval needs, in memory, read-only."""
    folder: Path
    manifest: Manifest
    articles: dict[str, Article]
    chunks: list[Chunk]
    dense: faiss.Index
    lexical: LexicalIndex

    @property
    def settings(self) -> IndexSettings:
        return self.manifest.settings

    def vectors(self) -> np.ndarray:
        if self.dense.ntotal == 0:
            return np.zeros((0, self.settings.dimensions), dtype=np.float32)
        return self.dense.reconstruct_n(0, self.dense.ntotal)

    def search_dense(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self.dense.ntotal)
        if k == 0:
            return []
        scores, rows = self.dense.search(vector.reshape(1, -1).astype(np.float32), k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]


# ---------------------------------------------------------------------------------------------
# reading


def current_generation(root: Path) -> Path:
    pointer = root / CURRENT
    if not pointer.is_file():
        raise IndexMissing(f"no index in {root}; build one with: rag ingest --index {root}")
    name = pointer.read_text().strip()
    folder = root / name
    if not name.startswith("gen-") or not folder.is_dir():
        raise IndexCorrupt(f"{pointer} names a missing generation {name!r}; "
                           f"rebuild with: rag ingest --rebuild --index {root}")
    return folder


def read_manifest(root: Path) -> Manifest:
    """The current generation's article list and settings, without loading vectors or chunks:
    what listings and health checks need, at a cost that does not grow with the corpus."""
    return _manifest(current_generation(root), root)


def _manifest(folder: Path, root: Path) -> Manifest:
    try:
        manifest = Manifest.from_json((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{folder}/manifest.json is unreadable ({exc}); "
                           f"rebuild with: rag ingest --rebuild --index {root}") from None
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatch(f"index format {manifest.format_version} in {root}, this version reads "
                            f"{FORMAT_VERSION}; rebuild with: rag ingest --rebuild --index {root}")
    return manifest


def load_index(root: Path) -> Index:
    folder = current_generation(root)
    manifest = _manifest(folder, root)
    try:
        articles = {a.doc_id: a for a in (Article(**row) for row in _read_jsonl(folder / "articles.jsonl"))}
        chunks = [Chunk(**row) for row in _read_jsonl(folder / "chunks.jsonl")]
        dense = faiss.read_index(str(folder / "dense.faiss"))
        lexical = LexicalIndex.load(folder / "bm25", len(chunks)) if chunks else LexicalIndex.empty()
    except Exception as exc:  # faiss and bm25s raise assorted types on damaged files
        raise IndexCorrupt(f"index in {root} is damaged ({type(exc).__name__}: {exc}); "
                           f"rebuild with: rag ingest --rebuild --index {root}") from None
    if dense.ntotal != len(chunks) or dense.d != manifest.settings.dimensions:
        raise IndexCorrupt(f"index in {root} is inconsistent ({dense.ntotal} vectors, "
                           f"{len(chunks)} chunks); rebuild with: rag ingest --rebuild --index {root}")
    return Index(folder=folder, manifest=manifest, articles=articles, chunks=chunks,
                 dense=dense, lexical=lexical)


def check_compatible(index: Index, wanted: IndexSettings) -> None:
    """Refuse to mix vectors or chunks made with other settings into one index."""
    have = index.settings
    if have == wanted:
        return
    diffs = [f"{name} {getattr(have, name)!r} (settings say {getattr(wanted, name)!r})"
             for name in IndexSettings.__dataclass_fields__
             if getattr(have, name) != getattr(wanted, name)]
    raise IndexMismatch(f"index in {index.folder.parent} was built with " + ", ".join(diffs)
                        + f"; rebuild with: rag ingest --rebuild --index {index.folder.parent}")


def _read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


# ---------------------------------------------------------------------------------------------
# writing


@contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """One writer at a time; readers never need the lock."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "LOCK").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"another process is writing the index in {root}; "
                            "wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def save_generation(root: Path, settings: IndexSettings, articles: list[Article],
                    chunks_by_doc: dict[str, list[Chunk]], vectors_by_doc: dict[str, np.ndarray]) -> Path:
    """Write a complete new generation, switch CURRENT to it, then drop older generations.

    Callers hold `write_lock(root)`.
    """
    _remove_partial_generations(root)
    name = _next_generation_name(root)
    tmp = root / f".{name}.partial"
    tmp.mkdir(parents=True)

    ordered = sorted(articles, key=lambda a: a.doc_id)
    chunks = [c for a in ordered for c in chunks_by_doc[a.doc_id]]
    vectors = [vectors_by_doc[a.doc_id] for a in ordered if len(chunks_by_doc[a.doc_id])]
    matrix = (np.vstack(vectors).astype(np.float32) if vectors
              else np.zeros((0, settings.dimensions), dtype=np.float32))

    manifest = Manifest(
        format_version=FORMAT_VERSION, settings=settings,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        articles={a.doc_id: ArticleEntry(doc_id=a.doc_id, title=a.title, date=a.date,
                                         source=a.source, content_hash=a.content_hash,
                                         chunks=len(chunks_by_doc[a.doc_id])) for a in ordered})
    _write_jsonl(tmp / "articles.jsonl", (asdict(a) for a in ordered))
    _write_jsonl(tmp / "chunks.jsonl", (c.to_dict() for c in chunks))
    dense = faiss.IndexFlatIP(settings.dimensions)
    if len(matrix):
        dense.add(matrix)
    faiss.write_index(dense, str(tmp / "dense.faiss"))
    if chunks:
        LexicalIndex.build([_lexical_text(c) for c in chunks]).save(tmp / "bm25")
    (tmp / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    _fsync_tree(tmp)

    final = root / name
    os.replace(tmp, final)
    pointer_tmp = root / f".{CURRENT}.tmp"
    pointer_tmp.write_text(name + "\n")
    _fsync_file(pointer_tmp)
    os.replace(pointer_tmp, root / CURRENT)
    _fsync_dir(root)
    for old in root.glob("gen-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _lexical_text(chunk: Chunk) -> str:
    """BM25 sees the title too: a headline word is strong evidence of what a chunk is about."""
    return f"{chunk.title}\n{chunk.text}"


def _next_generation_name(root: Path) -> str:
    numbers = [int(p.name[4:]) for p in root.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _remove_partial_generations(root: Path) -> None:
    for partial in root.glob(".gen-*.partial"):
        shutil.rmtree(partial, ignore_errors=True)


def _write_jsonl(path: Path, rows: Iterator[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync_file(path)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            _fsync_file(path)
    for path in [*folder.rglob("*"), folder]:
        if path.is_dir():
            _fsync_dir(path)
