"""The on-disk index: one SQLite database as the truth, a FAISS vector index and a tantivy BM25
index that follow it, all changed in place by small transactions.

Layout of an index folder:

    CURRENT              names the generation in use ("gen-000004"); changes on --rebuild only
    LOCK                 held by the one process writing
    gen-000004/
        store.sqlite     format version, settings, articles, chunks (text, span, day, vector)
        dense/base-*.faiss   the vector base segment named in the database (see `rag.dense`)
        lexical/         the tantivy index (see `rag.lexical`)

Adding or removing articles is one SQLite transaction (WAL mode) whose cost follows the articles
changed, not the corpus: an article is either wholly in its old or wholly in its new state, even
after kill -9. The BM25 index is committed inside that transaction, just before it: when the
database commit is lost, the BM25 index is ahead of it, which a later write detects and repairs
(`lexical_stamp`), and searches ignore ids the database does not hold. The vector base segment is
rewritten only when the vectors added since it was written are many (`AnnSettings.delta_max`);
until then they are read from the chunk table when the index is opened.

Chunk texts stay on disk and are read for the few chunks a search returns. Memory holds the
vector segment, the newer vectors and one day number per chunk id (for date filters).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date as Date
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

from rag import dense
from rag.chunking import Chunk
from rag.corpus import Article
from rag.dense import DenseIndex, Selection
from rag.embedding import ProgressFn
from rag.errors import IndexBusy, IndexCorrupt, IndexMismatch, IndexMissing, IndexOutdated
from rag.lexical import LexicalIndex
from rag.settings import DEFAULT_ANN, AnnSettings

FORMAT_VERSION = 2
CURRENT = "CURRENT"
DATABASE = "store.sqlite"
_EPOCH = Date(1970, 1, 1)
_NO_CHUNK = np.iinfo(np.int32).min  # day number of an id that holds no chunk
_UNDATED = _NO_CHUNK + 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, chunks INTEGER NOT NULL, text TEXT NOT NULL);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, day INTEGER, text TEXT NOT NULL,
    vector BLOB NOT NULL);
CREATE INDEX chunks_by_article ON chunks (doc_id, ordinal);
CREATE TABLE dense_dead (id INTEGER PRIMARY KEY);  -- removed chunks the base segment still holds
"""


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


def day_number(iso: str | None) -> int | None:
    return None if iso is None else (Date.fromisoformat(iso) - _EPOCH).days


# ---------------------------------------------------------------------------------------------
# finding and opening


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


def _connect(folder: Path, root: Path) -> sqlite3.Connection:
    path = folder / DATABASE
    if not path.is_file():
        if (folder / "manifest.json").is_file():
            raise IndexOutdated(f"index in {root} was written by an earlier release (format 1); "
                                f"convert it, without embedding anything again, with: "
                                f"rag ingest --index {root}")
        raise IndexCorrupt(f"{folder} holds no {DATABASE}; rebuild with: rag ingest --rebuild "
                           f"--index {root}")
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise IndexCorrupt(f"{path} is unreadable ({exc}); rebuild with: rag ingest --rebuild "
                           f"--index {root}") from None
    version = int(meta.get("format_version", 0))
    if version != FORMAT_VERSION:
        conn.close()
        raise IndexMismatch(f"index format {version} in {root}, this release reads "
                            f"{FORMAT_VERSION}; rebuild with: rag ingest --rebuild --index {root}")
    return conn


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta"))


def _settings_of(meta: dict[str, str]) -> IndexSettings:
    return IndexSettings(**json.loads(meta["settings"]))


def read_manifest(root: Path) -> Manifest:
    """The article list and settings, at a cost that follows the articles, not the chunks."""
    folder = current_generation(root)
    conn = _connect(folder, root)
    try:
        meta = _meta(conn)
        rows = conn.execute("SELECT doc_id, title, date, source, content_hash, chunks "
                            "FROM articles ORDER BY doc_id").fetchall()
    finally:
        conn.close()
    return Manifest(format_version=FORMAT_VERSION, settings=_settings_of(meta),
                    articles={r[0]: ArticleEntry(*r) for r in rows},
                    created_at=meta.get("created_at", ""))


def load_index(root: Path, ann: AnnSettings = DEFAULT_ANN, previous: Index | None = None) -> Index:
    """Open the current generation; the vector base segment of `previous` (an earlier opening)
    is reused when it is still the one in use, so reopening after a small write is quick."""
    folder = current_generation(root)
    conn = _connect(folder, root)
    try:
        return Index(folder, conn, ann, previous)
    except IndexCorrupt:
        conn.close()
        raise
    except Exception as exc:  # faiss, tantivy and numpy raise assorted types on damaged files
        conn.close()
        raise IndexCorrupt(f"index in {root} is damaged ({type(exc).__name__}: {exc}); "
                           f"rebuild with: rag ingest --rebuild --index {root}") from None


