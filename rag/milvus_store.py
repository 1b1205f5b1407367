"""The index on Milvus: one collection holds each chunk's text, span, article fields, vector and
BM25 terms, so an archive that outgrows one machine is searched by a Milvus cluster.

The same client code talks to Milvus Lite (a file, embedded: what tests and CI run) and to a
Milvus server or cluster (`RAG_MILVUS_URI=http://host:19530`, `RAG_MILVUS_TOKEN=…`).

- **Search.** Dense search (inner product on normalised vectors: cosine) and BM25 full-text search
  run as two Milvus searches, each with the date and article filter inside its query expression.
  They are fused by the project's own reciprocal rank fusion (`rag.retrieval`), not by Milvus's
  `hybrid_search`: that returns only the fused score, and abstention needs the best cosine
  similarity and whether BM25 matched at all.
- **BM25 terms.** Milvus Lite's analyzer has no stemmer or stop-word filter (it accepts and ignores
  them), so the chunk's words are analysed by the project's own analyzer (`rag.lexical`, the one
  the embedded index uses) and Milvus's BM25 function indexes those terms with its standard
  tokenizer. Lite and a server then rank alike, and alike to the embedded index.
- **Ids** are derived from (article, content hash, position): a rerun writes the same rows, and a
  local and a Ray ingest of the same files give the same ids.
- **Writes** have no transactions in Milvus. A changed article's new chunks are upserted before
  its old ones are deleted, so a reader or a crash in between sees both versions, never neither;
  the next ingest sees the article twice and writes it again. `--rebuild` fills a new collection
  and then moves the alias readers use onto it, so readers never see a half-built index.
- **Article rows.** The chunk at position 0 carries the article's fields for listings; an
  article's text is its chunks' texts, each with the whitespace the splitter dropped after it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from rag.chunking import Chunk
from rag.corpus import Article
from rag.errors import BadInput, IndexBusy, IndexCorrupt, IndexMissing, ServiceUnavailable
from rag.lexical import analyze
from rag.settings import Settings
from rag.store import ArticleEntry, IndexSettings, Manifest, NewArticle, day_number, lexical_text

FORMAT_VERSION = 1
_UNDATED = -(2 ** 31)  # the day of an undated chunk: outside every date range
_MAX_TEXT = 65_535  # bytes in a Milvus VARCHAR
_BATCH = 1_000  # rows per insert, ids per get
_PAGE = 5_000  # rows per page of a full scan
_CHUNK_FIELDS = ["doc_id", "ordinal", "title", "date", "span_start", "span_end", "text"]
_ENTRY_FIELDS = ["doc_id", "title", "date", "source", "content_hash", "chunks"]


def _import_pymilvus():
    try:
        import pymilvus
    except ImportError:
        raise BadInput("the Milvus backend needs pymilvus and milvus-lite; install them with: "
                       "pip install -e '.[milvus]'") from None
    # pymilvus logs every failed call with its traceback, and it and Lite's in-process gRPC
    # server both complain of Lite's missing timestamp call on every scan; our errors say
    # what matters in one line
    for name in ("pymilvus", "pymilvus.decorators", "grpc._server", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


# ---------------------------------------------------------------------------------------------
# connecting


class Collection:
    """A client and the alias naming the collection in use; all Milvus calls go through here so
    that a server that is down or refuses becomes one line a user can act on."""

    _clients: dict[tuple[str, str], object] = {}
    _clients_lock = threading.Lock()

    def __init__(self, settings: Settings) -> None:
        self.uri = milvus_uri(settings)
        self.alias = settings.milvus_collection
        self.index_type = settings.milvus_index_type
        self.client = self._client(self.uri, settings.milvus_token or "")

    @classmethod
    def _client(cls, uri: str, token: str):
        """One client per URI and process: Milvus Lite serves one process from its file."""
        pymilvus = _import_pymilvus()
        with cls._clients_lock:
            if (uri, token) not in cls._clients:
                if not uri.startswith(("http://", "https://", "tcp://", "unix:")):
                    Path(uri).parent.mkdir(parents=True, exist_ok=True)
                try:
                    cls._clients[uri, token] = pymilvus.MilvusClient(uri=uri, token=token)
                except Exception as exc:  # pymilvus and milvus-lite raise assorted types
                    if _locked(exc):
                        raise IndexBusy(f"the Milvus Lite file {uri} is open in another process, "
                                        "and Milvus Lite serves one; stop that process, or run a "
                                        "Milvus server (RAG_MILVUS_URI=http://host:19530)") from None
                    raise ServiceUnavailable(f"cannot open Milvus at {uri}: {_reason(exc)}") from None
            return cls._clients[uri, token]

    def call(self, method: str, *args, **kwargs):
        return self.call_on(self.client, method, *args, **kwargs)

    def call_on(self, obj, method: str, *args, **kwargs):
        try:
            return getattr(obj, method)(*args, **kwargs)
        except Exception as exc:
            raise ServiceUnavailable(f"Milvus at {self.uri} failed on {method}: {_reason(exc)}") from None

    def current(self) -> str | None:
        """The collection the alias points at, or None before the first ingest."""
        try:
            return self.client.describe_alias(self.alias)["collection_name"]
        except Exception as exc:
            if "not exist" in str(exc) or "not found" in str(exc):
                return None
            raise ServiceUnavailable(f"Milvus at {self.uri} failed on describe_alias: "
                                     f"{_reason(exc)}") from None


def milvus_uri(settings: Settings) -> str:
    return settings.milvus_uri or str(settings.index / "milvus.db")


def _locked(exc: BaseException | None) -> bool:
    """Whether Milvus Lite refused because another process holds its file."""
    while exc is not None:
        if type(exc).__name__ == "DataDirLockedError":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


# ---------------------------------------------------------------------------------------------
# rows


def chunk_row_id(doc_id: str, content_hash: str, ordinal: int) -> int:
    digest = hashlib.blake2b(f"{doc_id}\x1f{content_hash}\x1f{ordinal}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") & (2 ** 63 - 1)


def _rows(new: NewArticle) -> list[dict]:
    article = new.article
    content_hash = article.content_hash
    day = day_number(article.date)
    # the whitespace the splitter dropped after each chunk, so that spans stitch back exactly
    gaps_end = [max(c.end, nxt.start) for c, nxt in zip(new.chunks, new.chunks[1:])]
    gaps_end.append(len(article.text))
    rows = []
    for ordinal, (chunk, vector) in enumerate(zip(new.chunks, new.vectors)):
        if len(chunk.text.encode("utf-8")) > _MAX_TEXT:
            raise BadInput(f"a chunk of {article.doc_id} exceeds Milvus's {_MAX_TEXT}-byte text "
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
        })
    return rows


def _chunk(row: dict) -> Chunk:
    return Chunk(chunk_id=f"{row['doc_id']}#{row['ordinal']}", doc_id=row["doc_id"],
                 title=row["title"], date=row["date"] or None, start=row["span_start"],
                 end=row["span_end"], text=row["text"])


def _entry(row: dict) -> ArticleEntry:
    return ArticleEntry(row["doc_id"], row["title"], row["date"] or None, row["source"],
                        row["content_hash"], row["chunks"])


def _stitch(rows: list[dict], start: int, end: int) -> str:
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


def _filter(*, since: str | None, until: str | None, doc_ids: Sequence[str] | None) -> str:
    """A Milvus filter expression: the date range and the articles a search may return."""
    terms = []
    if since or until:
        terms.append(f"day > {_UNDATED}")
    if since:
        terms.append(f"day >= {day_number(since)}")
    if until:
        terms.append(f"day <= {day_number(until)}")
    if doc_ids is not None:
        terms.append(f"doc_id in {_literal(list(doc_ids))}")
    return " and ".join(terms)


def _literal(value: str | int | list) -> str:
    """A value as a Milvus expression literal. Milvus Lite has no filter templates, so strings
    (article ids come from file names: untrusted) are quoted and escaped as JSON strings, whose
    escapes Milvus's expression grammar shares."""
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, int):
        return str(int(value))
    return json.dumps(str(value), ensure_ascii=False)


