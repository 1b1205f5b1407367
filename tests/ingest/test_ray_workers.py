"""Ingest on Ray Data (a local Ray runtime here) gives the same index as a local ingest of the same
files, and writes through whichever index backend the settings name."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rag.answer.retrieval import Retriever
from rag.errors import BadInput
from rag.evaluate.rgb import build_rgb_suite
from rag.ingest.indexer import ingest
from rag.ingest.ray_workers import RayWorkers
from rag.settings import Settings
from rag.store.reader import load_index
from tests.conftest import SEEDS
from tests.evaluate.test_rgb import REAL_RGB


def test_ray_ingest_of_the_rgb_snippets_equals_a_local_ingest(tmp_path, embedder):
    suite = build_rgb_suite(REAL_RGB, tmp_path / "suite")
    local, on_ray = Settings(index=tmp_path / "local"), Settings(index=tmp_path / "ray")
    ingest([suite.corpus], local, embedder)
    workers = RayWorkers(on_ray)
    progress = []
    try:
        report = ingest([suite.corpus], on_ray, embedder, workers=workers,
                        on_progress=lambda done, total: progress.append((done, total)))
    finally:
        workers.close()
    assert report.articles == suite.snippets and progress[-1] == (report.chunks, report.chunks)

    ours, theirs = load_index(on_ray.index), load_index(local.index)
    assert [(i, c.to_dict()) for i, c in ours.all_chunks()] == \
        [(i, c.to_dict()) for i, c in theirs.all_chunks()]  # ids included: written in one order
    ids, vectors = ours.all_vectors()
    assert np.allclose(vectors, theirs.vectors(ids), atol=1e-5)
    questions = [json.loads(line)["question"] for line in suite.questions.open()]
    assert len(questions) == 100
    a, b = Retriever(ours, embedder), Retriever(theirs, embedder)
    for question in questions:
        assert [p.chunk_ids for p in a.retrieve(question, 4)] == \
            [p.chunk_ids for p in b.retrieve(question, 4)], question


def test_cli_ingest_on_ray_into_milvus(tmp_path):
    env = {**os.environ, "RAG_INDEX_BACKEND": "milvus", "RAG_INDEX": str(tmp_path / "index")}
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", "--ray", str(SEEDS)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "on a local Ray runtime" in proc.stderr and "Embedding" in proc.stderr
    assert "5 added" in proc.stdout and "index holds 5 articles in 45 chunks" in proc.stdout


def test_an_unreachable_cluster_is_one_line_at_once(tmp_path):
    """Ray itself retries a head node that does not answer for minutes."""
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", "--ray", "127.0.0.1:1",
                           str(SEEDS), "--index", str(tmp_path / "index")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no Ray cluster answers at 127.0.0.1:1" in proc.stderr
    assert not (tmp_path / "index" / "CURRENT").exists()
    with pytest.raises(BadInput, match="--ray takes host:port"):
        RayWorkers(Settings(index=tmp_path / "index"), "nonsense")