# ---------------------------------------------------------------------------------------------
# reading


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
        meta = _meta(self._conn)
        self.settings = _settings_of(meta)
        self.created_at = meta.get("created_at", "")
        ids, days = self._days()
        self._days_by_id = np.full(int(ids.max(initial=0)) + 1, _NO_CHUNK, dtype=np.int32)
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
        self._live = Selection(self._days_by_id != _NO_CHUNK) if dead else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- articles -------------------------------------------------------------------------------

    def article_entries(self) -> dict[str, ArticleEntry]:
        rows = self._query("SELECT doc_id, title, date, source, content_hash, chunks FROM articles "
                           "ORDER BY doc_id")
        return {r[0]: ArticleEntry(*r) for r in rows}

    def article(self, doc_id: str) -> Article | None:
        rows = self._query("SELECT doc_id, title, date, source, text FROM articles WHERE doc_id = ?",
                           (doc_id,))
        return Article(*rows[0]) if rows else None

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
                    "SELECT c.id, c.doc_id, c.ordinal, a.title, a.date, c.start, c.end, c.text "
                    f"FROM chunks c JOIN articles a USING (doc_id) WHERE c.id IN ({marks})", batch):
                found[row[0]] = Chunk(chunk_id=f"{row[1]}#{row[2]}", doc_id=row[1], title=row[3],
                                      date=row[4], start=row[5], end=row[6], text=row[7])
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
                _stack([r[1] for r in rows], self.settings.dimensions))

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors in the order of `ids`."""
        rows = {}
        for start in range(0, len(ids), 500):
            batch = [int(i) for i in ids[start:start + 500]]
            marks = ",".join("?" * len(batch))
            rows.update(self._query(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", batch))
        return _stack([rows[int(i)] for i in ids], self.settings.dimensions)

    # -- search ---------------------------------------------------------------------------------

    def select(self, *, since: str | None = None, until: str | None = None,
               doc_ids: Sequence[str] | None = None) -> Selection | None:
        """The chunk ids a filtered search may return; None when nothing is filtered. Chunks
        without a date fall outside every date range."""
        if not since and not until and doc_ids is None:
            return None
        days = self._days_by_id
        mask = (days != _NO_CHUNK) & (days != _UNDATED) if since or until else days != _NO_CHUNK
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
                and self._days_by_id[i] != _NO_CHUNK]
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
        rows = self._query("SELECT id, coalesce(day, ?) FROM chunks", (int(_UNDATED),))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        table = np.array(rows, dtype=np.int64)
        return table[:, 0], table[:, 1].astype(np.int32)

    def _vectors_above(self, upto: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._query("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id", (upto,))
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        return ids, _stack([r[1] for r in rows], self.settings.dimensions)

    def _dead_count(self) -> int:
        return self._query("SELECT count(*) FROM dense_dead")[0][0]

    def _ids_of(self, doc_ids: Sequence[str]) -> np.ndarray:
        ids: list[int] = []
        for doc_id in doc_ids:
            ids += [r[0] for r in self._query("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        return np.array(ids, dtype=np.int64)


def _stack(blobs: list[bytes], dimensions: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimensions), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimensions)


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


class Writer:
    """Changes to one generation. Callers hold `write_lock(root)`.

    `Writer.create` starts a new generation beside the current one, which becomes current only
    when `publish` is called; `Writer.open` changes the current generation in place.
    """

    def __init__(self, root: Path, folder: Path, ann: AnnSettings, *, new: bool) -> None:
        self.root = root
        self.folder = folder
        self.ann = ann
        self.new = new
        self.conn = _connect(folder, root)
        self.settings = _settings_of(_meta(self.conn))
        self.lexical = LexicalIndex(folder / "lexical")
        (folder / "dense").mkdir(exist_ok=True)

    @classmethod
    def create(cls, root: Path, settings: IndexSettings, ann: AnnSettings) -> Writer:
        _remove_partial_generations(root)
        folder = root / f".{_next_generation_name(root)}.partial"
        folder.mkdir(parents=True)
        conn = sqlite3.connect(folder / DATABASE, isolation_level=None)
        with conn:
            conn.executescript(_SCHEMA)
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("format_version", str(FORMAT_VERSION)),
                ("settings", json.dumps(asdict(settings))),
                ("created_at", datetime.now(timezone.utc).isoformat(timespec="seconds")),
                ("dense_base", ""), ("dense_upto", "0"), ("dense_lists", ""),
                ("lexical_stamp", "0"), ("articles", "0"), ("chunks", "0")])
        conn.close()
        return cls(root, folder, ann, new=True)

    @classmethod
    def open(cls, root: Path, ann: AnnSettings) -> Writer:
        writer = cls(root, current_generation(root), ann, new=False)
        writer.repair()
        return writer

    def close(self) -> None:
        self.conn.close()

    # -- reading what is there ------------------------------------------------------------------

    def entries(self, doc_ids: Sequence[str]) -> dict[str, ArticleEntry]:
        """The entries of those of `doc_ids` that the index holds."""
        found = {}
        for start in range(0, len(doc_ids), 500):
            batch = list(doc_ids[start:start + 500])
            found.update((r[0], ArticleEntry(*r)) for r in self.conn.execute(
                "SELECT doc_id, title, date, source, content_hash, chunks FROM articles "
                f"WHERE doc_id IN ({','.join('?' * len(batch))})", batch))
        return found

    def sources(self) -> Iterator[tuple[str, str]]:
        """(doc id, source file) of every article."""
        yield from self.conn.execute("SELECT doc_id, source FROM articles")

    def counts(self) -> tuple[int, int]:
        """(articles, chunks), kept in the database's meta table: counting rows would cost as
        much as the corpus is large."""
        meta = _meta(self.conn)
        return int(meta["articles"]), int(meta["chunks"])

    # -- changing -------------------------------------------------------------------------------

    def apply(self, add: Sequence[NewArticle], remove: Sequence[str]) -> None:
        """Replace or remove articles in one transaction, the BM25 index committed inside it;
        then fold the vectors into a new base segment if that is due."""
        self._replace(add, remove)
        self.fold()

    def _replace(self, add: Sequence[NewArticle], remove: Sequence[str]) -> None:
        conn = self.conn
        with self._transaction():
            meta = _meta(conn)
            dense_upto = int(meta["dense_upto"])
            gone = [doc_id for doc_id in remove] + [n.article.doc_id for n in add]
            dropped, dropped_articles = self._drop(gone)
            conn.executemany("INSERT OR IGNORE INTO dense_dead VALUES (?)",
                             [(i,) for i in dropped if i <= dense_upto])
            added = [row for new in add for row in self._insert(new)]
            articles = int(meta["articles"]) + len(add) - dropped_articles
            chunks = int(meta["chunks"]) + len(added) - len(dropped)
            stamp = self.lexical.apply(delete=dropped, add=added)
            self._set(lexical_stamp=stamp, articles=articles, chunks=chunks)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _drop(self, doc_ids: Sequence[str]) -> tuple[list[int], int]:
        """Delete these articles (those the index holds); their chunk ids and how many were held."""
        ids: list[int] = []
        articles = 0
        for doc_id in doc_ids:
            ids += [r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
            self.conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            articles += self.conn.execute("DELETE FROM articles WHERE doc_id = ?", (doc_id,)).rowcount
        return ids, articles

    def _set(self, **values: object) -> None:
        self.conn.executemany("UPDATE meta SET value = ? WHERE key = ?",
                              [(str(v), k) for k, v in values.items()])

    def _insert(self, new: NewArticle) -> list[tuple[int, int | None, str]]:
        a = new.article
        self.conn.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (a.doc_id, a.title, a.date, a.source, a.content_hash, len(new.chunks), a.text))
        day = day_number(a.date)
        vectors = np.ascontiguousarray(new.vectors, dtype=np.float32)
        rows = []
        for ordinal, (chunk, vector) in enumerate(zip(new.chunks, vectors)):
            cursor = self.conn.execute(
                "INSERT INTO chunks (doc_id, ordinal, start, end, day, text, vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (a.doc_id, ordinal, chunk.start, chunk.end, day, chunk.text, vector.tobytes()))
            rows.append((cursor.lastrowid, day, lexical_text(chunk)))
        return rows

    def _last_id(self) -> int:
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
        return int(row[0]) if row else 0

    # -- keeping the followers in step ----------------------------------------------------------

    def repair(self) -> None:
        """A BM25 commit whose database commit was lost left the BM25 index ahead: rebuild it
        from the chunk table."""
        stamp = int(_meta(self.conn)["lexical_stamp"])
        if self.lexical.commit_stamp() == stamp:
            return
        rows = self.conn.execute("SELECT c.id, c.day, a.title || char(10) || c.text "
                                 "FROM chunks c JOIN articles a USING (doc_id) ORDER BY c.id")
        self._set(lexical_stamp=self.lexical.rebuild(rows))

    def fold(self, on_progress: ProgressFn | None = None) -> bool:
        """Write a new vector base segment when enough was added or removed since the last one
        (decided from the meta table alone); True when one was written."""
        meta = _meta(self.conn)
        upto, live = int(meta["dense_upto"]), int(meta["chunks"])
        lists = int(meta["dense_lists"]) if meta["dense_lists"] else None
        newer = self.conn.execute("SELECT count(*) FROM chunks WHERE id > ?", (upto,)).fetchone()[0]
        dead = self.conn.execute("SELECT count(*) FROM dense_dead").fetchone()[0]
        retrain = lists is None or dense.needs_training(lists, live, self.ann)
        if (not retrain or lists is None) and newer <= self.ann.delta_max \
                and dead <= max(self.ann.delta_max, live // 10):
            return False
        last = self._last_id()
        if retrain:
            base = dense.empty_base(self.settings.dimensions, live, self.ann)
            if not base.is_trained:
                dense.train(base, self._sample(base.nlist * dense.TRAIN_POINTS_PER_LIST))
            self._add_vectors(base, 0, last, on_progress)
        else:
            base = dense.read_base(self.folder / "dense" / meta["dense_base"])
            dead_ids = np.array([r[0] for r in self.conn.execute("SELECT id FROM dense_dead")],
                                dtype=np.int64)
            dense.remove(base, dead_ids)
            self._add_vectors(base, upto, last, on_progress)
        name = f"base-{last:012d}.faiss"
        dense.write_base(base, self.folder / "dense" / name)
        with self._transaction():
            self._set(dense_base=name, dense_upto=last,
                      dense_lists=base.nlist if isinstance(base, faiss.IndexIVF) else 0)
            self.conn.execute("DELETE FROM dense_dead")
        # the segment just replaced stays for readers whose snapshot still names it
        keep = {name, meta["dense_base"]}
        for old in (self.folder / "dense").glob("*.faiss"):
            if old.name not in keep:
                old.unlink(missing_ok=True)
        return True

    def _add_vectors(self, base, above: int, upto: int, on_progress) -> None:
        total = self.conn.execute("SELECT count(*) FROM chunks WHERE id > ? AND id <= ?",
                                  (above, upto)).fetchone()[0]
        done = 0
        cursor = self.conn.execute("SELECT id, vector FROM chunks WHERE id > ? AND id <= ? "
                                   "ORDER BY id", (above, upto))
        while rows := cursor.fetchmany(50_000):
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            dense.add(base, ids, _stack([r[1] for r in rows], self.settings.dimensions))
            done += len(rows)
            if on_progress:
                on_progress(done, total)

    def _sample(self, n: int) -> np.ndarray:
        rows = self.conn.execute("SELECT vector FROM chunks ORDER BY random() LIMIT ?", (n,)).fetchall()
        return _stack([r[0] for r in rows], self.settings.dimensions)

    def discard(self) -> None:
        """Drop a created generation that will not be published."""
        assert self.new, "only a created generation is discarded"
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def publish(self) -> Path:
        """Make a new generation current and drop the older ones."""
        assert self.new, "only a created generation is published"
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.close()
        _fsync_tree(self.folder)
        final = self.root / self.folder.name[1:].removesuffix(".partial")
        os.replace(self.folder, final)
        pointer_tmp = self.root / f".{CURRENT}.tmp"
        pointer_tmp.write_text(final.name + "\n")
        _fsync_file(pointer_tmp)
        os.replace(pointer_tmp, self.root / CURRENT)
        _fsync_file(self.root)
        for old in self.root.glob("gen-*"):
            if old.name != final.name:
                shutil.rmtree(old, ignore_errors=True)
        return final


def lexical_text(chunk: Chunk) -> str:
    """BM25 sees the title too: a headline word is strong evidence of what a chunk is about."""
    return f"{chunk.title}\n{chunk.text}"


def check_compatible(have: IndexSettings, wanted: IndexSettings, where: str) -> None:
    """Refuse to mix vectors or chunks made with other settings into one index."""
    if have == wanted:
        return
    diffs = [f"{name} {getattr(have, name)!r} (settings say {getattr(wanted, name)!r})"
             for name in IndexSettings.__dataclass_fields__
             if getattr(have, name) != getattr(wanted, name)]
    raise IndexMismatch(f"index in {where} was built with " + ", ".join(diffs)
                        + "; rebuild it with: rag ingest --rebuild")


def _next_generation_name(root: Path) -> str:
    numbers = [int(p.name[4:]) for p in root.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _remove_partial_generations(root: Path) -> None:
    for partial in root.glob(".gen-*.partial"):
        shutil.rmtree(partial, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        _fsync_file(path)
