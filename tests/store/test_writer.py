"""Writing the store: incremental writes, crash safety and vector segments, on the real embedding
model, FAISS, tantivy and SQLite."""

import os
import signal
import subprocess
import sys
import time

import pytest

import rag.store.lexical
from rag.answer.retrieval import Retriever
from rag.errors import BadInput
from rag.ingest.indexer import ingest, remove_articles
from rag.settings import Settings
from rag.store.reader import load_index
from tests.store.helpers import QUESTIONS, _answers, _bulk, _chunks


def test_incremental_ingest_adds_changes_and_removes(settings, corpus, embedder):
    first = ingest([corpus], settings, embedder)
    assert len(first.added) == 5 and first.chunks_embedded == first.chunks

    (corpus / "harbour.txt").write_text(" date 2025-10-02 The harbour of Valmora reopened on "
                                        "Thursday after a storm closed it for nine days.")
    report = ingest([corpus], settings, embedder)
    assert report.added == ["harbour"] and len(report.unchanged) == 5
    assert report.chunks_embedded == 1  # only the new article was embedded

    (corpus / "harbour.txt").write_text(" date 2025-10-03 The harbour of Valmora reopened on "
                                        "Friday after a storm closed it for eleven days.")
    report = ingest([corpus], settings, embedder)
    assert report.updated == ["harbour"] and report.chunks_embedded == 1
    index = load_index(settings.index)
    assert "eleven days" in index.article("harbour").text
    assert not any("nine days" in c["text"] for c in _chunks(index))
    assert Retriever(index, embedder).retrieve("harbour storm nine days", 3)[0].doc_id == "harbour"

    (corpus / "001_b72cc718d4f6e6c6.txt").unlink()
    report = ingest([corpus], settings, embedder)
    assert report.removed == ["001_b72cc718d4f6e6c6"] and report.chunks_embedded == 0
    index = load_index(settings.index)
    assert index.article("001_b72cc718d4f6e6c6") is None
    entries = index.article_entries()
    assert index.chunk_count == len(_chunks(index)) == sum(e.chunks for e in entries.values())
    assert index.lexical.size == index.chunk_count  # BM25 follows the chunk table
    hit = Retriever(index, embedder).retrieve("Valmora harbour storm", 1)[0]
    assert hit.doc_id == "harbour"

    remove_articles(["harbour"], settings)
    assert load_index(settings.index).article("harbour") is None
    with pytest.raises(BadInput, match="not in the index"):
        remove_articles(["harbour"], settings)


def test_a_failed_write_leaves_the_previous_index(settings, corpus, embedder, monkeypatch):
    ingest([corpus], settings, embedder)
    before = load_index(settings.index)
    (corpus / "extra.txt").write_text("An extra article about a new bridge that opened in Valmora.")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(rag.store.lexical.LexicalIndex, "apply", broken)
    with pytest.raises(OSError):
        ingest([corpus], settings, embedder)
    after = load_index(settings.index)
    assert after.article("extra") is None and _chunks(after) == _chunks(before)
    monkeypatch.undo()
    assert ingest([corpus], settings, embedder).added == ["extra"]


def test_a_lost_database_commit_is_repaired(settings, corpus, embedder, monkeypatch):
    """The BM25 index commits just before the database: if the database commit is lost, searches
    ignore the ids it never held, and the next write rebuilds the BM25 index from the truth."""
    ingest([corpus], settings, embedder)
    before = _answers(load_index(settings.index), embedder)
    (corpus / "extra.txt").write_text("Valmora opened a new bridge over the river Quell.")
    original = rag.store.lexical.LexicalIndex.apply

    def dies_after_the_commit(self, **kwargs):
        original(self, **kwargs)
        raise KeyboardInterrupt  # what a kill between the two commits leaves behind

    monkeypatch.setattr(rag.store.lexical.LexicalIndex, "apply", dies_after_the_commit)
    with pytest.raises(KeyboardInterrupt):
        ingest([corpus], settings, embedder)
    monkeypatch.undo()
    index = load_index(settings.index)
    assert index.article("extra") is None and index.lexical.size > index.chunk_count
    assert not {h for h, _ in index.search_lexical("bridge river Quell", 10)} - set(index.chunks(
        h for h, _ in index.search_lexical("bridge river Quell", 10)))
    assert _answers(index, embedder) == before

    assert ingest([corpus], settings, embedder).added == ["extra"]
    index = load_index(settings.index)
    assert index.lexical.size == index.chunk_count
    assert Retriever(index, embedder).retrieve("bridge over the river Quell", 1)[0].doc_id == "extra"


