"""Indexes written by earlier releases, converted to the current store without embedding again.

Format 1 kept a whole generation as files (articles and chunks as JSON Lines, one FAISS file, a
bm25s folder) and rewrote all of it on every change. Its articles, chunks and vectors are copied
into a new generation, which becomes current only once it is complete, like any rebuild.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexCorrupt
from rag.jsonl import numbered_rows
from rag.settings import AnnSettings
from rag.store.layout import current_generation
from rag.store.writer import Writer
from rag.types import Article, Chunk, IndexSettings, NewArticle


def migrate(root: Path, ann: AnnSettings) -> None:
    """Convert the format 1 generation in `root`; callers hold the write lock."""
    old = current_generation(root)
    try:
        manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
        settings = IndexSettings(**manifest["settings"])
        articles = [Article(**row) for _, row in numbered_rows(old / "articles.jsonl")]
        chunks = [Chunk(**row) for _, row in numbered_rows(old / "chunks.jsonl")]
        vectors = faiss.read_index(str(old / "dense.faiss"))
        matrix = (vectors.reconstruct_n(0, vectors.ntotal) if vectors.ntotal
                  else np.zeros((0, settings.dimensions), dtype=np.float32))
    except Exception as exc:  # any damage: the old index cannot be carried over
        raise IndexCorrupt(f"index in {root} (format 1) cannot be converted ({type(exc).__name__}: "
                           f"{exc}); rebuild with: rag ingest --rebuild --index {root}") from None
    if len(chunks) != vectors.ntotal:
        raise IndexCorrupt(f"index in {root} (format 1) has {vectors.ntotal} vectors for "
                           f"{len(chunks)} chunks; rebuild with: rag ingest --rebuild --index {root}")
    rows_of: dict[str, list[int]] = defaultdict(list)
    for row, chunk in enumerate(chunks):
        rows_of[chunk.doc_id].append(row)
    writer = Writer.create(root, settings, ann)
    try:
        writer.apply(add=[NewArticle(a, [chunks[r] for r in rows_of[a.doc_id]],
                                     matrix[rows_of[a.doc_id]]) for a in articles], remove=[])
        writer.publish()
    finally:
        writer.close()
