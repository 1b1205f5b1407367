"""Index round trip, incremental ingest and crash safety, on the real embedding model and FAISS."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import rag.store
from rag.errors import BadInput, IndexCorrupt, IndexMismatch, IndexMissing
from rag.ingest import ingest, remove_articles
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import load_index, read_manifest
from tests.conftest import SEEDS


def _answers(index, embedder, questions):
    retriever = Retriever(index, embedder)
    return [[p.chunk_id for p in retriever.retrieve(q, 5)] for q in questions]


def test_round_trip_gives_the_same_index_and_results(seed_settings, seed_index, embedder, tmp_path):
    again = Settings(index=tmp_path / "again")
    ingest([SEEDS], again, embedder)
    reloaded = load_index(again.index)
    assert [c.to_dict() for c in reloaded.chunks] == [c.to_dict() for c in seed_index.chunks]
    assert np.allclose(reloaded.vectors(), seed_index.vectors(), atol=1e-5)
    questions = ["How many countries are ready to send troops?", "Who is Steve Witkoff?"]
    assert _answers(reloaded, embedder, questions) == _answers(seed_index, embedder, questions)
    manifest = (reloaded.folder / "manifest.json").read_text()
    assert '"embedding_model": "all-MiniLM-L6-v2"' in manifest and '"dimensions": 384' in manifest


def test_the_manifest_alone_lists_the_articles(seed_settings, seed_index, tmp_path):
    manifest = read_manifest(seed_settings.index)
    assert manifest.articles == seed_index.manifest.articles
    with pytest.raises(IndexMissing, match="rag ingest"):
        read_manifest(tmp_path / "none")


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
    assert "eleven days" in index.articles["harbour"].text
    assert not any("nine days" in c.text for c in index.chunks)

    (corpus / "001_b72cc718d4f6e6c6.txt").unlink()
    report = ingest([corpus], settings, embedder)
    assert report.removed == ["001_b72cc718d4f6e6c6"] and report.chunks_embedded == 0
    index = load_index(settings.index)
    assert "001_b72cc718d4f6e6c6" not in index.articles
    assert index.dense.ntotal == len(index.chunks) == sum(e.chunks for e in index.manifest.articles.values())
    hit = Retriever(index, embedder).retrieve("Valmora harbour storm", 1)[0]
    assert hit.doc_id == "harbour"

    remove_articles(["harbour"], settings)
    assert "harbour" not in load_index(settings.index).articles
    with pytest.raises(BadInput, match="not in the index"):
        remove_articles(["harbour"], settings)


def test_failed_ingest_leaves_the_previous_index(settings, corpus, embedder, monkeypatch):
    ingest([corpus], settings, embedder)
    before = load_index(settings.index)
    (corpus / "extra.txt").write_text("An extra article about a new bridge that opened in Valmora.")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(rag.store.LexicalIndex, "save", broken)
    with pytest.raises(OSError):
        ingest([corpus], settings, embedder)
    after = load_index(settings.index)
    assert after.folder == before.folder and "extra" not in after.articles
    monkeypatch.undo()
    assert ingest([corpus], settings, embedder).added == ["extra"]
    assert not list(settings.index.glob(".gen-*"))  # the partial generation was cleaned up


def test_killed_ingest_leaves_the_previous_index(settings, corpus, embedder, tmp_path):
    ingest([corpus], settings, embedder)
    before = load_index(settings.index)
    bulk = tmp_path / "bulk"
    bulk.mkdir()
    paragraph = ("The council of Valmora debated the harbour budget for article {i}, and members "
                 "voted on repairs to the sea wall after the storm. ") * 12
    for i in range(300):
        (bulk / f"bulk{i:03d}.txt").write_text(paragraph.format(i=i))
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
    assert after.folder == before.folder
    assert sorted(after.articles) == sorted(before.articles)
    assert after.dense.ntotal == before.dense.ntotal


def test_missing_corrupt_and_mismatched_indexes_are_reported(settings, corpus, embedder):
    with pytest.raises(IndexMissing, match="rag ingest"):
        load_index(settings.index)
    ingest([corpus], settings, embedder)
    other = Settings(index=settings.index, chunk_size=800)
    with pytest.raises(IndexMismatch, match="chunk_size 500.*rag ingest --rebuild"):
        ingest([corpus], other, embedder)
    assert ingest([corpus], other, embedder, rebuild=True).chunks_embedded > 0
    assert load_index(settings.index).settings.chunk_size == 800

    current = load_index(settings.index)
    (current.folder / "dense.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexCorrupt, match="rag ingest --rebuild"):
        load_index(settings.index)
