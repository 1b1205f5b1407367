"""The passage KV cache with the real GGUF model: spliced prompts, hits, invalidation, a server.

The cached assistant here has its own model and its own cache folder, over the session's seed
index; the session assistant (tests/conftest.py) is left as the settings make it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import llama_cpp
import openai
import pytest

from rag.answer.assistant import Assistant
from rag.answer.retrieval import Retriever
from rag.answer.warming import warm_passages
from rag.models.factory import make_generator
from rag.models.kv_store import disk_usage
from rag.serve.api import create_api
from rag.serve.shelf import Shelf
from tests.serve.conftest import ENVOY, running

pytestmark = pytest.mark.model

TROOPS = ("How many countries did Macron say are ready to send troops or contribute other "
          "support to Ukraine?")


@pytest.fixture(scope="module")
def cache_settings(seed_settings, tmp_path_factory):
    """The seed index, read through a cache kept in a folder of its own."""
    folder = tmp_path_factory.mktemp("kv")
    return seed_settings.model_copy(update={"passage_cache": True, "passage_cache_mode": "chained",
                                            "index": folder})


@pytest.fixture(scope="module")
def cached(cache_settings, seed_index, embedder) -> Assistant:
    return Assistant(cache_settings, embedder=embedder, index=seed_index,
                     generator=make_generator(cache_settings))


def test_one_spliced_passage_gives_the_greedy_answer_of_a_full_prefill_in_the_same_batches(cached):
    generator = cached.generator
    retriever = Retriever(cached.index, cached.embedder)
    prompt = cached.prompt_for(ENVOY, retriever.retrieve(ENVOY, 1))
    segments = generator.prompt_segments(prompt.messages, prompt.blocks)
    assert segments is not None and len(segments.block_tokens) == 1

    generator.forget_kv()
    spliced = "".join(generator.stream_chat(prompt.messages, max_tokens=48, temperature=0.0,
                                            blocks=prompt.blocks))
    assert generator.last_splice is not None

    llm = generator.llama  # the same tokens, read in the same batches: head, block, question
    generator.forget_kv()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm._ctx.ctx), True)
    llm.n_tokens = 0
    llm.eval(segments.head_tokens)
    llm.eval(segments.block_tokens[0])
    full = llm.create_chat_completion(messages=prompt.messages, max_tokens=48, temperature=0.0)
    generator.forget_kv()
    assert full["choices"][0]["message"]["content"] == spliced
    assert "Witkoff" in spliced


def _greedy_of_pieces(generator, prompt, segments) -> str:
    """The answer to a full prefill read in the spliced prompt's pieces: head, each block."""
    llm = generator.llama
    generator.forget_kv()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm._ctx.ctx), True)
    llm.n_tokens = 0
    for piece in [segments.head_tokens, *segments.block_tokens]:
        llm.eval(piece)
    full = llm.create_chat_completion(messages=prompt.messages, max_tokens=48, temperature=0.0)
    generator.forget_kv()
    return full["choices"][0]["message"]["content"]


def test_chained_passages_give_the_greedy_answer_of_a_full_prefill_cold_and_warm(cached):
    """In chained mode (the default) a block is saved after the blocks before it, so several
    spliced passages read back exactly what reading them in place computes."""
    generator = cached.generator
    passages = Retriever(cached.index, cached.embedder).retrieve(TROOPS, 3)
    prompt = cached.prompt_for(TROOPS, passages)
    segments = generator.prompt_segments(prompt.messages, prompt.blocks)
    assert segments is not None and len(segments.block_tokens) == 3

    def spliced() -> str:
        generator.forget_kv()
        return "".join(generator.stream_chat(prompt.messages, max_tokens=48, temperature=0.0,
                                             blocks=prompt.blocks))

    generator.passage_cache.forget_memory()
    cold = spliced()
    warm = spliced()
    assert generator.last_splice.cached == 3 and generator.last_splice.computed == 0
    assert cold == warm == _greedy_of_pieces(generator, prompt, segments)
    assert "26" in warm


def _splice_twice(assistant, first: list, second: list):
    """Read two prompts of the same question over these passages; the second's splice."""
    generator = assistant.generator
    for passages in (first, second):
        prompt = assistant.prompt_for(ENVOY, [replace(p, n=i) for i, p in
                                              enumerate(passages, 1)])
        generator.forget_kv()
        "".join(generator.stream_chat(prompt.messages, max_tokens=1, temperature=0.0,
                                      blocks=prompt.blocks))
    return generator.last_splice


def test_a_chained_block_is_reused_only_after_the_same_passages(cached, cache_settings,
                                                               tmp_path):
    """Passage B at place 2, first after A, then after C: chained reads B again (its state
    saw A), parallel reuses it (its state saw the head only). Both caches start empty."""
    retriever = Retriever(cached.index, cached.embedder)
    a, b = retriever.retrieve(TROOPS, 2)
    [c] = retriever.retrieve(ENVOY, 1)
    assert c.chunk_id not in (a.chunk_id, b.chunk_id)
    for mode, expected in (("chained", (0, 2)), ("parallel", (1, 1))):
        settings = cache_settings.model_copy(update={"passage_cache_mode": mode,
                                                     "index": tmp_path / mode})
        fresh = Assistant(settings, embedder=cached.embedder, index=cached.index,
                          generator=make_generator(settings))
        report = _splice_twice(fresh, [a, b], [c, b])
        assert (report.cached, report.computed) == expected, mode


