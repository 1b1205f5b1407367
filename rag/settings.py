"""One typed settings object for the whole assistant.

Defaults live here; `RAG_*` environment variables override them and CLI flags override those.
The entry points (CLI, UI, eval) build one `Settings` and pass it down, so nothing deeper reads
the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag"


@dataclass(frozen=True)
class AnnSettings:
    """How the store searches vectors (see `rag.store.dense`); not part of the index: change freely."""
    threshold: int  # vectors above which the base segment is an IVF index
    nprobe: int  # IVF lists searched without a filter
    delta_max: int  # vectors added since the base segment before they are folded into it


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    index: Path = Field(Path("index"), description="Index folder (FAISS, BM25, chunks, manifest).")
    seeds: Path = Field(PROJECT_ROOT / "seeds", description="Articles ingested when none are named.")
    prompts: Path = Field(PROJECT_ROOT / "prompts", description="Prompt template folder.")
    cache_dir: Path = Field(default_factory=_default_cache_dir,
                            description="Where the assembled default GGUF model is kept.")

    # embedding and chunking: part of the index manifest, a change asks for a rebuild
    embedding_model: str = Field("all-MiniLM-L6-v2",
                                 description="'all-MiniLM-L6-v2' (bundled) or a local model folder.")
    embed_batch_size: int = Field(32, ge=1, description="Chunks embedded per batch at ingest.")
    chunk_size: int = Field(500, ge=100, description="Characters per chunk.")
    chunk_overlap: int = Field(80, ge=0, description="Characters shared by neighbouring chunks.")

    # retrieval
    top_k: int = Field(4, ge=1, le=20, description="Passages shown to the model (eval: 4 beat 5).")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    candidates: int = Field(30, ge=1, description="Hits taken from each retriever before fusion.")
    read_first: int = Field(
        0, ge=0, description="Passages the model reads first, reading all `top_k` only when "
                             "these give no answer (2: the first word about 40% sooner, at some "
                             "cost in held-out correctness, see docs/speed.md); 0 reads all at "
                             "once.")
    passage_budget: int = Field(
        0, ge=0, description="Characters of passage text the model is shown, the sentences "
                             "closest to the question first (700: first token about 30% sooner, "
                             "at some cost in correctness, see docs/speed.md); 0 shows whole passages.")
    min_dense_score: float = Field(
        0.20, description="Below this best cosine similarity and with no BM25 hit, retrieval "
                          "counts as finding nothing relevant and the assistant abstains.")

    # the vector index (searched exactly up to `ann_threshold` chunks, by IVF above it)
    ann_threshold: int = Field(50_000, ge=0, description="Chunks above which vector search is "
                                                        "approximate (IVF), trained by the store.")
    ann_nprobe: int = Field(128, ge=1, description="IVF lists searched per question (more: "
                                                   "better recall, slower; 128 keeps recall@10 "
                                                   "at 0.99 at 1M chunks, see docs/scale.md).")
    dense_delta_max: int = Field(50_000, ge=1, description="Chunks added since the vector base "
                                                           "segment was written before it is "
                                                           "rewritten with them.")

    # where chunks live (see `rag.store.factory`): the embedded store, or Milvus for an archive that
    # outgrows one machine
    index_backend: Literal["faiss", "milvus"] = Field(
        "faiss", description="'faiss': FAISS + tantivy + SQLite in the index folder; 'milvus': a "
                             "Milvus collection (Milvus Lite file or server).")
    milvus_uri: str | None = Field(
        None, description="Milvus Lite file or server URI (http://host:19530); default: "
                          "milvus.db in the index folder.")
    milvus_token: str | None = Field(None, description="Milvus server token (USER:PASSWORD or "
                                                       "an API key); none for Milvus Lite.")
    milvus_collection: str = Field("rag_chunks", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,180}$",
                                   description="Alias of the collection holding the chunks.")
    milvus_index_type: str = Field("FLAT", description="Milvus vector index: FLAT (exact, as "
                                                       "FAISS below 50k chunks), or HNSW, "
                                                       "IVF_FLAT… on a server.")

    # generation: in-process llama.cpp, or any OpenAI-compatible server when `llm_url` is set
    llm_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server "
                                                  "(http://host:8000/v1); unset: in-process.")
    llm_api_key: str | None = Field(None, description="Bearer key for `llm_url`, if it wants one.")
    llm_model: str | None = Field(None, description="Model name sent to `llm_url` (default: the "
                                                    "first the server lists).")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds to wait for the server's reply "
                                                        "(or its next streamed piece).")
    model: Path | None = Field(None, description="A GGUF file; default: the bundled Qwen2.5 1.5B.")
    n_ctx: int = Field(4096, ge=512, description="Model context window in tokens.")
    n_threads: int | None = Field(None, description="CPU threads for llama.cpp (default: all).")
    max_answer_tokens: int = Field(256, ge=16, description="Most tokens an answer may take; the "
                                                          "context keeps room for them.")
    temperature: float = Field(0.0, ge=0.0, description="Sampling temperature; 0 answers "
                                                       "greedily, the same every time.")
    answer_mode: Literal["direct", "quote"] = Field(
        "direct", description="How the model answers: `direct` (it writes the answer) or `quote` "
                              "(it first copies the sentence that answers, held to the passages by "
                              "a grammar, then answers from it; see docs/quoting.md).")
    quote_retry: bool = Field(
        True, description="`direct` mode: when the model declines or its answer is rejected, "
                          "try once more by quoting first (as `quote` does) before abstaining; "
                          "costs a second reading of the passages on those questions only "
                          "(measured in docs/quoting.md).")
    entailment_check: bool = Field(
        True, description="Ask the model whether each cited passage entails its sentence (about "
                          "0.3 s a sentence); off: the lexical judge alone decides.")
    seed: int = Field(0, description="Sampling seed, for llama.cpp or the model server.")
    passage_cache: bool = Field(
        False, description="Keep the llama.cpp KV state of the prompt's head and passages and "
                           "splice it into later prompts, so a question that shares them "
                           "computes only the rest (off by default: measured, it changes "
                           "answers, see docs/speed.md); off: every prompt is read whole. "
                           "In-process llama.cpp only.")
    passage_cache_mode: Literal["chained", "parallel"] = Field(
        "chained", description="chained: a passage's saved state is reused after the same "
                               "passages before it only, so the model attends to what it does "
                               "reading the prompt whole (answers may still round differently); "
                               "parallel: reused wherever it is shown, so each passage is read "
                               "once, at a measured cost in correctness.")
    passage_cache_blend: int = Field(
        0, ge=0, le=64, description="Tokens on each side of every seam between two cached "
                                    "passages that are computed again with the passages before "
                                    "them in view (parallel mode; 0: none; see "
                                    "docs/speed.md).")
    passage_cache_memory_mb: int = Field(512, ge=0, description="MiB of passage KV states kept "
                                                                "in memory (least recently "
                                                                "used dropped first).")
    passage_cache_disk_mb: int = Field(2048, ge=0, description="MiB of passage KV states kept in "
                                                               "the index folder's kv/ (0: "
                                                               "memory only).")

    # the server (`rag serve`): browser UI and HTTP API
    auth: str | None = Field(None, description="USER:PASSWORD; when set, the UI asks for a login "
                                               "and the API for these credentials or the token.")
    api_token: str | None = Field(None, min_length=16,
                                  description="A bearer token the API accepts (RAG_API_TOKEN); "
                                              "when set, the API requires it or the credentials.")
    feed_refresh_minutes: float = Field(
        0, ge=0, allow_inf_nan=False, description="While `rag serve` runs, fetch every followed feed at start and then "
                             "every this many minutes, adding new entries (`--refresh`); 0: "
                             "only when asked (UI, POST /v1/feeds/refresh, rag feeds update).")

    # ingest: a watched folder, and one story from several outlets
    watch_debounce: float = Field(
        1.0, gt=0.0, description="`rag watch`: seconds a file must stay unchanged (no event, "
                                 "same size and time) before it is read, so a file still being "
                                 "written is never indexed half-way.")
    copy_threshold: float = Field(
        0.5, gt=0.0, le=1.0, description="Estimated Jaccard similarity of word 5-shingles above "
                                         "which an article is linked as a near-copy of an "
                                         "earlier one (the same story from another outlet); "
                                         "measured in benchmarks/bench_copies.py.")

    # fetching web pages and feeds (`rag ingest URL`, `rag feeds update`, the server's URL ingest)
    fetch_timeout: float = Field(15.0, gt=0, description="Seconds to wait for a connection or the "
                                                         "next piece of a page or feed; a fetch "
                                                         "(redirects, headers and body) still "
                                                         "going after four times this is cut off.")
    fetch_max_bytes: int = Field(5_000_000, ge=1024, description="Largest page or feed fetched, "
                                                                 "in bytes; cut off while "
                                                                 "downloading.")
    fetch_max_redirects: int = Field(5, ge=0, description="Redirects followed per fetch.")
    feed_max_entries: int = Field(50, ge=1, description="Entries read from a feed, the newest by "
                                                        "their date: each costs a page fetch.")
    user_agent: str = Field("rag-news-assistant/0.1 (offline news question answering)",
                            min_length=1, description="User-Agent header sent with every fetch.")
    allow_private_urls: bool = Field(
        False, description="Let the server (UI and API) fetch URLs on loopback, private, "
                           "link-local or reserved addresses (RAG_ALLOW_PRIVATE_URLS); the CLI, "
                           "run by the machine's own user, always may.")

    @property
    def ann(self) -> AnnSettings:
        return AnnSettings(self.ann_threshold, self.ann_nprobe, self.dense_delta_max)


DEFAULT_ANN = AnnSettings(*(Settings.model_fields[name].default
                            for name in ("ann_threshold", "ann_nprobe", "dense_delta_max")))
