"""Which model generates answers: llama.cpp in this process, or any OpenAI-compatible server.

`RAG_LLM_URL` decides: unset (default), the in-process `rag.models.llama.Generator`; set, the
`rag.models.remote.RemoteGenerator` for that server, whose client library is imported only then.
Where the chunks live is chosen the same way, by `rag.store.factory`.
"""

from __future__ import annotations

from rag.models.chat import ChatModel
from rag.models.gguf import DEFAULT_MODEL, check_gguf, default_model_path, file_digest
from rag.models.kv_store import CacheLimits
from rag.models.llama import Generator
from rag.settings import Settings
from rag.types import ProgressFn


def make_generator(settings: Settings, model_progress: ProgressFn | None = None) -> ChatModel:
    """llama.cpp in this process, or the OpenAI-compatible server `RAG_LLM_URL` names."""
    if settings.llm_url:
        from rag.models.remote import RemoteGenerator

        return RemoteGenerator(settings.llm_url, api_key=settings.llm_api_key,
                               model=settings.llm_model, timeout=settings.llm_timeout,
                               n_ctx=settings.n_ctx, seed=settings.seed)
    if settings.model:
        path = check_gguf(settings.model)
        digest = file_digest(path, settings.cache_dir / "models" / "digests.json")
    else:
        path, digest = default_model_path(settings.cache_dir, model_progress), DEFAULT_MODEL.sha256
    cache = (CacheLimits(settings.index, settings.passage_cache_memory_mb << 20,
                         settings.passage_cache_disk_mb << 20) if settings.passage_cache else None)
    return Generator(path, n_ctx=settings.n_ctx, n_threads=settings.n_threads, seed=settings.seed,
                     passage_cache=cache, model_digest=digest,
                     chained=settings.passage_cache_mode == "chained",
                     blend=settings.passage_cache_blend)
