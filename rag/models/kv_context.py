"""The llama.cpp context the passage cache needs, and the name of what makes its saved states
valid for it."""

from __future__ import annotations

from rag.models.kv_store import FORMAT_VERSION, digest


def two_sequence_context(llm) -> None:
    """Give a loaded `Llama` a context with two sequences in one KV buffer (the high-level class
    makes one sequence only): the second is where a block is saved from and restored into."""
    from llama_cpp import _internals

    params = llm.context_params
    params.n_seq_max = 2
    params.kv_unified = True
    context = _internals.LlamaContext(model=llm._model, params=params, verbose=llm.verbose)
    old, llm._ctx = llm._ctx, context
    old.close()
    llm.n_tokens = 0


def namespace(model_digest: str, llm) -> str:
    """What makes a saved KV state valid: the model file, the llama.cpp build (its version and
    the CPU features it was compiled for), the settings that shape the KV cache, the format."""
    import llama_cpp

    params = llm.context_params
    shape = [f"n_ctx={params.n_ctx}", f"n_batch={params.n_batch}", f"n_ubatch={params.n_ubatch}",
             f"type_k={params.type_k}", f"type_v={params.type_v}",
             f"flash_attn={params.flash_attn_type}", f"seqs={params.n_seq_max}"]
    build = [llama_cpp.__version__, llama_cpp.llama_print_system_info().decode("utf-8", "replace")]
    return digest(f"v{FORMAT_VERSION}", model_digest, *build, *shape)[:32]