def test_killed_ingest_leaves_the_previous_index(settings, corpus, embedder, tmp_path):
    ingest([corpus], settings, embedder)
    before = load_index(settings.index)
    bulk = _bulk(tmp_path / "bulk", 300, repeat=12)
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(bulk), "--index",
                             str(settings.index)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    seen = ""
    while time.time() < deadline and "Embedding" not in seen:
        seen += proc.stderr.read(1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "Embedding" in seen, "the ingest never reached the embedding step"
    after = load_index(settings.index)
    assert after.article_entries() == before.article_entries()
    assert _chunks(after) == _chunks(before)


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05])
def test_kill_at_any_moment_of_a_write_keeps_each_article_whole(settings, embedder, tmp_path, delay):
    """kill -9 while a batch that replaces 40 articles and adds 40 is written: the index loads,
    answers, and holds each article either as it was or as it became, never half of each."""
    corpus = _bulk(tmp_path / "bulk", 80)
    for i in range(40, 80):
        (corpus / f"bulk{i:03d}.txt").unlink()
    ingest([corpus], settings, embedder)
    _bulk(corpus, 80, text="The harbour of Valmora reopened after repairs to the sea wall, "
                           "report {i} says, and ferries run again. ")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--index",
                             str(settings.index)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = ""
    deadline = time.time() + 120
    while time.time() < deadline and "100%" not in seen and proc.poll() is None:
        seen += proc.stderr.read(1)  # the progress bar: embedding is done, writing starts
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    index = load_index(settings.index)
    entries = index.article_entries()
    assert len(entries) in (40, 80)  # one transaction: all of the batch or none of it
    by_doc: dict[str, list[str]] = {}
    for _, chunk in index.all_chunks():
        by_doc.setdefault(chunk.doc_id, []).append(chunk.text)
    for doc_id, entry in entries.items():
        text = index.article(doc_id).text
        assert ("harbour of Valmora reopened" in text) != ("council of Valmora" in text)
        assert len(by_doc[doc_id]) == entry.chunks
        assert all(t in text for t in by_doc[doc_id])
    assert Retriever(index, embedder).retrieve("sea wall repairs", 3)
    ingest([corpus], settings, embedder)  # and the next write finishes the job
    index = load_index(settings.index)
    assert len(index.article_entries()) == 80 and index.lexical.size == index.chunk_count


def test_vector_segments_fold_train_and_forget_removed_chunks(tmp_path, corpus, embedder):
    """With small thresholds, the seed corpus grows past the exact limit: the store trains an IVF
    base segment, folds later additions into it, and never returns a removed chunk."""
    settings = Settings(index=tmp_path / "index", ann_threshold=60, ann_nprobe=2,
                        dense_delta_max=20)
    ingest([corpus], settings, embedder)
    exact = Settings(index=tmp_path / "exact")
    ingest([corpus], exact, embedder)
    index = load_index(settings.index, settings.ann)
    assert index.dense.base is not None and not index.dense.approximate  # 45 chunks: flat
    _bulk(corpus, 30, text="Article {i}: the council of Valmora voted on the harbour budget "
                           "after long debate. ", repeat=8)
    ingest([corpus], settings, embedder)
    ingest([corpus], exact, embedder)
    index = load_index(settings.index, settings.ann)
    assert index.dense.approximate and index.dense.delta.ntotal <= 20
    reference = load_index(exact.index)
    vector = embedder.embed_query("How many countries are ready to send troops?")
    found = {i for i, _ in index.search_dense(vector, 10)}
    truth = {i for i, _ in reference.search_dense(vector, 10)}
    assert len(found) == 10 and found == truth  # all (2) lists probed: exact; ids number alike

    before = index
    remove_articles(["004_11cf7204ea443644"], settings)
    index = load_index(settings.index, settings.ann, previous=before)
    assert index.dense.base is before.dense.base  # nothing folded: the segment is not read again
    for question in QUESTIONS:
        hits = index.search_dense(embedder.embed_query(question), 20)
        assert hits and set(index.chunks(i for i, _ in hits)) == {i for i, _ in hits}
        assert all(c.doc_id != "004_11cf7204ea443644"
                   for c in index.chunks(i for i, _ in hits).values())
