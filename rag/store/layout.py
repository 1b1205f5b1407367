"""The on-disk index: one SQLite database as the truth, a FAISS vector index and a tantivy BM25
index that follow it, all changed in place by small transactions. This module holds the folder's
layout, its format and how it is found and opened; `rag.store.reader` searches it and
`rag.store.writer` changes it.

Layout of an index folder:

    CURRENT              names the generation in use ("gen-000004"); changes on --rebuild only
    LOCK                 held by the one process writing
    gen-000004/
        store.sqlite     format version, settings, articles, chunks (text, span, day, vector)
        dense/base-*.faiss   the vector base segment named in the database (see `rag.store.dense`)
        lexical/         the tantivy index (see `rag.store.lexical`)

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

import json
import os
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date as Date
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag.errors import BadInput, IndexCorrupt, IndexMismatch, IndexMissing, IndexOutdated
from rag.types import ArticleEntry, Chunk, IndexSettings, Manifest, read_meta_json

FORMAT_VERSION = 3  # 3: article meta (URL, author, pages, near-copy group) and MinHash tables
CURRENT = "CURRENT"
DATABASE = "store.sqlite"
_EPOCH = Date(1970, 1, 1)
NO_CHUNK = np.iinfo(np.int32).min  # day number of an id that holds no chunk
UNDATED = NO_CHUNK + 1

# near-copies: the group each article belongs to, and the MinHash signatures and LSH band keys
# that find an incoming article's copies without reading every article
_COPIES_SCHEMA = """
CREATE INDEX articles_by_group ON articles (json_extract(meta, '$.group'));
CREATE TABLE minhash (doc_id TEXT PRIMARY KEY, signature BLOB NOT NULL);
CREATE TABLE bands (key INTEGER NOT NULL, doc_id TEXT NOT NULL);
CREATE INDEX bands_by_key ON bands (key);
CREATE INDEX bands_by_article ON bands (doc_id);
"""
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, chunks INTEGER NOT NULL, text TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}');  -- `Article.meta` as JSON: url, author, pages, group
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, day INTEGER, text TEXT NOT NULL,
    vector BLOB NOT NULL);
CREATE INDEX chunks_by_article ON chunks (doc_id, ordinal);
CREATE TABLE dense_dead (id INTEGER PRIMARY KEY);  -- removed chunks the base segment still holds
""" + _COPIES_SCHEMA
# what format 2 lacks; `rag.store.migrate` adds it in place
FORMAT_2_TO_3 = "ALTER TABLE articles ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';" + _COPIES_SCHEMA


ENTRY_COLUMNS = "doc_id, title, date, source, content_hash, chunks, meta"


def entry_of(row: Sequence) -> ArticleEntry:
    """An `ArticleEntry` from a row of `ENTRY_COLUMNS`."""
    return ArticleEntry(*row[:6], meta=read_meta_json(row[6]))


def pack_signature(signature: Sequence[int]) -> bytes:
    return np.asarray(signature, dtype=np.uint64).tobytes()


def unpack_signature(blob: bytes) -> tuple[int, ...]:
    return tuple(int(x) for x in np.frombuffer(blob, dtype=np.uint64))


def day_number(iso: str | None) -> int | None:
    return None if iso is None else (Date.fromisoformat(iso) - _EPOCH).days


def lexical_text(chunk: Chunk) -> str:
    """BM25 sees the title too: a headline word is strong evidence of what a chunk is about."""
    return f"{chunk.title}\n{chunk.text}"


def stack_vectors(blobs: list[bytes], dimensions: int) -> np.ndarray:
    """Vectors stored as float32 blobs, one row each."""
    if not blobs:
        return np.zeros((0, dimensions), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimensions)


# ---------------------------------------------------------------------------------------------
# the index path


def check_folder(root: Path) -> None:
    """Refuse, in one line, an index path that is not a folder and cannot become one: a file, a
    link to nothing, a path through a file, or one this user may not look into. A path that does
    not exist yet is fine."""
    try:
        _check_folder(root)
    except PermissionError as exc:
        raise BadInput(f"cannot look into the index path {root}: {exc.strerror or exc}; give "
                       "--index (or RAG_INDEX) a folder this user may use") from None


def _check_folder(root: Path) -> None:
    if root.is_dir():
        return
    if root.exists():
        raise BadInput(f"the index path {root} is a file, not a folder; give --index (or "
                       "RAG_INDEX) a folder")
    if root.is_symlink():
        raise BadInput(f"the index path {root} is a link to {os.readlink(root)}, which does not "
                       "exist; give --index (or RAG_INDEX) a folder")
    for parent in root.parents:
        if parent.is_dir():
            return
        if parent.exists() or parent.is_symlink():
            raise BadInput(f"the index path {root} cannot be a folder: {parent} is a file; give "
                           "--index (or RAG_INDEX) a folder")


