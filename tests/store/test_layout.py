"""The index folder's format and opening: the manifest read alone, and missing, corrupt and
mismatched indexes reported, on the real embedding model, FAISS, tantivy and SQLite."""

import sqlite3

import pytest

from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing
from rag.ingest.indexer import ingest
from rag.settings import Settings
from rag.store.layout import read_manifest
from rag.store.reader import load_index


def test_the_manifest_alone_lists_the_articles(seed_settings, seed_index, tmp_path):
    manifest = read_manifest(seed_settings.index)
    assert manifest.articles == seed_index.article_entries()
    assert manifest.chunks == seed_index.chunk_count
    with pytest.raises(IndexMissing, match="rag ingest"):
        read_manifest(tmp_path / "none")


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
    current.close()
    database = current.folder / "store.sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE meta SET value = '7' WHERE key = 'format_version'")
    with pytest.raises(IndexMismatch, match="format 7.*rag ingest --rebuild"):
        load_index(settings.index)
    database.write_bytes(b"not a database" * 100)
    for extra in current.folder.glob("store.sqlite-*"):
        extra.unlink()
    with pytest.raises(IndexCorrupt, match="rag ingest --rebuild"):
        load_index(settings.index)