def test_a_second_question_over_the_same_passages_reads_them_from_the_cache(cached):
    first = cached.ask(ENVOY)
    assert first.passage_cache is not None and first.passage_cache["computed"] > 0
    cached.ask(TROOPS)  # other passages in the KV cache in between
    hits = cached.generator.passage_cache.stats.memory_hits
    again = cached.ask(ENVOY)
    assert again.passage_cache == {"cached": len(again.passages), "computed": 0}
    assert cached.generator.passage_cache.stats.memory_hits >= hits + len(again.passages)
    assert again.answer == first.answer and "Witkoff" in again.answer
    assert again.citations and not again.abstained  # cited and checked as without the cache
    assert all(s.supported for s in again.sentence_support)


def test_a_damaged_cache_file_is_recomputed_and_the_answer_stays(cached, cache_settings):
    before = cached.ask(ENVOY)
    entries = sorted((cache_settings.index / "kv").rglob("*.kv"), key=lambda p: p.stat().st_size)
    assert entries
    store = cached.generator.passage_cache
    store.forget_memory()  # the next question reads the disk tier
    for path in entries:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    damaged = store.stats.damaged
    cached.generator.forget_kv()  # not the KV cache the last answer left either
    after = cached.ask(ENVOY)
    assert after.passage_cache["computed"] == len(after.passages)
    assert store.stats.damaged > damaged  # a chain is read up to its first damaged link
    assert after.answer == before.answer


def test_a_cache_made_with_another_context_size_is_not_used(cached, cache_settings, seed_index,
                                                            embedder):
    cached.ask(ENVOY)
    other_settings = cache_settings.model_copy(update={"n_ctx": 2048})
    other = Assistant(other_settings, embedder=embedder, index=seed_index,
                      generator=make_generator(other_settings))
    assert other.generator.passage_cache.namespace != cached.generator.passage_cache.namespace
    record = other.ask(ENVOY)
    assert record.passage_cache == {"cached": 0, "computed": len(record.passages)}


def test_warming_fills_every_chunk_at_its_places_then_costs_nothing(cached, cache_settings,
                                                                    tmp_path):
    """Chained, a chunk is warmed as the first passage only (a later place depends on the
    passages before it); parallel, at every place up to top_k."""
    report = warm_passages(cached.generator, cached.index, cache_settings)
    assert report.cached and report.blocks == cached.index.chunk_count
    again = warm_passages(cached.generator, cached.index, cache_settings)
    assert again.blocks == report.blocks and again.computed == 0
    assert disk_usage(cache_settings.index)[0] >= report.blocks

    settings = cache_settings.model_copy(update={"passage_cache_mode": "parallel", "top_k": 2,
                                                 "index": tmp_path / "parallel"})
    parallel = make_generator(settings)
    report = warm_passages(parallel, cached.index, settings)
    assert report.blocks == report.computed == 2 * cached.index.chunk_count


def test_without_the_cache_every_prompt_is_read_whole(cache_settings, cached):
    settings = cache_settings.model_copy(update={"passage_cache": False})
    plain = Assistant(settings, embedder=cached.embedder, index=cached.index,
                      generator=make_generator(settings))
    assert plain.generator.passage_cache is None
    record = plain.ask(ENVOY)
    assert record.passage_cache is None and "Witkoff" in record.answer


def test_two_questions_at_once_through_the_api_each_get_their_own_answer(cached):
    questions = [ENVOY, TROOPS]
    with running(create_api(cached, Shelf(cached))) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=600)

        def ask(question: str) -> str:
            reply = client.chat.completions.create(
                model="rag", messages=[{"role": "user", "content": question}])
            return reply.choices[0].message.content

        alone = [ask(q) for q in questions]
        with ThreadPoolExecutor(2) as pool:
            together = list(pool.map(ask, questions))
    assert together == alone
    assert "Witkoff" in together[0] and "26" in together[1]


def test_parallel_seams_computed_again_leave_a_single_passage_exact_and_still_answer(
        cache_settings, cached):
    """`RAG_PASSAGE_CACHE_BLEND` recomputes tokens around the seams between parallel passages;
    one passage has no seam, so its answer is the chained cache's, and several still answer."""
    settings = cache_settings.model_copy(update={"passage_cache_mode": "parallel",
                                                 "passage_cache_blend": 4})
    blended = Assistant(settings, embedder=cached.embedder, index=cached.index,
                        generator=make_generator(settings))
    assert blended.ask(ENVOY, top_k=1).answer == cached.ask(ENVOY, top_k=1).answer
    record = blended.ask(TROOPS)
    assert len(record.passages) > 1 and not record.abstained and "26" in record.answer