def _scan(collection: Collection, name: str, expr: str, fields: list[str]) -> Iterator[dict]:
    """Every row matching `expr`, a page at a time (a query returns 16,384 rows at most)."""
    iterator = collection.call("query_iterator", name, batch_size=_PAGE, filter=expr,
                               output_fields=fields)
    try:
        while page := collection.call_on(iterator, "next"):
            yield from page
    finally:
        iterator.close()


def _count(collection: Collection, name: str, expr: str = "") -> int:
    rows = collection.call("query", name, filter=expr, output_fields=["count(*)"])
    return int(rows[0]["count(*)"])


def _properties(collection: Collection, name: str) -> dict[str, str]:
    return dict(collection.call("describe_collection", name).get("properties") or {})


def _settings_of(properties: dict[str, str], where: str) -> IndexSettings:
    if properties.get("rag.format") != str(FORMAT_VERSION):
        raise IndexCorrupt(f"the Milvus collection {where} was not written by this assistant "
                           f"(format {properties.get('rag.format')!r}); rebuild with: "
                           "rag ingest --rebuild")
    return IndexSettings(**json.loads(properties["rag.settings"]))


def _entries(collection: Collection, name: str, expr: str) -> dict[str, ArticleEntry]:
    """Article entries from the rows at position 0. An article found twice (a write that stopped
    between its upsert and its delete) gets an empty hash, so the next ingest writes it again."""
    found: dict[str, ArticleEntry] = {}
    for row in _scan(collection, name, expr, _ENTRY_FIELDS):
        entry = _entry(row)
        if entry.doc_id in found and found[entry.doc_id].content_hash != entry.content_hash:
            entry.content_hash = ""
        found[entry.doc_id] = entry
    return found


