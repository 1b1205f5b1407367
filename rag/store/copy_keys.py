"""The embedded store's side of near-copies (see `rag.ingest.copies`): each article's MinHash
signature and LSH band keys, kept in their own tables so that an incoming article's candidates
are found through an index on the band key rather than by reading every article."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from rag.store.layout import pack_signature, read_meta, unpack_signature
from rag.types import Article, Likeness, article_of, meta_json


def likenesses(conn: sqlite3.Connection, bands: Sequence[int]) -> list[Likeness]:
    """Articles sharing at least one band key with `bands`: the candidates for being a copy."""
    keys = sorted(set(bands))
    if not keys:
        return []
    rows = conn.execute(
        "SELECT m.doc_id, coalesce(json_extract(a.meta, '$.group'), a.doc_id), m.signature "
        "FROM minhash m JOIN articles a USING (doc_id) WHERE m.doc_id IN (SELECT doc_id "
        f"FROM bands WHERE key IN ({','.join('?' * len(keys))}))", keys).fetchall()
    return [Likeness(r[0], r[1], unpack_signature(r[2])) for r in rows]


def insert(conn: sqlite3.Connection, article: Article) -> None:
    """The signature (empty for a text too short to link: signed all the same) and band keys."""
    conn.execute("INSERT INTO minhash VALUES (?, ?)",
                 (article.doc_id, pack_signature(article.signature)))
    conn.executemany("INSERT INTO bands VALUES (?, ?)",
                     [(key, article.doc_id) for key in sorted(set(article.bands))])


def delete(conn: sqlite3.Connection, doc_id: str) -> None:
    conn.execute("DELETE FROM minhash WHERE doc_id = ?", (doc_id,))
    conn.execute("DELETE FROM bands WHERE doc_id = ?", (doc_id,))


def unsigned(conn: sqlite3.Connection) -> list[Article]:
    """Articles written before near-copies were linked (an index converted from format 2),
    oldest first; none once `sign` has run."""
    if read_meta(conn).get("unsigned") != "1":
        return []
    rows = conn.execute("SELECT doc_id, title, date, source, text, meta FROM articles "
                        "WHERE doc_id NOT IN (SELECT doc_id FROM minhash) ORDER BY rowid")
    return [article_of(*row) for row in rows]


def sign(conn: sqlite3.Connection, articles: Sequence[Article]) -> None:
    """Keys and groups of `unsigned` articles; the caller holds a transaction."""
    for article in articles:
        insert(conn, article)
        conn.execute("UPDATE articles SET meta = ? WHERE doc_id = ?",
                     (meta_json(article.meta), article.doc_id))
    conn.execute("DELETE FROM meta WHERE key = 'unsigned'")
