"""Reading the Milvus index (see `rag.store.milvus`): the reads and searches retrieval makes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rag.errors import IndexMissing
from rag.settings import Settings
from rag.store.lexical import analyze
from rag.store.milvus.collection import (
    BATCH,
    COLLECTION_FORMAT,
    Collection,
    collection_settings,
    count,
    read_entries,
    read_properties,
    scan,
)
from rag.store.milvus.rows import CHUNK_FIELDS, chunk_from_row, filter_expr, literal, stitch
from rag.types import Article, ArticleEntry, Chunk, Manifest, article_of


class MilvusIndex:
    """The reads and searches `rag.answer.retrieval` needs, answered by Milvus."""

    def __init__(self, settings: Settings) -> None:
        self._milvus = Collection(settings)
        name = self._milvus.current()
        if name is None:
            raise IndexMissing(f"no Milvus collection {settings.milvus_collection!r} at "
                               f"{self._milvus.uri}; build one with: rag ingest")
        self.name = name
        self._milvus.call("load_collection", name)
        properties = read_properties(self._milvus, name)
        self.settings = collection_settings(properties, name)
        self.created_at = properties.get("rag.created_at", "")
        self.chunk_count = count(self._milvus, name)

    def close(self) -> None:
        """The client is shared by everything in this process that uses the same URI."""

    # -- articles -------------------------------------------------------------------------------

    def article_entries(self) -> dict[str, ArticleEntry]:
        return dict(sorted(read_entries(self._milvus, self.name, "ordinal == 0").items()))

    def article(self, doc_id: str) -> Article | None:
        entries = read_entries(self._milvus, self.name,
                               f"ordinal == 0 and doc_id == {literal(doc_id)}")
        if doc_id not in entries:
            return None
        entry = entries[doc_id]
        rows = list(scan(self._milvus, self.name, f"doc_id == {literal(doc_id)}",
                         ["span_start", "text", "gap"]))
        end = max((r["span_start"] + len(r["text"] + r["gap"]) for r in rows), default=0)
        return article_of(doc_id, entry.title, entry.date, entry.source, stitch(rows, 0, end),
                          entry.meta)

    def group_members(self, groups: Sequence[str]) -> dict[str, list[ArticleEntry]]:
        found: dict[str, list[ArticleEntry]] = {}
        for group in groups:
            entries = read_entries(self._milvus, self.name,
                                   f"ordinal == 0 and (doc_id == {literal(group)} or "
                                   f"meta[\"group\"] == {literal(group)})")
            found[group] = sorted((e for e in entries.values() if e.group == group),
                                  key=lambda e: e.doc_id)
        return found

    def article_text(self, doc_id: str, start: int, end: int) -> str:
        rows = self._milvus.call(
            "query", self.name, output_fields=["span_start", "text", "gap"],
            filter=f"doc_id == {literal(doc_id)} and span_start < {int(end)} "
                   f"and span_end >= {int(start)}")
        return stitch(rows, start, end)

    # -- chunks ---------------------------------------------------------------------------------

    def chunks(self, ids: Iterable[int]) -> dict[int, Chunk]:
        ids = sorted({int(i) for i in ids})
        found: dict[int, Chunk] = {}
        for start in range(0, len(ids), BATCH):
            for row in self._milvus.call("get", self.name, ids=ids[start:start + BATCH],
                                         output_fields=CHUNK_FIELDS):
                found[int(row["id"])] = chunk_from_row(row)
        return found

    def all_chunks(self) -> list[tuple[int, Chunk]]:
        """Every chunk by article and position: for tests and small tools, not for search."""
        rows = list(scan(self._milvus, self.name, "", CHUNK_FIELDS))
        rows.sort(key=lambda r: (r["doc_id"], r["ordinal"]))
        return [(int(r["id"]), chunk_from_row(r)) for r in rows]

    # -- search ---------------------------------------------------------------------------------

    def select(self, *, since: str | None = None, until: str | None = None,
               doc_ids: Sequence[str] | None = None) -> str | None:
        """The filter expression both searches put inside their Milvus query; None when nothing
        is filtered."""
        if not since and not until and doc_ids is None:
            return None
        return filter_expr(since=since, until=until, doc_ids=doc_ids)

    def search_dense(self, vector, k: int,
                     selection: str | None = None) -> list[tuple[int, float]]:
        hits = self._milvus.call("search", self.name, data=[[float(x) for x in vector]],
                                 anns_field="dense", limit=k, filter=selection or "",
                                 output_fields=[], search_params={"metric_type": "IP"})
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]]

    def search_lexical(self, query: str, k: int, *, since: str | None = None,
                       until: str | None = None,
                       doc_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        terms = " ".join(analyze(query))
        if not terms:
            return []
        hits = self._milvus.call("search", self.name, data=[terms], anns_field="sparse", limit=k,
                                 filter=filter_expr(since=since, until=until, doc_ids=doc_ids),
                                 output_fields=[],
                                 search_params={"metric_type": "BM25"})
        # Milvus Lite reports BM25 scores negated (still best first); a server, as they are
        return [(int(h["id"]), abs(float(h["distance"]))) for h in hits[0]]


def read_milvus_manifest(settings: Settings) -> Manifest:
    index = MilvusIndex(settings)
    return Manifest(format_version=COLLECTION_FORMAT, settings=index.settings,
                    articles=index.article_entries(), created_at=index.created_at)
