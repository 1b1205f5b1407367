"""The Milvus backend on Milvus Lite (the same client API as a Milvus server): the same chunks and
retrieval as the embedded store built from the same articles, filters inside Milvus's queries,
updates, a write cut short, and an answer from the real model end to end."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rag.answer.assistant import Assistant
from rag.answer.retrieval import Retriever
from rag.errors import BadInput
from rag.ingest.indexer import ingest, remove_articles
from rag.settings import PROJECT_ROOT, Settings
from rag.store.factory import index_writer, open_index, read_listing
from rag.store.milvus.collection import milvus_uri
from tests.conftest import SEEDS


def _questions(split: str) -> list[str]:
    rows = [json.loads(line) for line in (PROJECT_ROOT / "eval" / "questions.jsonl").open()]
    return [r["question"] for r in rows if r.get("split") == split]


def _chunks(index):
    return [(c.chunk_id, c.title, c.date, c.start, c.end, c.text) for _, c in index.all_chunks()]


@pytest.fixture(scope="module")
def milvus_settings(tmp_path_factory) -> Settings:
    return Settings(index=tmp_path_factory.mktemp("milvus") / "index", index_backend="milvus")


@pytest.fixture(scope="module")
def milvus_index(milvus_settings, embedder):
    report = ingest([SEEDS], milvus_settings, embedder)
    assert (report.articles, report.chunks) == (5, 45)
    return open_index(milvus_settings)


def test_the_same_articles_and_chunks_as_the_embedded_store(milvus_index, seed_index,
                                                             milvus_settings):
    assert _chunks(milvus_index) == _chunks(seed_index)
    assert milvus_index.article_entries() == seed_index.article_entries()
    assert read_listing(milvus_settings).articles == seed_index.article_entries()
    live_blog = seed_index.article("004_11cf7204ea443644")
    assert milvus_index.article("004_11cf7204ea443644").title == live_blog.title
    chunk = seed_index.all_chunks()[3][1]
    assert milvus_index.article_text(chunk.doc_id, chunk.start, chunk.end + 300) == \
        seed_index.article_text(chunk.doc_id, chunk.start, chunk.end + 300)


def test_retrieval_agrees_with_the_embedded_store(milvus_index, seed_index, embedder):
    """Dense search is exact in both: the same neighbours. BM25 sees the same terms (the project's
    analyzer) with the same formula, but tantivy keeps each chunk's length in one byte, so scores
    differ by a percent or two and near-ties can swap: the passages shown agree, not always in
    the same order."""
    questions = _questions("dev") + _questions("test")
    for question in questions:
        vector = embedder.embed_query(question)
        assert [i for i, _ in milvus_index.search_dense(vector, 10)] == \
            [i for i, _ in _milvus_ids(milvus_index, seed_index, seed_index.search_dense(vector, 10))]
        ours = milvus_index.search_lexical(question, 1)
        theirs = _milvus_ids(milvus_index, seed_index, seed_index.search_lexical(question, 1))
        assert [i for i, _ in ours] == [i for i, _ in theirs], question
        assert ours[0][1] == pytest.approx(theirs[0][1], rel=0.2)  # measured: median ratio 1.00
    ours, theirs = Retriever(milvus_index, embedder), Retriever(seed_index, embedder)
    overlap = []
    for question in questions:
        mine = {c for p in ours.retrieve(question, 4) for c in p.chunk_ids}
        other = {c for p in theirs.retrieve(question, 4) for c in p.chunk_ids}
        overlap.append(len(mine & other) / len(mine | other))
    assert sum(o == 1 for o in overlap) >= 0.85 * len(questions)  # measured: 87 of 95
    assert sum(overlap) / len(overlap) >= 0.95  # measured: 0.97


def _milvus_ids(milvus_index, seed_index, hits):
    """Embedded-store hits as Milvus ids (the two number chunks differently)."""
    by_name = {c.chunk_id: i for i, c in milvus_index.all_chunks()}
    chunks = seed_index.chunks([i for i, _ in hits])
    return [(by_name[chunks[i].chunk_id], s) for i, s in hits]


def test_filters_run_inside_milvus(milvus_index, embedder):
    retriever = Retriever(milvus_index, embedder)
    question = "What did Zelenskyy say about security guarantees?"
    late = retriever.search(question, since="2025-09-20")
    assert late and {h.chunk.date for h in late} <= {"2025-09-20", "2025-09-24"}
    early = retriever.search(question, until="2025-09-04")
    assert early and {h.chunk.date for h in early} == {"2025-09-04"}
    one = retriever.search(question, doc_ids=["003_284de9346aba49a3"])
    assert len(one) == 6 and {h.chunk.doc_id for h in one} == {"003_284de9346aba49a3"}
    # ids are untrusted text: quotes and backslashes stay inside the literal
    assert retriever.search(question, doc_ids=['x" or doc_id != "', "a\\b"]) == []
    assert milvus_index.search_lexical("the of and", 5) == []  # nothing left after stop words


def test_changes_a_rebuild_and_a_write_cut_short(tmp_path, corpus, embedder):
    settings = Settings(index=tmp_path / "index", index_backend="milvus")
    ingest([corpus], settings, embedder)
    article = corpus / "003_284de9346aba49a3.txt"
    article.write_text(article.read_text() + "\nThe Valmora harbour reopened on Friday.\n")
    report = ingest([corpus], settings, embedder)
    assert report.updated == ["003_284de9346aba49a3"] and report.chunks_embedded == 6
    index = open_index(settings)
    assert index.chunk_count == 45 and any("Valmora" in c.text for _, c in index.all_chunks())

    # a write that stopped after its upsert and before its delete: both versions are held, the
    # next ingest sees the article as changed and leaves one
    article.write_text(article.read_text() + "\nA second change.\n")
    from rag.ingest.indexer import LocalWorkers
    from rag.store.milvus.rows import article_rows

    fresh = LocalWorkers(settings, embedder).embed([_load(article)], None)
    with index_writer(settings, None) as writer:
        writer._milvus.call("upsert", writer.name, article_rows(fresh[0]))
        assert writer.entries(["003_284de9346aba49a3"])["003_284de9346aba49a3"].content_hash == ""
    report = ingest([corpus], settings, embedder)
    assert report.updated == ["003_284de9346aba49a3"]
    assert open_index(settings).chunk_count == 45

    assert remove_articles(["003_284de9346aba49a3"], settings).chunks == 39
    with pytest.raises(BadInput, match="not in the index"):
        remove_articles(["003_284de9346aba49a3"], settings)
    ingest([SEEDS], settings, embedder, rebuild=True)
    client = open_index(settings)._milvus.client
    assert len(client.list_collections()) == 1  # the alias moved, the old collection is gone
    assert open_index(settings).chunk_count == 45


def _load(path):
    from rag.ingest.sources import load_article

    return load_article(path)


def test_an_answer_end_to_end_on_milvus(milvus_settings, milvus_index, embedder, assistant):
    on_milvus = Assistant(milvus_settings, embedder=embedder, generator=assistant.generator)
    record = on_milvus.ask("How many countries did Macron say are ready to send troops?")
    assert "26" in record.answer and record.citations and not record.abstained
    assert all(c.chunk_id.startswith("0") for c in record.citations)
    record = on_milvus.ask("Who won the 2018 football World Cup?")
    assert record.abstained


def test_another_process_gets_one_line_while_milvus_lite_is_open(milvus_settings, milvus_index):
    """Milvus Lite serves one process from its file; a second one is told so, without a traceback."""
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "list"], capture_output=True, text=True,
                          env=_env(milvus_settings), timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert milvus_uri(milvus_settings) in proc.stderr


def test_cli_lists_a_milvus_index(tmp_path, embedder):
    settings = Settings(index=tmp_path / "index", index_backend="milvus",
                        milvus_uri=str(tmp_path / "cli.db"))
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(SEEDS)], capture_output=True,
                          text=True, env=_env(settings), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "index holds 5 articles in 45 chunks" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "list", "--json"], capture_output=True,
                          text=True, env=_env(settings), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 5


def _env(settings: Settings) -> dict:
    import os

    return {**os.environ, "RAG_INDEX_BACKEND": "milvus", "RAG_INDEX": str(settings.index),
            "RAG_MILVUS_URI": milvus_uri(settings)}


def test_vectors_are_stored_as_given(milvus_index, seed_index):
    ids = [i for i, _ in seed_index.all_chunks()][:5]
    chunks = seed_index.chunks(ids)
    names = [chunks[i].chunk_id for i in ids]
    by_name = {c.chunk_id: i for i, c in milvus_index.all_chunks()}
    stored = milvus_index._milvus.call("get", milvus_index.name, ids=[by_name[n] for n in names],
                                       output_fields=["dense"])
    assert np.allclose(np.array([r["dense"] for r in stored]), seed_index.vectors(ids), atol=1e-6)
