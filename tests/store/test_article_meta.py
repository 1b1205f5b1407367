"""What an article knows beyond its text (link, author, pages, near-copy group) is kept by the
store, given back with every chunk, and added in place to an index of the earlier format."""

import sqlite3

import pytest

from rag.errors import IndexOutdated
from rag.ingest.indexer import ingest, ingest_articles
from rag.store.layout import DATABASE, current_generation
from rag.store.reader import load_index
from rag.types import Article
from tests.conftest import SEEDS

PAGES = ["The harbour council of Valmora met on Monday to debate the sea wall. " * 8,
         "Engineers told the council that repairs would cost four million crowns. " * 8,
         "The vote on the repairs was postponed until the spring session. " * 8]


def _paged_article() -> Article:
    text, starts = "", []
    for page in PAGES:
        starts.append(len(text))
        text += page.strip() + "\n\n"
    return Article(doc_id="valmora", title="Valmora sea wall", date="2025-10-02",
                   source="https://news.example/valmora", text=text.strip(),
                   url="https://news.example/valmora", author="R. Teller", pages=tuple(starts))


def test_link_author_and_pages_round_trip_and_reach_each_chunk(settings, embedder):
    article = _paged_article()
    ingest_articles([article], [], settings, embedder)
    index = load_index(settings.index)
    stored = index.article("valmora")
    assert (stored.url, stored.author, stored.pages) == (article.url, article.author, article.pages)
    assert stored.content_hash == article.content_hash
    assert index.article_entries()["valmora"].url == article.url
    chunks = [c for _, c in index.all_chunks()]
    assert {c.page for c in chunks} == {1, 2, 3}
    for chunk in chunks:
        assert chunk.url == article.url
        assert chunk.page == article.page_at(chunk.start)
        first_words = article.text[chunk.start:chunk.start + 30]
        assert first_words in PAGES[chunk.page - 1]

    report = ingest_articles([article], [], settings, embedder)
    assert report.unchanged == ["valmora"]
    moved = Article(**{**article.__dict__, "pages": (0, article.pages[2])})
    assert ingest_articles([moved], [], settings, embedder).updated == ["valmora"]


def test_an_article_without_links_hashes_as_before():
    plain = Article("a", "Title", "2025-09-01", "a.txt", "Some text.")
    import hashlib
    assert plain.content_hash == hashlib.sha256("Title\x1f2025-09-01\x1fSome text.".encode()).hexdigest()


def _downgrade_to_format_2(root):
    conn = sqlite3.connect(current_generation(root) / DATABASE, isolation_level=None)
    conn.executescript("""
        DROP INDEX articles_by_group; DROP TABLE minhash; DROP TABLE bands;
        ALTER TABLE articles DROP COLUMN meta;
        UPDATE meta SET value = '2' WHERE key = 'format_version';""")
    conn.close()


def test_an_index_of_format_2_is_converted_in_place_without_embedding(settings, embedder,
                                                                      monkeypatch):
    ingest([SEEDS], settings, embedder)
    before = [c.to_dict() for _, c in load_index(settings.index).all_chunks()]
    _downgrade_to_format_2(settings.index)
    with pytest.raises(IndexOutdated, match=f"rag ingest --index {settings.index}"):
        load_index(settings.index)

    monkeypatch.setattr(embedder, "embed", lambda *a, **k: pytest.fail("nothing is embedded again"))
    report = ingest([SEEDS], settings, embedder)
    assert len(report.unchanged) == 5 and report.chunks_embedded == 0
    assert [c.to_dict() for _, c in load_index(settings.index).all_chunks()] == before
    conn = sqlite3.connect(current_generation(settings.index) / DATABASE)
    assert conn.execute("SELECT count(*) FROM minhash").fetchone()[0] == 5, "signed on the way"
    assert conn.execute("SELECT count(*) FROM meta WHERE key = 'unsigned'").fetchone()[0] == 0
    conn.close()
