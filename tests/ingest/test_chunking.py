from rag.ingest.chunking import chunk_article
from rag.ingest.sources import load_articles
from rag.types import Article
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


def test_a_paged_article_is_split_page_by_page():
    pages = ["Page one speaks of the harbour wall and its repair. " * 4,
             "Page two speaks of the budget for the repairs. " * 4, "",
             "Page four speaks of the vote in spring. " * 4]
    text, starts = "", []
    for page in pages:
        starts.append(len(text))
        text += page + ("\n\n" if page else "")
    article = Article("doc", "Title", None, "doc.pdf", text, pages=tuple(starts))
    chunks = chunk_article(article, size=120, overlap=30)
    for chunk in chunks:
        assert article.text[chunk.start:chunk.end] == chunk.text
        assert chunk.text in pages[chunk.page - 1], "no chunk crosses a page break"
    assert {c.page for c in chunks} == {1, 2, 4}
    assert [c.chunk_id for c in chunks] == [f"doc#{i}" for i in range(len(chunks))]
