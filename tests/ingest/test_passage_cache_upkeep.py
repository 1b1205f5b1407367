"""Ingest keeps the passage cache honest: a changed or removed article's saved states go.

The saved states here are placeholders written through the cache's own store; what they hold does
not matter to which of them ingest drops (tests/models/test_passage_cache.py stores real ones).
"""

from __future__ import annotations

from rag.ingest.indexer import ingest, remove_articles
from rag.models.kv_store import KVStore, disk_usage
from rag.store.reader import load_index

TOKENS = [1, 2, 3]


def _save_one_state_per_article(settings) -> KVStore:
    store = KVStore(settings.index, "namespace", memory_bytes=0, disk_bytes=1 << 30)
    for doc_id in load_index(settings.index).article_entries():
        store.put("block", doc_id, TOKENS, b"state of " + doc_id.encode())
    return store


def test_changing_an_article_drops_its_saved_states_and_keeps_the_others(settings, corpus,
                                                                          embedder):
    ingest([corpus], settings, embedder)
    _save_one_state_per_article(settings)
    entries_before, _ = disk_usage(settings.index)
    changed = sorted(corpus.glob("*.txt"))[0]
    changed.write_text(changed.read_text() + "\nA sentence added later.\n")
    report = ingest([corpus], settings, embedder)
    assert len(report.updated) == 1
    store = KVStore(settings.index, "namespace", memory_bytes=0, disk_bytes=1 << 30)
    assert store.get("block", report.updated[0], TOKENS) is None
    assert disk_usage(settings.index)[0] == entries_before - 1
    for doc_id in load_index(settings.index).article_entries():
        if doc_id not in report.updated:
            assert store.get("block", doc_id, TOKENS) == b"state of " + doc_id.encode()


def test_removing_an_article_or_rebuilding_drops_saved_states(settings, corpus, embedder):
    ingest([corpus], settings, embedder)
    _save_one_state_per_article(settings)
    count, _ = disk_usage(settings.index)
    gone = next(iter(load_index(settings.index).article_entries()))
    remove_articles([gone], settings)
    assert disk_usage(settings.index)[0] == count - 1
    ingest([corpus], settings, embedder, rebuild=True)
    assert disk_usage(settings.index) == (0, 0)
