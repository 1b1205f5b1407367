"""Reading the embedded index (see `rag.store.layout`): opening the current generation, the
searches over it, and the chunk and article reads that follow them."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rag.errors import IndexCorrupt
from rag.settings import DEFAULT_ANN, AnnSettings
from rag.store import dense
from rag.store.dense import DenseIndex, Selection
from rag.store.layout import (
    ENTRY_COLUMNS,
    NO_CHUNK,
    UNDATED,
    connect,
    current_generation,
    day_number,
    entry_of,
    read_meta,
    settings_of,
    stack_vectors,
)
from rag.store.lexical import LexicalIndex
from rag.types import Article, ArticleEntry, Chunk, article_of, chunk_of, read_meta_json


def load_index(root: Path, ann: AnnSettings = DEFAULT_ANN, previous: Index | None = None) -> Index:
    """Open the current generation; the vector base segment of `previous` (an earlier opening)
    is reused when it is still the one in use, so reopening after a small write is quick."""
    folder = current_generation(root)
    conn = connect(folder, root)
    try:
        return Index(folder, conn, ann, previous)
    except IndexCorrupt:
        conn.close()
        raise
    except Exception as exc:  # faiss, tantivy and numpy raise assorted types on damaged files
        conn.close()
        raise IndexCorrupt(f"index in {root} is damaged ({type(exc).__name__}: {exc}); "
                           f"rebuild with: rag ingest --rebuild --index {root}") from None


class Index:
    """An open index: searches and the chunk and article reads that follow them."""

    def __init__(self, folder: Path, conn: sqlite3.Connection, ann: AnnSettings,
                 previous: Index | None = None) -> None:
        self.folder = folder
        self._conn = conn
        self._lock = threading.Lock()  # one statement at a time on the shared connection
        conn.execute("BEGIN")  # one snapshot: a writer committing meanwhile is not half seen
        try:
            self._open_vectors(folder, ann, previous)
        finally:
            conn.execute("COMMIT")
        self.lexical = LexicalIndex(folder / "lexical")

    def _open_vectors(self, folder: Path, ann: AnnSettings, previous: Index | None) -> None:
        meta = read_meta(self._conn)
        self.settings = settings_of(meta)
        self.created_at = meta.get("created_at", "")
        ids, days = self._days()
        self._days_by_id = np.full(int(ids.max(initial=0)) + 1, NO_CHUNK, dtype=np.int32)
        self._days_by_id[ids] = days
        self.chunk_count = len(ids)
        self.base_name = meta["dense_base"]
        if previous is not None and (previous.folder, previous.base_name) == (folder, self.base_name):
            base = previous.dense.base  # read-only while searched: safe to share
        elif self.base_name:
            base = dense.read_base(folder / "dense" / self.base_name)
        else:
            base = None
        delta_ids, delta_vectors = self._vectors_above(int(meta["dense_upto"]))
        self.dense = DenseIndex(self.settings.dimensions, base, delta_ids, delta_vectors,
                                nprobe=ann.nprobe)
        dead = self._dead_count()
        base_size = base.ntotal if base is not None else 0
        if base_size - dead + len(delta_ids) != self.chunk_count:
            raise IndexCorrupt(f"index in {folder.parent} is inconsistent ({base_size} - {dead} + "
                               f"{len(delta_ids)} vectors for {self.chunk_count} chunks); rebuild "
                               f"with: rag ingest --rebuild --index {folder.parent}")
        self._live = Selection(self._days_by_id != NO_CHUNK) if dead else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- articles -------------------------------------------------------------------------------

    def article_entries(self) -> dict[str, ArticleEntry]:
        rows = self._query(f"SELECT {ENTRY_COLUMNS} FROM articles ORDER BY doc_id")
        return {r[0]: entry_of(r) for r in rows}

    def article(self, doc_id: str) -> Article | None:
        rows = self._query("SELECT doc_id, title, date, source, text, meta FROM articles "
                           "WHERE doc_id = ?", (doc_id,))
        return article_of(*rows[0]) if rows else None

    def group_members(self, groups: Sequence[str]) -> dict[str, list[ArticleEntry]]:
        """The articles of each near-copy group: those it was set on, and the one that named it
        unless that one has since moved to another group."""
        found: dict[str, list[ArticleEntry]] = {g: [] for g in groups}
        for group in found:
            rows = self._query(f"SELECT {ENTRY_COLUMNS} FROM articles WHERE doc_id = ? "
                               "OR json_extract(meta, '$.group') = ? ORDER BY doc_id", (group, group))
            found[group] = [e for e in map(entry_of, rows) if e.group == group]
        return found

    def article_text(self, doc_id: str, start: int, end: int) -> str:
        """A span of an article's clean text, read without loading the rest of it."""
        rows = self._query("SELECT substr(text, ?, ?) FROM articles WHERE doc_id = ?",
                           (start + 1, end - start, doc_id))
        return rows[0][0] if rows else ""

    # -- chunks ---------------------------------------------------------------------------------

    def chunks(self, ids: Iterable[int]) -> dict[int, Chunk]:
        """The chunks with these ids that the index holds (a removed one is simply absent)."""
        ids = sorted({int(i) for i in ids})
        found: dict[int, Chunk] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start:start + 500]
            marks = ",".join("?" * len(batch))
            for row in self._query(
                    "SELECT c.id, c.doc_id, c.ordinal, a.title, a.date, c.start, c.end, c.text, "
                    f"a.meta FROM chunks c JOIN articles a USING (doc_id) WHERE c.id IN ({marks})",
                    batch):
                found[row[0]] = chunk_of(f"{row[1]}#{row[2]}", *row[1:2], *row[3:8],
                                         meta=read_meta_json(row[8]))
        return found

    def all_chunks(self) -> list[tuple[int, Chunk]]:
        """Every chunk by article and position: for tests and small tools, not for search."""
        ids = [r[0] for r in self._query("SELECT id FROM chunks ORDER BY doc_id, ordinal")]
        by_id = self.chunks(ids)
        return [(i, by_id[i]) for i in ids]

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every chunk, read whole: for exact-search comparisons and tools."""
        rows = self._query("SELECT id, vector FROM chunks ORDER BY id")
        return (np.array([r[0] for r in rows], dtype=np.int64),
                stack_vectors([r[1] for r in rows], self.settings.dimensions))

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors in the order of `ids`."""
        rows = {}
        for start in range(0, len(ids), 500):
            batch = [int(i) for i in ids[start:start + 500]]
            marks = ",".join("?" * len(batch))
            rows.update(self._query(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", batch))
        return stack_vectors([rows[int(i)] for i in ids], self.settings.dimensions)

    # -- search ---------------------------------------------------------------------------------

    def select(self, *, since: str | None = None, until: str | None = None,
               doc_ids: Sequence[str] | None = None) -> Selection | None:
        """The chunk ids a filtered search may return; None when nothing is filtered. Chunks
        without a date fall outside every date range."""
        if not since and not until and doc_ids is None:
            return None
        days = self._days_by_id
        mask = (days != NO_CHUNK) & (days != UNDATED) if since or until else days != NO_CHUNK
        if since:
            mask &= days >= day_number(since)
        if until:
            mask &= days <= day_number(until)
        if doc_ids is not None:
            wanted = np.zeros(len(days), dtype=bool)
            wanted[self._ids_of(doc_ids)] = True
            mask &= wanted
        return Selection(mask)

    def search_dense(self, vector: np.ndarray, k: int,
                     selection: Selection | None = None) -> list[tuple[int, float]]:
        return self.dense.search(vector, k, selection, self._live)

    def search_lexical(self, query: str, k: int, *, since: str | None = None, until: str | None = None,
                       doc_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """BM25 hits the database holds, filtered inside tantivy's query."""
        days = None
        if since or until:
            days = (day_number(since) if since else None, day_number(until) if until else None)
        ids = self._ids_of(doc_ids).tolist() if doc_ids is not None else None
        hits = self.lexical.search(query, k + self._lexical_surplus(), days=days, ids=ids)
        held = [(i, s) for i, s in hits if 0 <= i < len(self._days_by_id)
                and self._days_by_id[i] != NO_CHUNK]
        return held[:k]

    def _lexical_surplus(self) -> int:
        """How many more hits to ask for than wanted: the BM25 index may still hold chunks that a
        write cut short left behind (repaired by the next write)."""
        return max(0, self.lexical.size - self.chunk_count)

    # -- helpers --------------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _days(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._query("SELECT id, coalesce(day, ?) FROM chunks", (int(UNDATED),))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        table = np.array(rows, dtype=np.int64)
        return table[:, 0], table[:, 1].astype(np.int32)

    def _vectors_above(self, upto: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._query("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id", (upto,))
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        return ids, stack_vectors([r[1] for r in rows], self.settings.dimensions)

    def _dead_count(self) -> int:
        return self._query("SELECT count(*) FROM dense_dead")[0][0]

    def _ids_of(self, doc_ids: Sequence[str]) -> np.ndarray:
        ids: list[int] = []
        for doc_id in doc_ids:
            ids += [r[0] for r in self._query("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        return np.array(ids, dtype=np.int64)
