"""Talking to Milvus: the client (one per URI and process), the alias naming the collection in
use, and the queries both the reader and the writer make. Every call goes through `Collection`,
so that a server that is down or refuses becomes one line a user can act on."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from rag.errors import BadInput, IndexBusy, IndexCorrupt, IndexMismatch, ServiceUnavailable
from rag.settings import Settings
from rag.store.layout import make_folder
from rag.store.milvus.rows import ENTRY_FIELDS, entry_of
from rag.types import ArticleEntry, IndexSettings

COLLECTION_FORMAT = 2  # 2: a JSON `meta` field (URL, author, pages, near-copies)
BATCH = 1_000  # rows per insert, ids per get
_PAGE = 5_000  # rows per page of a full scan


def import_pymilvus():
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
        pymilvus = import_pymilvus()
        with cls._clients_lock:
            if (uri, token) not in cls._clients:
                if not is_server(uri):
                    make_folder(Path(uri).parent)
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


def is_server(uri: str) -> bool:
    """Whether the URI names a Milvus server rather than a Milvus Lite file."""
    return uri.startswith(("http://", "https://", "tcp://", "unix:"))


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
# queries


def scan(collection: Collection, name: str, expr: str, fields: list[str]) -> Iterator[dict]:
    """Every row matching `expr`, a page at a time (a query returns 16,384 rows at most)."""
    iterator = collection.call("query_iterator", name, batch_size=_PAGE, filter=expr,
                               output_fields=fields)
    try:
        while page := collection.call_on(iterator, "next"):
            yield from page
    finally:
        iterator.close()


def count(collection: Collection, name: str, expr: str = "") -> int:
    rows = collection.call("query", name, filter=expr, output_fields=["count(*)"])
    return int(rows[0]["count(*)"])


def read_properties(collection: Collection, name: str) -> dict[str, str]:
    return dict(collection.call("describe_collection", name).get("properties") or {})


def collection_settings(properties: dict[str, str], where: str) -> IndexSettings:
    if properties.get("rag.format") == "1":
        raise IndexMismatch(f"the Milvus collection {where} was written by an earlier release "
                            "(format 1, without article links and pages); rebuild it with: "
                            "rag ingest --rebuild")
    if properties.get("rag.format") != str(COLLECTION_FORMAT):
        raise IndexCorrupt(f"the Milvus collection {where} was not written by this assistant "
                           f"(format {properties.get('rag.format')!r}); rebuild with: "
                           "rag ingest --rebuild")
    return IndexSettings(**json.loads(properties["rag.settings"]))


def read_entries(collection: Collection, name: str, expr: str) -> dict[str, ArticleEntry]:
    """Article entries from the rows at position 0. An article found twice (a write that stopped
    between its upsert and its delete) gets an empty hash, so the next ingest writes it again."""
    found: dict[str, ArticleEntry] = {}
    for row in scan(collection, name, expr, ENTRY_FIELDS):
        entry = entry_of(row)
        if entry.doc_id in found and found[entry.doc_id].content_hash != entry.content_hash:
            entry.content_hash = ""
        found[entry.doc_id] = entry
    return found
