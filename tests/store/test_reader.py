"""Reading the store: a round trip gives the same index and results, and filters are applied
inside both searches, on the real embedding model, FAISS, tantivy and SQLite."""

import numpy as np

from rag.answer.retrieval import Retriever
from rag.ingest.indexer import ingest
from rag.settings import Settings
from rag.store.reader import load_index
from tests.conftest import SEEDS
from tests.store.helpers import _answers, _chunks


def test_round_trip_gives_the_same_index_and_results(seed_settings, seed_index, embedder, tmp_path):
    again = Settings(index=tmp_path / "again")
    ingest([SEEDS], again, embedder)
    reloaded = load_index(again.index)
    assert _chunks(reloaded) == _chunks(seed_index)
    ids = [i for i, _ in reloaded.all_chunks()]
    assert np.allclose(reloaded.vectors(ids), seed_index.vectors(ids), atol=1e-5)
    assert _answers(reloaded, embedder) == _answers(seed_index, embedder)
    assert reloaded.settings.embedding_model == "all-MiniLM-L6-v2"
    assert reloaded.settings.dimensions == 384


def test_filters_are_applied_inside_both_searches(seed_index, embedder):
    narrow = _answers(seed_index, embedder, since="2025-09-20", until="2025-09-20")
    assert all(narrow) and all(c.startswith("001_b72cc718d4f6e6c6#") for q in narrow for c in q)
    passages = Retriever(seed_index, embedder).retrieve("security guarantees", 5,
                                                        since="2025-09-20", until="2025-09-30")
    assert passages and {p.date for p in passages} <= {"2025-09-20", "2025-09-24"}
    only = _answers(seed_index, embedder, doc_ids=["002_ae23ea00b4c5bd97"])
    assert all(only) and all(c.startswith("002_ae23ea00b4c5bd97#") for q in only for c in q)
    assert _answers(seed_index, embedder, since="2030-01-01") == [[], [], []]
    undated = seed_index.select(since="2000-01-01")
    assert undated.count == seed_index.chunk_count  # every seed article is dated
