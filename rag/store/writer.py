"""Changing the embedded index (see `rag.store.layout`): one writer at a time, in place by
small transactions, or as a new generation that becomes current only once it is complete."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from rag.settings import AnnSettings
from rag.store import copy_keys, dense
from rag.store.files import fsync_file, fsync_tree, unwritable
from rag.store.layout import (
    CURRENT,
    ENTRY_COLUMNS,
    check_pointer,
    connect,
    create_database,
    current_generation,
    day_number,
    entry_of,
    lexical_text,
    next_generation_name,
    read_meta,
    remove_partial_generations,
    settings_of,
    stack_vectors,
)
from rag.store.lexical import LexicalIndex
from rag.types import (
    Article,
    ArticleEntry,
    IndexSettings,
    Likeness,
    NewArticle,
    ProgressFn,
    meta_json,
)


class Writer:
    """Changes to one generation. Callers hold `rag.store.files.write_lock(root)`.

    `Writer.create` starts a new generation beside the current one, which becomes current only
    when `publish` is called; `Writer.open` changes the current generation in place.
    """

    def __init__(self, root: Path, folder: Path, ann: AnnSettings, *, new: bool) -> None:
        self.root = root
        self.folder = folder
        self.ann = ann
        self.new = new
        self.conn = connect(folder, root)
        self.settings = settings_of(read_meta(self.conn))
        self.lexical = LexicalIndex(folder / "lexical")
        (folder / "dense").mkdir(exist_ok=True)

    @classmethod
    def create(cls, root: Path, settings: IndexSettings, ann: AnnSettings) -> Writer:
        check_pointer(root)  # a rebuild could not replace it
        remove_partial_generations(root)
        folder = root / f".{next_generation_name(root)}.partial"
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise unwritable(root, exc) from None
        create_database(folder, settings)
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
            found.update((r[0], entry_of(r)) for r in self.conn.execute(
                f"SELECT {ENTRY_COLUMNS} FROM articles "
                f"WHERE doc_id IN ({','.join('?' * len(batch))})", batch))
        return found

    def likenesses(self, bands: Sequence[int]) -> list[Likeness]:
        return copy_keys.likenesses(self.conn, bands)

    def unsigned(self) -> list[Article]:
        return copy_keys.unsigned(self.conn)

    def sign(self, articles: Sequence[Article]) -> None:
        """Store the signatures, band keys and groups of `unsigned` articles, in one transaction."""
        with self._transaction():
            copy_keys.sign(self.conn, articles)

    def sources(self) -> Iterator[tuple[str, str]]:
        """(doc id, source file) of every article."""
        yield from self.conn.execute("SELECT doc_id, source FROM articles")

    def counts(self) -> tuple[int, int]:
        """(articles, chunks), kept in the database's meta table: counting rows would cost as
        much as the corpus is large."""
        meta = read_meta(self.conn)
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
            meta = read_meta(conn)
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
            copy_keys.delete(self.conn, doc_id)
            articles += self.conn.execute("DELETE FROM articles WHERE doc_id = ?", (doc_id,)).rowcount
        return ids, articles

    def _set(self, **values: object) -> None:
        self.conn.executemany("UPDATE meta SET value = ? WHERE key = ?",
                              [(str(v), k) for k, v in values.items()])

    def _insert(self, new: NewArticle) -> list[tuple[int, int | None, str]]:
        a = new.article
        self.conn.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          (a.doc_id, a.title, a.date, a.source, a.content_hash, len(new.chunks),
                           a.text, meta_json(a.meta)))
        copy_keys.insert(self.conn, a)
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
        stamp = int(read_meta(self.conn)["lexical_stamp"])
        if self.lexical.commit_stamp() == stamp:
            return
        rows = self.conn.execute("SELECT c.id, c.day, a.title || char(10) || c.text "
                                 "FROM chunks c JOIN articles a USING (doc_id) ORDER BY c.id")
        self._set(lexical_stamp=self.lexical.rebuild(rows))

    def fold(self, on_progress: ProgressFn | None = None) -> bool:
        """Write a new vector base segment when enough was added or removed since the last one
        (decided from the meta table alone); True when one was written."""
        meta = read_meta(self.conn)
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
            dense.add(base, ids, stack_vectors([r[1] for r in rows], self.settings.dimensions))
            done += len(rows)
            if on_progress:
                on_progress(done, total)

    def _sample(self, n: int) -> np.ndarray:
        rows = self.conn.execute("SELECT vector FROM chunks ORDER BY random() LIMIT ?", (n,)).fetchall()
        return stack_vectors([r[0] for r in rows], self.settings.dimensions)

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
        fsync_tree(self.folder)
        final = self.root / self.folder.name[1:].removesuffix(".partial")
        os.replace(self.folder, final)
        pointer_tmp = self.root / f".{CURRENT}.tmp"
        pointer_tmp.write_text(final.name + "\n")
        fsync_file(pointer_tmp)
        os.replace(pointer_tmp, self.root / CURRENT)
        fsync_file(self.root)
        for old in self.root.glob("gen-*"):
            if old.name != final.name:
                shutil.rmtree(old, ignore_errors=True)
        return final
