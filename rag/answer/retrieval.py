"""Hybrid retrieval: dense (cosine) and BM25 searches of the index backend, fused by reciprocal
rank fusion.

Dense search finds paraphrases, BM25 finds exact names and numbers; fusing ranks rather than
scores needs no calibration between the two. Neighbouring chunks of one article overlap, so hits
that overlap are merged into one passage: the model never reads the same sentence twice, and a
quote that crosses a chunk boundary still reaches it whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.models.embedding import Embedder
from rag.types import Chunk, Passage

if TYPE_CHECKING:
    from rag.store.factory import SearchIndex


@dataclass
class Hit:
    row: int  # the chunk's id in the store
    chunk: Chunk
    fused: float
    dense: float | None = None
    bm25: float | None = None


def reciprocal_rank_fusion(rankings: list[list[int]], k: int) -> dict[int, float]:
    """score(row) = sum over rankings of 1 / (k + rank), rank counted from 1."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return fused


class Retriever:
    def __init__(self, index: SearchIndex, embedder: Embedder, *, rrf_k: int = 60,
                 candidates: int = 30) -> None:
        self.index = index
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.candidates = candidates

    def search(self, query: str, *, since: str | None = None, until: str | None = None,
               doc_ids: Sequence[str] | None = None) -> list[Hit]:
        """The fused hits inside the date range (and articles, when named), best first. Both
        indexes apply the filter while they search, so a narrow filter still yields hits."""
        index = self.index
        if index.chunk_count == 0:
            return []
        selection = index.select(since=since, until=until, doc_ids=doc_ids)
        dense = index.search_dense(self.embedder.embed_query(query), self.candidates, selection)
        lexical = index.search_lexical(query, self.candidates, since=since, until=until,
                                       doc_ids=doc_ids)
        fused = reciprocal_rank_fusion([[r for r, _ in dense], [r for r, _ in lexical]], self.rrf_k)
        chunks = index.chunks(fused)
        dense_scores, bm25_scores = dict(dense), dict(lexical)
        hits = [Hit(row=r, chunk=chunks[r], fused=s, dense=dense_scores.get(r),
                    bm25=bm25_scores.get(r)) for r, s in fused.items() if r in chunks]
        hits.sort(key=lambda h: (-h.fused, h.row))
        return hits

    def retrieve(self, query: str, top_k: int, *, since: str | None = None,
                 until: str | None = None, doc_ids: Sequence[str] | None = None) -> list[Passage]:
        """Up to `top_k` passages, numbered from 1, with overlapping neighbours merged."""
        return merge_neighbours(self.search(query, since=since, until=until, doc_ids=doc_ids),
                                self.index, top_k)


MAX_CHUNKS_PER_PASSAGE = 3


def merge_neighbours(hits: list[Hit], index: SearchIndex, top_k: int) -> list[Passage]:
    """Walk hits best first; a hit overlapping or touching an already chosen passage of the same
    article widens that passage instead of taking a place of its own, and a hit from a near-copy
    of an article already chosen (the same story from another outlet) takes none: the passage
    names that outlet instead (`Passage.also_in`)."""
    passages: list[Passage] = []
    story_of: dict[str, str] = {}  # near-copy group -> the article whose passages stand for it
    for hit in hits:
        chunk = hit.chunk
        story = chunk.group or chunk.doc_id
        if story_of.setdefault(story, chunk.doc_id) != chunk.doc_id:
            continue
        target = next((p for p in passages if p.doc_id == chunk.doc_id
                       and chunk.start <= p.end and chunk.end >= p.start
                       and len(p.chunk_ids) < MAX_CHUNKS_PER_PASSAGE), None)
        if target is not None:
            target.start = min(target.start, chunk.start)
            target.end = max(target.end, chunk.end)
            target.chunk_ids.append(chunk.chunk_id)
            target.dense_score = _max(target.dense_score, hit.dense)
            target.bm25_score = _max(target.bm25_score, hit.bm25)
            continue
        if len(passages) == top_k:
            break  # hits ranked below the k-th passage neither add nor widen
        passages.append(Passage(n=len(passages) + 1, doc_id=chunk.doc_id, chunk_id=chunk.chunk_id,
                                title=chunk.title, date=chunk.date, text=chunk.text,
                                score=round(hit.fused, 6), start=chunk.start, end=chunk.end,
                                chunk_ids=[chunk.chunk_id], dense_score=hit.dense,
                                bm25_score=hit.bm25, url=chunk.url, page=chunk.page))
    for passage in passages:
        if len(passage.chunk_ids) > 1:
            passage.chunk_ids.sort(key=_ordinal)
            passage.text = index.article_text(passage.doc_id, passage.start, passage.end)
    _name_other_outlets(passages, story_of, index)
    return passages


def _name_other_outlets(passages: list[Passage], story_of: dict[str, str],
                        index: SearchIndex) -> None:
    """Each passage lists the other articles of its story's near-copy group."""
    groups = {doc_id: story for story, doc_id in story_of.items()}
    chosen = {groups[p.doc_id] for p in passages}
    members = index.group_members(sorted(chosen)) if chosen else {}
    for passage in passages:
        passage.also_in = [{"doc_id": e.doc_id, "title": e.title, "url": e.url}
                           for e in members.get(groups[passage.doc_id], [])
                           if e.doc_id != passage.doc_id]


def _ordinal(chunk_id: str) -> int:
    return int(chunk_id.rsplit("#", 1)[1])


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
