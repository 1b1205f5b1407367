"""The index on Milvus: one collection holds each chunk's text, span, article fields, vector and
BM25 terms, so an archive that outgrows one machine is searched by a Milvus cluster.

The same client code talks to Milvus Lite (a file, embedded: what tests and CI run) and to a
Milvus server or cluster (`RAG_MILVUS_URI=http://host:19530`, `RAG_MILVUS_TOKEN=…`).

- **Search.** Dense search (inner product on normalised vectors: cosine) and BM25 full-text search
  run as two Milvus searches, each with the date and article filter inside its query expression.
  They are fused by the project's own reciprocal rank fusion (`rag.answer.retrieval`), not by Milvus's
  `hybrid_search`: that returns only the fused score, and abstention needs the best cosine
  similarity and whether BM25 matched at all.
- **BM25 terms.** Milvus Lite's analyzer has no stemmer or stop-word filter (it accepts and ignores
  them), so the chunk's words are analysed by the project's own analyzer (`rag.store.lexical`, the one
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

The modules: `collection` (the client, the alias, the queries both sides make), `rows` (an
article's rows and back), `reader` (`MilvusIndex`) and `writer` (`MilvusWriter`). pymilvus is
imported only when one of them is used.
"""
