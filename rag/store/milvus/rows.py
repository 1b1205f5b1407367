"""An article as Milvus rows, and rows back as chunks, entries and text; the filter expressions
searches and deletes put in their queries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from rag.errors import BadInput
from rag.store.layout import day_number, lexical_text
from rag.store.lexical import analyze
from rag.types import ArticleEntry, Chunk, Likeness, NewArticle, chunk_of

_UNDATED = -(2 ** 31)  # the day of an undated chunk: outside every date range
MAX_TEXT = 65_535  # bytes in a Milvus VARCHAR
CHUNK_FIELDS = ["doc_id", "ordinal", "title", "date", "span_start", "span_end", "text", "meta"]
ENTRY_FIELDS = ["doc_id", "title", "date", "source", "content_hash", "chunks", "meta"]
# kept in the meta of an article's first row only: what near-copy searches match
_COPY_KEYS = ("signature", "bands")


def chunk_row_id(doc_id: str, content_hash: str, ordinal: int) -> int:
    digest = hashlib.blake2b(f"{doc_id}\x1f{content_hash}\x1f{ordinal}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") & (2 ** 63 - 1)


def article_rows(new: NewArticle) -> list[dict]:
    article = new.article
    content_hash = article.content_hash
    day = day_number(article.date)
    # the whitespace the splitter dropped after each chunk, so that spans stitch back exactly
    gaps_end = [max(c.end, nxt.start) for c, nxt in zip(new.chunks, new.chunks[1:])]
    gaps_end.append(len(article.text))
    meta = article.meta
    first_meta = {**meta, "signature": [str(x) for x in article.signature],
                  "bands": list(article.bands)} if article.signature else meta
    rows = []
    for ordinal, (chunk, vector) in enumerate(zip(new.chunks, new.vectors)):
        if len(chunk.text.encode("utf-8")) > MAX_TEXT:
            raise BadInput(f"a chunk of {article.doc_id} exceeds Milvus's {MAX_TEXT}-byte text "
                           "field; lower RAG_CHUNK_SIZE")
        rows.append({
            "id": chunk_row_id(article.doc_id, content_hash, ordinal),
            "doc_id": article.doc_id, "ordinal": ordinal, "chunks": len(new.chunks),
            "title": article.title[:4000], "date": article.date or "",
            "source": article.source[:4000], "content_hash": content_hash,
            "day": _UNDATED if day is None else day,
            "span_start": chunk.start, "span_end": chunk.end, "text": chunk.text,
            "gap": article.text[chunk.end:gaps_end[ordinal]],
            "terms": " ".join(analyze(lexical_text(chunk))),
            "dense": [float(x) for x in vector],
            "meta": first_meta if ordinal == 0 else meta,
        })
    return rows


def chunk_from_row(row: dict) -> Chunk:
    return chunk_of(f"{row['doc_id']}#{row['ordinal']}", row["doc_id"], row["title"],
                    row["date"] or None, row["span_start"], row["span_end"], row["text"],
                    meta=row.get("meta") or {})


def entry_of(row: dict) -> ArticleEntry:
    meta = {k: v for k, v in (row.get("meta") or {}).items() if k not in _COPY_KEYS}
    return ArticleEntry(row["doc_id"], row["title"], row["date"] or None, row["source"],
                        row["content_hash"], row["chunks"], meta=meta)


def likeness_of(row: dict) -> Likeness:
    meta = row.get("meta") or {}
    return Likeness(row["doc_id"], meta.get("group") or row["doc_id"],
                    tuple(int(x) for x in meta.get("signature") or ()))


def stitch(rows: list[dict], start: int, end: int) -> str:
    """The article's text in [start, end) from its chunks, each followed by the whitespace the
    splitter dropped after it: together they cover the article without a hole."""
    out, pos = [], start
    for row in sorted(rows, key=lambda r: r["span_start"]):
        text = row["text"] + row["gap"]
        if row["span_start"] + len(text) <= pos or row["span_start"] >= end:
            continue
        out.append(text[pos - row["span_start"]:end - row["span_start"]])
        pos = min(end, row["span_start"] + len(text))
    return "".join(out)


def filter_expr(*, since: str | None, until: str | None, doc_ids: Sequence[str] | None) -> str:
    """A Milvus filter expression: the date range and the articles a search may return."""
    terms = []
    if since or until:
        terms.append(f"day > {_UNDATED}")
    if since:
        terms.append(f"day >= {day_number(since)}")
    if until:
        terms.append(f"day <= {day_number(until)}")
    if doc_ids is not None:
        terms.append(f"doc_id in {literal(list(doc_ids))}")
    return " and ".join(terms)


def literal(value: str | int | list) -> str:
    """A value as a Milvus expression literal. Milvus Lite has no filter templates, so strings
    (article ids come from file names: untrusted) are quoted and escaped as JSON strings, whose
    escapes Milvus's expression grammar shares."""
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, int):
        return str(int(value))
    return json.dumps(str(value), ensure_ascii=False)
