"""BM25 engines side by side on one corpus: tantivy (the store's), SQLite FTS5's bm25() and bm25s
(the engine of format 1), at 100k and 1M chunks.

Each engine indexes the same synthetic chunks (`bench_scale.Articles`: real sentences from the
seeds and RGB, numbers redrawn) and answers the same questions for their 30 best chunks, the
depth the assistant fuses. Printed: build time, query p50/p95 without and with a date filter, and
what adding one article costs. FTS5 and tantivy add and delete in place; bm25s has no update and
must be rebuilt whole, so its "add one" is its build time.

Needs the `bench` extra (bm25s): .venv/bin/pip install -e '.[bench]'
Run: .venv/bin/python benchmarks/bench_lexical.py [--sizes 100000,1000000] [--queries 100]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from bench_scale import (  # noqa: E402
    DAYS,
    FILTER_DAYS,
    FIRST_DAY,
    Articles,
    embedded,
    percentile,
    questions,
    sentences,
)

from rag.store.layout import day_number  # noqa: E402
from rag.store.lexical import LexicalIndex  # noqa: E402


def corpus(size: int) -> list[tuple[int, int, str]]:
    articles = Articles(sentences(), None, seed=0)
    rows = []
    while len(rows) < size:
        new = articles.next()
        day = day_number(new.article.date)
        rows += [(len(rows) + i + 1, day, f"{c.title}\n{c.text}") for i, c in enumerate(new.chunks)]
    return rows[:size]


class Tantivy:
    name = "tantivy"

    def __init__(self, folder: Path, rows) -> None:
        self.index = LexicalIndex(folder)
        self.index.apply(delete=[], add=rows)

    def search(self, query: str, window) -> list[int]:
        days = (day_number(window[0]), day_number(window[1])) if window else None
        return [i for i, _ in self.index.search(query, 30, days=days)]

    def add(self, rows) -> None:
        self.index.apply(delete=[], add=rows)


class Fts5:
    """FTS5 over an external content table, porter stemming; the question's words OR-ed."""
    name = "SQLite FTS5"

    def __init__(self, folder: Path, rows) -> None:
        folder.mkdir(parents=True)
        self.db = sqlite3.connect(folder / "fts.sqlite")
        self.db.executescript(
            "PRAGMA journal_mode=WAL; CREATE TABLE chunks (id INTEGER PRIMARY KEY, day INTEGER, "
            "text TEXT); CREATE VIRTUAL TABLE fts USING fts5(text, content='chunks', "
            "content_rowid='id', tokenize='porter unicode61');")
        self.add(rows)

    def add(self, rows) -> None:
        with self.db:
            self.db.executemany("INSERT INTO chunks VALUES (?, ?, ?)", rows)
            self.db.executemany("INSERT INTO fts (rowid, text) VALUES (?, ?)",
                                [(i, text) for i, _, text in rows])

    def search(self, query: str, window) -> list[int]:
        words = {w for w in "".join(ch if ch.isalnum() else " " for ch in query.lower()).split()}
        match = " OR ".join(f'"{w}"' for w in sorted(words))
        if not window:
            sql, params = "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT 30", (match,)
        else:
            sql = ("SELECT f.rowid FROM fts f JOIN chunks c ON c.id = f.rowid WHERE fts MATCH ? "
                   "AND c.day BETWEEN ? AND ? ORDER BY rank LIMIT 30")
            params = (match, day_number(window[0]), day_number(window[1]))
        return [r[0] for r in self.db.execute(sql, params)]


class Bm25s:
    """bm25s as format 1 used it (stop words, Snowball stems); a date filter by weight mask."""
    name = "bm25s"

    def __init__(self, folder: Path, rows) -> None:
        import bm25s
        import Stemmer

        self.bm25s, self.stemmer = bm25s, Stemmer.Stemmer("english")
        self.days = np.array([day for _, day, _ in rows])
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25s.tokenize([t for _, _, t in rows], stopwords="en",
                                            stemmer=self.stemmer, show_progress=False),
                             show_progress=False)

    def search(self, query: str, window) -> list[int]:
        tokens = self.bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer,
                                     return_ids=False, show_progress=False)
        vocab = self.retriever.vocab_dict
        tokens = [[t for t in tokens[0] if t in vocab]]
        if not tokens[0]:
            return []
        mask = None
        if window:
            mask = ((self.days >= day_number(window[0])) & (self.days <= day_number(window[1])))
            mask = mask.astype(np.float32)
        rows, _ = self.retriever.retrieve(tokens, k=30, show_progress=False, n_threads=1,
                                          weight_mask=mask)
        return [int(r) + 1 for r in rows[0]]

    def add(self, rows) -> None:
        raise NotImplementedError  # no update: the index is rebuilt whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    asked = questions()
    random.Random(1).shuffle(asked)
    asked = asked[:args.queries]
    embedded(asked, "questions")  # the same questions as bench_scale
    pick = random.Random(2)
    windows = []
    for _ in asked:
        first = FIRST_DAY + timedelta(days=pick.randrange(DAYS - FILTER_DAYS))
        windows.append((first.isoformat(), (first + timedelta(days=FILTER_DAYS - 1)).isoformat()))
    print(f"{len(asked)} questions for their 30 best chunks; date filter: {FILTER_DAYS}-day windows")
    for size in (int(s) for s in args.sizes.split(",")):
        rows = corpus(size + 10)
        base, extra = rows[:size], rows[size:]
        print(f"\n{size:,d} chunks")
        print(f"{'engine':14s}{'build s':>10s}{'p50 ms':>10s}{'p95 ms':>10s}"
              f"{'filtered p50':>14s}{'filtered p95':>14s}{'add one s':>11s}")
        for engine in (Tantivy, Fts5, Bm25s):
            work = Path(tempfile.mkdtemp(prefix="rag-bench-lexical-"))
            try:
                started = time.perf_counter()
                built = engine(work / "index", base)
                build = time.perf_counter() - started
                timings = {}
                for name, filtered in (("plain", False), ("filtered", True)):
                    times = []
                    for question, window in zip(asked, windows):
                        started = time.perf_counter()
                        built.search(question, window if filtered else None)
                        times.append((time.perf_counter() - started) * 1000)
                    timings[name] = times
                try:
                    started = time.perf_counter()
                    built.add(extra)
                    add = time.perf_counter() - started
                except NotImplementedError:
                    add = build
                print(f"{engine.name:14s}{build:10.1f}{statistics.median(timings['plain']):10.1f}"
                      f"{percentile(timings['plain'], 95):10.1f}"
                      f"{statistics.median(timings['filtered']):14.1f}"
                      f"{percentile(timings['filtered'], 95):14.1f}{add:11.2f}", flush=True)
                del built
            finally:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
