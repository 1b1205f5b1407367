"""BM25 over chunk texts in a tantivy index: English stop words and stemming, add and delete in
place, date filters inside the query.

Exact names and numbers ("26 countries", "Article 5") are where dense retrieval misses and
BM25 finds the passage, so both run on every question. tantivy keeps postings in segments that
grow by appending and answers a disjunction with block-max WAND, so a question costs milliseconds
at a million chunks; SQLite's FTS5 `bm25()` scores every chunk that shares any word with the
question and took 0.4 to 2.7 s a question there (`benchmarks/bench_lexical.py` says how this was
measured).

The chunk table in SQLite is the truth; this index follows it, one commit per write, each commit
stamped so that the store can tell when a database commit that should have followed was lost.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import tantivy

_ANALYZER = "rag_english"
_WRITER_HEAP = 64_000_000  # bytes; tantivy's floor is 15 MB per thread


def _analyzer() -> tantivy.TextAnalyzer:
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stopword("english"))
            .filter(tantivy.Filter.stemmer("english"))
            .build())


def analyze(text: str) -> list[str]:
    """The terms BM25 indexes for `text`: what other backends index, so all rank alike."""
    return _shared_analyzer().analyze(text)


@functools.cache
def _shared_analyzer() -> tantivy.TextAnalyzer:
    return _analyzer()


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", indexed=True, fast=True)
    builder.add_integer_field("day", indexed=True, fast=True)  # days since 1970; undated: none
    builder.add_text_field("body", stored=False, tokenizer_name=_ANALYZER, index_option="freq")
    return builder.build()


class LexicalIndex:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._schema = _schema()
        self._analyzer = _analyzer()
        self._index = tantivy.Index(self._schema, path=str(folder), reuse=True)
        self._index.register_tokenizer(_ANALYZER, self._analyzer)
        self._searcher = self._index.searcher()

    # -- writing (callers hold the index's write lock) -----------------------------------------

    def apply(self, *, delete: Iterable[int], add: Iterable[tuple[int, int | None, str]]) -> int:
        """Delete chunk ids, add (id, day, text) documents, and commit once: all of it or none is
        seen. Returns the commit's stamp, which `commit_stamp` reports until the next commit."""
        with self._writer() as writer:
            for chunk_id in delete:
                writer.delete_documents_by_term("id", int(chunk_id))
            self._add(writer, add)
            stamp = writer.commit()
        self._reopen()
        return stamp

    def rebuild(self, documents: Iterable[tuple[int, int | None, str]]) -> int:
        """Everything anew from (id, day, text) documents, in one commit."""
        with self._writer() as writer:
            writer.delete_all_documents()
            self._add(writer, documents)
            stamp = writer.commit()
        self._reopen()
        return stamp

    def commit_stamp(self) -> int:
        with self._writer() as writer:
            return writer.commit_opstamp

    @contextmanager
    def _writer(self) -> Iterator[tantivy.IndexWriter]:
        writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        try:
            # files of a commit that a kill cut short would collide with this writer's own
            writer.garbage_collect_files()
            yield writer
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()  # also releases tantivy's writer lock

    @staticmethod
    def _add(writer: tantivy.IndexWriter, documents: Iterable[tuple[int, int | None, str]]) -> None:
        for chunk_id, day, text in documents:
            fields = {"id": int(chunk_id), "body": text}
            if day is not None:
                fields["day"] = int(day)
            writer.add_document(tantivy.Document(**fields))

    def _reopen(self) -> None:
        self._index.reload()
        self._searcher = self._index.searcher()

    # -- reading --------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._searcher.num_docs

    def search(self, query: str, k: int, *, days: tuple[int | None, int | None] | None = None,
               ids: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) pairs, best first, for chunks sharing a word with the query;
        `days` keeps only chunks dated inside the range, `ids` only those chunks."""
        terms = sorted({token for token in self._analyzer.analyze(query)})
        if not terms or k <= 0:
            return []
        words = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "body", t)) for t in terms])
        clauses = [(tantivy.Occur.Must, words)]
        if days is not None:
            low, high = days
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(
                tantivy.Query.range_query(self._schema, "day", tantivy.FieldType.Integer, low, high), 0.0)))
        if ids is not None:
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(
                tantivy.Query.term_set_query(self._schema, "id", [int(i) for i in ids]), 0.0)))
        query_ = words if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)
        searcher = self._searcher
        hits = searcher.search(query_, k, count=False).hits
        ids_ = searcher.fast_field_values("id", [address for _, address in hits])
        return [(int(i), float(score)) for i, (score, _) in zip(ids_, hits)]
