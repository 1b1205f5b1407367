"""An index of the earlier format is converted without embedding again."""

import json

import faiss
import pytest

from rag.errors import IndexOutdated
from rag.ingest.indexer import ingest
from rag.settings import Settings
from rag.store.reader import load_index
from tests.conftest import SEEDS
from tests.store.helpers import _answers, _chunks


def test_an_index_of_the_earlier_format_is_converted_without_embedding(seed_index, embedder,
                                                                       tmp_path, monkeypatch):
    root = tmp_path / "index"
    old = root / "gen-000001"
    old.mkdir(parents=True)
    (root / "CURRENT").write_text("gen-000001\n")
    rows = seed_index.all_chunks()
    articles = [seed_index.article(d) for d in seed_index.article_entries()]
    (old / "articles.jsonl").write_text("".join(json.dumps(a.__dict__) + "\n" for a in articles))
    (old / "chunks.jsonl").write_text("".join(json.dumps(c.to_dict()) + "\n" for _, c in rows))
    vectors = faiss.IndexFlatIP(384)
    vectors.add(seed_index.vectors([i for i, _ in rows]))
    faiss.write_index(vectors, str(old / "dense.faiss"))
    (old / "manifest.json").write_text(json.dumps({"format_version": 1, "settings": {
        "embedding_model": "all-MiniLM-L6-v2", "dimensions": 384, "chunk_size": 500,
        "chunk_overlap": 80}, "articles": {}}))
    with pytest.raises(IndexOutdated, match=f"rag ingest --index {root}"):
        load_index(root)

    monkeypatch.setattr(embedder, "embed", lambda *a, **k: pytest.fail("nothing is embedded again"))
    report = ingest([SEEDS], Settings(index=root), embedder)
    assert len(report.unchanged) == 5 and report.chunks_embedded == 0
    converted = load_index(root)
    assert _chunks(converted) == _chunks(seed_index) and not old.exists()
    monkeypatch.undo()
    assert _answers(converted, embedder) == _answers(seed_index, embedder)