# ---------------------------------------------------------------------------------------------
# reading


class MilvusIndex:
    """The reads and searches `rag.retrieval` needs, answered by Milvus."""

    def __init__(self, settings: Settings) -> None:
        self._milvus = Collection(settings)
        name = self._milvus.current()
        if name is None:
            raise IndexMissing(f"no Milvus collection {settings.milvus_collection!r} at "
                               f"{self._milvus.uri}; build one with: rag ingest")
        self.name = name
        self._milvus.call("load_collection", name)
        properties = _properties(self._milvus, name)
        self.settings = _settings_of(properties, name)
        self.created_at = properties.get("rag.created_at", "")
        self.chunk_count = _count(self._milvus, name)

    def close(self) -> None:
        """The client is shared by everything in this process that uses the same URI."""

    # -- articles -------------------------------------------------------------------------------

    def article_entries(self) -> dict[str, ArticleEntry]:
        return dict(sorted(_entries(self._milvus, self.name, "ordinal == 0").items()))

    def article(self, doc_id: str) -> Article | None:
        entries = _entries(self._milvus, self.name, f"ordinal == 0 and doc_id == {_literal(doc_id)}")
        if doc_id not in entries:
            return None
        entry = entries[doc_id]
        rows = list(_scan(self._milvus, self.name, f"doc_id == {_literal(doc_id)}",
                          ["span_start", "text", "gap"]))
        end = max((r["span_start"] + len(r["text"] + r["gap"]) for r in rows), default=0)
        return Article(doc_id, entry.title, entry.date, entry.source, _stitch(rows, 0, end))

    def article_text(self, doc_id: str, start: int, end: int) -> str:
        rows = self._milvus.call(
            "query", self.name, output_fields=["span_start", "text", "gap"],
            filter=f"doc_id == {_literal(doc_id)} and span_start < {int(end)} "
                   f"and span_end >= {int(start)}")
        return _stitch(rows, start, end)

    # -- chunks ---------------------------------------------------------------------------------

    def chunks(self, ids: Iterable[int]) -> dict[int, Chunk]:
        ids = sorted({int(i) for i in ids})
        found: dict[int, Chunk] = {}
        for start in range(0, len(ids), _BATCH):
            for row in self._milvus.call("get", self.name, ids=ids[start:start + _BATCH],
                                         output_fields=_CHUNK_FIELDS):
                found[int(row["id"])] = _chunk(row)
        return found

    def all_chunks(self) -> list[tuple[int, Chunk]]:
        """Every chunk by article and position: for tests and small tools, not for search."""
        rows = list(_scan(self._milvus, self.name, "", _CHUNK_FIELDS))
        rows.sort(key=lambda r: (r["doc_id"], r["ordinal"]))
        return [(int(r["id"]), _chunk(r)) for r in rows]

    # -- search ---------------------------------------------------------------------------------

    def select(self, *, since: str | None = None, until: str | None = None,
               doc_ids: Sequence[str] | None = None) -> str | None:
        """The filter expression both searches put inside their Milvus query; None when nothing
        is filtered."""
        if not since and not until and doc_ids is None:
            return None
        return _filter(since=since, until=until, doc_ids=doc_ids)

    def search_dense(self, vector, k: int,
                     selection: str | None = None) -> list[tuple[int, float]]:
        hits = self._milvus.call("search", self.name, data=[[float(x) for x in vector]],
                                 anns_field="dense", limit=k, filter=selection or "",
                                 output_fields=[], search_params={"metric_type": "IP"})
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]]

    def search_lexical(self, query: str, k: int, *, since: str | None = None,
                       until: str | None = None,
                       doc_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        terms = " ".join(analyze(query))
        if not terms:
            return []
        hits = self._milvus.call("search", self.name, data=[terms], anns_field="sparse", limit=k,
                                 filter=_filter(since=since, until=until, doc_ids=doc_ids),
                                 output_fields=[],
                                 search_params={"metric_type": "BM25"})
        # Milvus Lite reports BM25 scores negated (still best first); a server, as they are
        return [(int(h["id"]), abs(float(h["distance"]))) for h in hits[0]]


def read_milvus_manifest(settings: Settings) -> Manifest:
    index = MilvusIndex(settings)
    return Manifest(format_version=FORMAT_VERSION, settings=index.settings,
                    articles=index.article_entries(), created_at=index.created_at)


# ---------------------------------------------------------------------------------------------
# writing


class MilvusWriter:
    """Changes to the collection in use (`open`), or to a new one that the alias moves onto when
    it is complete (`create`: first ingest and --rebuild)."""

    def __init__(self, milvus: Collection, name: str, *, new: bool) -> None:
        self._milvus = milvus
        self.name = name
        self.new = new
        self.settings = _settings_of(_properties(milvus, name), name)

    @classmethod
    def open(cls, settings: Settings) -> MilvusWriter:
        milvus = Collection(settings)
        name = milvus.current()
        if name is None:
            raise IndexMissing(f"no Milvus collection {settings.milvus_collection!r} at {milvus.uri}")
        milvus.call("load_collection", name)
        return cls(milvus, name, new=False)

    @classmethod
    def create(cls, settings: Settings, wanted: IndexSettings) -> MilvusWriter:
        milvus = Collection(settings)
        name = f"{milvus.alias}_{time.time_ns()}"
        _create_collection(milvus, name, wanted)
        return cls(milvus, name, new=True)

    def close(self) -> None:
        """The client is shared (see `Collection`)."""

    # -- reading what is there ------------------------------------------------------------------

    def entries(self, doc_ids: Sequence[str]) -> dict[str, ArticleEntry]:
        found: dict[str, ArticleEntry] = {}
        for start in range(0, len(doc_ids), _BATCH):
            batch = _literal(list(doc_ids[start:start + _BATCH]))
            found.update(_entries(self._milvus, self.name, f"ordinal == 0 and doc_id in {batch}"))
        return found

    def sources(self) -> Iterator[tuple[str, str]]:
        for row in _scan(self._milvus, self.name, "ordinal == 0", ["doc_id", "source"]):
            yield row["doc_id"], row["source"]

    def counts(self) -> tuple[int, int]:
        return _count(self._milvus, self.name, "ordinal == 0"), _count(self._milvus, self.name)

    # -- changing -------------------------------------------------------------------------------

    def apply(self, add: Sequence[NewArticle], remove: Sequence[str]) -> None:
        """New versions first, then the old ones out (see the module docstring)."""
        held = self.entries([n.article.doc_id for n in add]) if not self.new else {}
        rows = [row for new in add for row in _rows(new)]
        for start in range(0, len(rows), _BATCH):
            self._milvus.call("upsert", self.name, rows[start:start + _BATCH])
        for new in add:
            if new.article.doc_id in held:
                self._milvus.call("delete", self.name,
                                  filter=f"doc_id == {_literal(new.article.doc_id)} and "
                                         f"content_hash != {_literal(new.article.content_hash)}")
        for start in range(0, len(remove), _BATCH):
            self._milvus.call("delete", self.name,
                              filter=f"doc_id in {_literal(list(remove[start:start + _BATCH]))}")
        self._milvus.call("flush", self.name)

    def publish(self) -> None:
        """Point the alias at this collection, then drop the one it pointed at."""
        old = self._milvus.current()
        if old is None:
            self._milvus.call("create_alias", self.name, self._milvus.alias)
        else:
            self._milvus.call("alter_alias", self.name, self._milvus.alias)
            self._milvus.call("drop_collection", old)
        self.new = False

    def discard(self) -> None:
        self._milvus.call("drop_collection", self.name)


def _create_collection(milvus: Collection, name: str, settings: IndexSettings) -> None:
    from pymilvus import DataType, Function, FunctionType

    text = {"datatype": DataType.VARCHAR, "max_length": _MAX_TEXT}
    schema = milvus.call("create_schema", auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    for field in ("doc_id", "title", "date", "source", "content_hash", "text", "gap"):
        schema.add_field(field, **text)
    for field in ("ordinal", "chunks", "day", "span_start", "span_end"):
        schema.add_field(field, DataType.INT64)
    schema.add_field("terms", enable_analyzer=True, analyzer_params={"tokenizer": "standard"}, **text)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=settings.dimensions)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["terms"], output_field_names=["sparse"]))
    index_params = milvus.call("prepare_index_params")
    index_params.add_index("dense", index_type=milvus.index_type, metric_type="IP")
    index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    index_params.add_index("doc_id", index_type="INVERTED")
    milvus.call("create_collection", name, schema=schema, index_params=index_params,
                consistency_level="Strong")
    milvus.call("alter_collection_properties", name, properties={
        "rag.format": str(FORMAT_VERSION), "rag.settings": json.dumps(asdict(settings)),
        "rag.created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
