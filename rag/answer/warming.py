"""Filling the passage cache before anyone asks: each chunk of the index, as the answer prompt
shows it, read once by the model and its KV state saved.

A passage's number is part of its text, so a chunk has one block per place it can take: in
parallel mode each place 1..top_k is warmed; in chained mode only the first, since a later
place's state depends on the passages before it, which no one can know ahead. Passages that
retrieval merges from neighbouring chunks are read the first time a question needs them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rag.answer.prompting import build_answer_prompt
from rag.models.chat import ChatModel
from rag.settings import Settings
from rag.store.factory import SearchIndex
from rag.templates import Prompts
from rag.types import Chunk, Passage, ProgressFn

_YIELD_SECONDS = 0.02  # between blocks, so a waiting question takes the model first


@dataclass
class WarmReport:
    blocks: int = 0  # blocks looked at
    computed: int = 0  # of them, read by the model now
    cached: bool = True  # False: this model has no passage cache (nothing was done)


def warm_passages(generator: ChatModel, index: SearchIndex, settings: Settings, *,
                  on_progress: ProgressFn | None = None,
                  stop: threading.Event | None = None) -> WarmReport:
    """Store every chunk's blocks that the cache lacks. Holds the model one block at a time,
    so questions asked meanwhile are answered between blocks."""
    prompts = Prompts(settings.prompts)
    chunks = [chunk for _, chunk in sorted(index.all_chunks(), key=lambda item: item[0])]
    places = range(1, (settings.top_k if settings.passage_cache_mode == "parallel" else 1) + 1)
    report = WarmReport()
    total = len(chunks) * len(places)
    for chunk in chunks:
        for n in places:
            if stop is not None and stop.is_set():
                return report
            prompt = build_answer_prompt(prompts, "", [_as_passage(chunk, n)],
                                         count_tokens=generator.count_tokens,
                                         n_ctx=generator.n_ctx,
                                         max_answer_tokens=settings.max_answer_tokens,
                                         mode=settings.answer_mode)
            with generator.session():  # never between an answer and its checks
                done = generator.warm(prompt.messages, prompt.blocks)
            if done is None:
                report.cached = False
                return report
            report.blocks += 1
            report.computed += done.computed
            if on_progress is not None:
                on_progress(report.blocks, total)
            if done.computed:
                time.sleep(_YIELD_SECONDS)
    return report


def warm_in_background(generator: ChatModel, index: SearchIndex, settings: Settings,
                       on_done=None) -> threading.Event:
    """Warm in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def run() -> None:
        report = warm_passages(generator, index, settings, stop=stop)
        if on_done is not None:
            on_done(report)

    threading.Thread(target=run, name="warm-passages", daemon=True).start()
    return stop


def _as_passage(chunk: Chunk, n: int) -> Passage:
    return Passage(n=n, doc_id=chunk.doc_id, chunk_id=chunk.chunk_id, title=chunk.title,
                   date=chunk.date, text=chunk.text, score=0.0, start=chunk.start, end=chunk.end,
                   chunk_ids=[chunk.chunk_id])
