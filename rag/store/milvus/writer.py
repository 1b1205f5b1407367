"""Changing the Milvus index (see `rag.store.milvus`): upserts before deletes, and new
collections that the alias moves onto once they are complete."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, timezone

from rag.errors import IndexMissing
from rag.settings import Settings
from rag.store.milvus.collection import (
    BATCH,
    COLLECTION_FORMAT,
    Collection,
    collection_settings,
    count,
    read_entries,
    read_properties,
    scan,
)
from rag.store.milvus.rows import MAX_TEXT, article_rows, likeness_of, literal
from rag.types import Article, ArticleEntry, IndexSettings, Likeness, NewArticle


class MilvusWriter:
    """Changes to the collection in use (`open`), or to a new one that the alias moves onto when
    it is complete (`create`: first ingest and --rebuild)."""

    def __init__(self, milvus: Collection, name: str, *, new: bool) -> None:
        self._milvus = milvus
        self.name = name
        self.new = new
        self.settings = collection_settings(read_properties(milvus, name), name)

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
        create_collection(milvus, name, wanted)
        return cls(milvus, name, new=True)

    def close(self) -> None:
        """The client is shared (see `Collection`)."""

    # -- reading what is there ------------------------------------------------------------------

    def entries(self, doc_ids: Sequence[str]) -> dict[str, ArticleEntry]:
        found: dict[str, ArticleEntry] = {}
        for start in range(0, len(doc_ids), BATCH):
            batch = literal(list(doc_ids[start:start + BATCH]))
            found.update(read_entries(self._milvus, self.name,
                                      f"ordinal == 0 and doc_id in {batch}"))
        return found

    def likenesses(self, bands: Sequence[int]) -> list[Likeness]:
        """Articles sharing a MinHash band key with `bands` (see the embedded `Writer`)."""
        keys = sorted({int(b) for b in bands})
        if not keys:
            return []
        rows = scan(self._milvus, self.name,
                    f"ordinal == 0 and json_contains_any(meta[\"bands\"], {literal(keys)})",
                    ["doc_id", "meta"])
        return [likeness_of(row) for row in rows]

    def unsigned(self) -> list[Article]:
        """Every article of a collection is signed when written (format 2 on)."""
        return []

    def sign(self, articles: Sequence[Article]) -> None:
        raise AssertionError("a Milvus collection has no unsigned articles")

    def sources(self) -> Iterator[tuple[str, str]]:
        for row in scan(self._milvus, self.name, "ordinal == 0", ["doc_id", "source"]):
            yield row["doc_id"], row["source"]

    def counts(self) -> tuple[int, int]:
        return count(self._milvus, self.name, "ordinal == 0"), count(self._milvus, self.name)

    # -- changing -------------------------------------------------------------------------------

    def apply(self, add: Sequence[NewArticle], remove: Sequence[str]) -> None:
        """New versions first, then the old ones out (see `rag.store.milvus`)."""
        held = self.entries([n.article.doc_id for n in add]) if not self.new else {}
        rows = [row for new in add for row in article_rows(new)]
        for start in range(0, len(rows), BATCH):
            self._milvus.call("upsert", self.name, rows[start:start + BATCH])
        for new in add:
            if new.article.doc_id in held:
                self._milvus.call("delete", self.name,
                                  filter=f"doc_id == {literal(new.article.doc_id)} and "
                                         f"content_hash != {literal(new.article.content_hash)}")
        for start in range(0, len(remove), BATCH):
            self._milvus.call("delete", self.name,
                              filter=f"doc_id in {literal(list(remove[start:start + BATCH]))}")
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


def create_collection(milvus: Collection, name: str, settings: IndexSettings) -> None:
    from pymilvus import DataType, Function, FunctionType

    text = {"datatype": DataType.VARCHAR, "max_length": MAX_TEXT}
    schema = milvus.call("create_schema", auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    for field in ("doc_id", "title", "date", "source", "content_hash", "text", "gap"):
        schema.add_field(field, **text)
    for field in ("ordinal", "chunks", "day", "span_start", "span_end"):
        schema.add_field(field, DataType.INT64)
    schema.add_field("terms", enable_analyzer=True, analyzer_params={"tokenizer": "standard"}, **text)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=settings.dimensions)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("meta", DataType.JSON)  # `Article.meta`; near-copy keys on the first row
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["terms"], output_field_names=["sparse"]))
    index_params = milvus.call("prepare_index_params")
    index_params.add_index("dense", index_type=milvus.index_type, metric_type="IP")
    index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    index_params.add_index("doc_id", index_type="INVERTED")
    milvus.call("create_collection", name, schema=schema, index_params=index_params,
                consistency_level="Strong")
    milvus.call("alter_collection_properties", name, properties={
        "rag.format": str(COLLECTION_FORMAT), "rag.settings": json.dumps(asdict(settings)),
        "rag.created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
