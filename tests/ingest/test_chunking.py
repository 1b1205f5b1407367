from rag.ingest.chunking import chunk_article
from rag.ingest.sources import load_articles
from tests.conftest import SEEDS


def test_chunk_spans_map_back_to_the_clean_text():
    articles, _ = load_articles([SEEDS])
    for article in articles:
        chunks = chunk_article(article, size=500, overlap=80)
        assert chunks, article.doc_id
        for chunk in chunks:
            assert article.text[chunk.start:chunk.end] == chunk.text
            assert len(chunk.text) <= 500
            assert chunk.doc_id == article.doc_id and chunk.date == article.date
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        # every non-space character of the article lies in some chunk
        assert all(i in covered for i, ch in enumerate(article.text) if not ch.isspace())


def test_chunk_ids_are_stable_and_unique():
    articles, _ = load_articles([SEEDS])
    first = [c.chunk_id for a in articles for c in chunk_article(a, size=500, overlap=80)]
    again = [c.chunk_id for a in articles for c in chunk_article(a, size=500, overlap=80)]
    assert first == again
    assert len(set(first)) == len(first)