def make_folder(root: Path) -> None:
    """The index folder, created with its parents when missing."""
    check_folder(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the index folder {root}: {exc.strerror or exc}; give "
                       "--index (or RAG_INDEX) a folder this user may write") from None


def check_pointer(root: Path) -> None:
    """A folder named CURRENT cannot be replaced by a new pointer (a rebuild fails on it): the
    user removes it."""
    pointer = root / CURRENT
    if pointer.is_dir() and not pointer.is_symlink():
        raise IndexCorrupt(f"{pointer} is a folder, not the file naming the generation in use; "
                           f"remove it, then rebuild with: rag ingest --rebuild --index {root}")


def next_generation_name(root: Path) -> str:
    """The name of the generation after the newest in `root`."""
    numbers = [int(p.name[4:]) for p in root.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def remove_partial_generations(root: Path) -> None:
    """What a write cut short left of a new generation (files of that name too)."""
    for partial in root.glob(".gen-*.partial"):
        if partial.is_dir() and not partial.is_symlink():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# finding and opening


def current_generation(root: Path) -> Path:
    pointer = root / CURRENT
    check_folder(root)
    check_pointer(root)
    if not pointer.is_file():
        raise IndexMissing(f"no index in {root}; build one with: rag ingest --index {root}")
    try:
        name = pointer.read_text().strip()
    except UnicodeDecodeError:
        raise IndexCorrupt(f"{pointer} holds no generation name; rebuild with: rag ingest "
                           f"--rebuild --index {root}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {pointer}: {exc.strerror or exc}") from None
    folder = root / name
    if name.startswith("gen-") and folder.exists() and not folder.is_dir():
        raise IndexCorrupt(f"{pointer} names {name!r}, which is a file, not a generation folder; "
                           f"rebuild with: rag ingest --rebuild --index {root}")
    if not name.startswith("gen-") or not folder.is_dir():
        raise IndexCorrupt(f"{pointer} names a missing generation {name!r}; "
                           f"rebuild with: rag ingest --rebuild --index {root}")
    return folder


def connect(folder: Path, root: Path) -> sqlite3.Connection:
    path = folder / DATABASE
    if not path.is_file():
        if (folder / "manifest.json").is_file():
            raise IndexOutdated(f"index in {root} was written by an earlier release (format 1); "
                                f"convert it, without embedding anything again, with: "
                                f"rag ingest --index {root}")
        raise IndexCorrupt(f"{folder} holds no {DATABASE}; rebuild with: rag ingest --rebuild "
                           f"--index {root}")
    conn = None
    try:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        if not os.access(folder, os.W_OK):  # WAL mode writes beside the database, even to read
            raise BadInput(f"cannot open {path} ({exc}): this user may not write in {folder}, "
                           "and SQLite must") from None
        raise IndexCorrupt(f"{path} is unreadable ({exc}); rebuild with: rag ingest --rebuild "
                           f"--index {root}") from None
    version = int(meta.get("format_version", 0))
    if version == 2:
        conn.close()
        raise IndexOutdated(f"index in {root} was written by an earlier release (format 2); "
                            f"convert it in place, without embedding anything again, with: "
                            f"rag ingest --index {root}")
    if version != FORMAT_VERSION:
        conn.close()
        raise IndexMismatch(f"index format {version} in {root}, this release reads "
                            f"{FORMAT_VERSION}; rebuild with: rag ingest --rebuild --index {root}")
    return conn


def create_database(folder: Path, settings: IndexSettings) -> None:
    """The database of a new, empty generation."""
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


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta"))


def settings_of(meta: dict[str, str]) -> IndexSettings:
    return IndexSettings(**json.loads(meta["settings"]))


def read_manifest(root: Path) -> Manifest:
    """The article list and settings, at a cost that follows the articles, not the chunks."""
    folder = current_generation(root)
    conn = connect(folder, root)
    try:
        meta = read_meta(conn)
        rows = conn.execute(f"SELECT {ENTRY_COLUMNS} FROM articles ORDER BY doc_id").fetchall()
    finally:
        conn.close()
    return Manifest(format_version=FORMAT_VERSION, settings=settings_of(meta),
                    articles={r[0]: entry_of(r) for r in rows},
                    created_at=meta.get("created_at", ""))


def check_compatible(have: IndexSettings, wanted: IndexSettings, where: str) -> None:
    """Refuse to mix vectors or chunks made with other settings into one index."""
    if have == wanted:
        return
    diffs = [f"{name} {getattr(have, name)!r} (settings say {getattr(wanted, name)!r})"
             for name in IndexSettings.__dataclass_fields__
             if getattr(have, name) != getattr(wanted, name)]
    raise IndexMismatch(f"index in {where} was built with " + ", ".join(diffs)
                        + "; rebuild it with: rag ingest --rebuild")
