"""Indexes written by earlier releases, converted to the current store without embedding again.

Format 1 kept a whole generation as files (articles and chunks as JSON Lines, one FAISS file, a
bm25s folder) and rewrote all of it on every change. Its articles, chunks and vectors are copied
into a new generation, which becomes current only once it is complete, like any rebuild.

Format 2 lacked the article meta (URL, author, pages, near-copy group) and the MinHash tables;
they are added in place, in one transaction, so a failed conversion leaves format 2 as it was.
Its articles have no MinHash signature yet: the next ingest signs them and links their
near-copies (`Writer.unsigned`), without embedding anything again.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexCorrupt
from rag.jsonl import numbered_rows
from rag.settings import AnnSettings
from rag.store.layout import DATABASE, FORMAT_2_TO_3, FORMAT_VERSION, current_generation
from rag.store.writer import Writer
from rag.types import Article, Chunk, IndexSettings, NewArticle


def migrate(root: Path, ann: AnnSettings) -> None:
    """Convert the format 1 or 2 generation in `root`; callers hold the write lock."""
    old = current_generation(root)
    if (old / DATABASE).is_file():
        _add_format_3(old / DATABASE)
        return
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


def _add_format_3(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
        if version is None or int(version[0]) != 2:
            return  # converted meanwhile, or not ours to convert (connect() says why)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in FORMAT_2_TO_3.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'format_version'",
                         (str(FORMAT_VERSION),))
            # the articles have no MinHash signature yet: the next ingest signs and links them
            conn.execute("INSERT INTO meta VALUES ('unsigned', '1')")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise IndexCorrupt(f"index database {path} cannot be converted ({exc}); rebuild with: "
                           f"rag ingest --rebuild --index {path.parent.parent}") from None
    finally:
        conn.close()
