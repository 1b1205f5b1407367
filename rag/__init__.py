"""Offline question answering over news articles, with checked citations.

The package is laid out in stages, in the order the data flows; a stage imports only the stages
below it and the ground floor, never one above (`tests/test_layers.py` holds it to that):

    ground    types (what the stages pass on), settings, errors, text, templates, jsonl
    models    the embedding model and the generation model (llama.cpp or a server)
    store     the index: SQLite truth with FAISS and BM25 followers, or Milvus
    ingest    files to articles to chunks to vectors, written through the store
    check     which answer sentence each shown passage supports, and why
    answer    retrieval, prompts and the assistant's answer path
    evaluate  eval runs, the RGB suite, reports
    serve     the OpenAI-compatible HTTP API and the upload shelf
    cli       `rag ...`, composing the stages (as `ui/` does for the browser)
"""

__version__ = "0.1.0"
