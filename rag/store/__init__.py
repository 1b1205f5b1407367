"""The index: where articles, chunks and vectors live, and the searches over them.

- `factory`: opens the index the settings name (`open_index`, `index_writer`, `read_listing`).
- The embedded default, one folder with SQLite as the truth and `dense` (FAISS) and `lexical`
  (tantivy BM25) following it: `layout` (the folder, its format, finding and opening it),
  `reader` (`Index`, the searches), `writer` (`Writer`: changes and publishing), `files` (the
  one-writer lock, fsync); `migrate` converts the formats of earlier releases.
- `milvus`: the same reads and writes on a Milvus collection (Lite file or server).
"""
