"""The generation model in this process: llama.cpp loaded once, replies streamed, Yes/No odds read.

The file it loads comes from `rag.models.gguf` (the bundled default) or the settings.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy

from rag.errors import BadInput, ModelUnavailable
from rag.models.kv_context import namespace, two_sequence_context
from rag.models.kv_segments import Segments, cut
from rag.models.kv_splice import Splicer, SpliceReport
from rag.models.kv_store import CacheLimits, KVStore
from rag.types import Block


class Generator:
    """One llama.cpp model in memory; calls are serialised because llama.cpp is not re-entrant.

    Answers are reproducible: the same messages give the same reply whatever ran before. A prompt
    is evaluated in pieces that end at fixed points: the end of its fixed part (everything before
    the first message after the system prompt) and, when the caller names a prompt it will send
    next, the end of the part the two share. The KV cache is reused only up to such a point, and
    only when it was evaluated in the same pieces: reusing it up to any other token would change
    how llama.cpp splits the remaining tokens into batches, and with it the last bits of the
    logits: enough to flip a near-even choice.

    With a passage cache (`passage_cache`), a prompt that names its passage `blocks` is not read
    whole: its head and blocks are spliced in from saved KV states (`rag.models.kv_splice`) and
    only the rest is computed.
    """

    def __init__(self, path: Path, *, n_ctx: int, n_threads: int | None = None, seed: int = 0,
                 passage_cache: CacheLimits | None = None, model_digest: str = "",
                 chained: bool = True, blend: int = 0) -> None:
        from llama_cpp import Llama

        self.path = path
        self.name = path.name
        self._lock = threading.Lock()  # one llama.cpp call at a time
        self._session = threading.Lock()  # one answer (generation and its checks) at a time
        try:
            self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(),
                              seed=seed, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelUnavailable(f"llama.cpp cannot load {path}: {exc}") from None
        self.n_ctx = self._llm.n_ctx()
        self._formatter = None
        self.last_evaluated = 0  # tokens the last yes_probability call had to evaluate
        self._pieces: list[int] = []  # where the evaluation pieces of the cached tokens end
        self.last_reused = 0  # prompt tokens the last stream_chat call took from the KV cache
        self.last_splice: SpliceReport | None = None  # how the last prompt's passages were read
        self._spliced: list[int] = []  # head and block tokens the KV cache holds from a splice
        self._splicer: Splicer | None = None
        if passage_cache is not None and self.has_chat_template:
            two_sequence_context(self._llm)
            store = KVStore(passage_cache.folder, namespace(model_digest or str(path), self._llm),
                            memory_bytes=passage_cache.memory_bytes,
                            disk_bytes=passage_cache.disk_bytes)
            self._splicer = Splicer(self._llm, store, chained=chained, blend=blend)

    @property
    def llama(self):
        """The llama_cpp.Llama object, for benchmarks that compare against it directly."""
        return self._llm

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    @property
    def passage_cache(self) -> KVStore | None:
        return self._splicer.store if self._splicer is not None else None

    def stream_chat(self, messages: list[dict], *, max_tokens: int, temperature: float,
                    stop: Sequence[str] = (), shares_start_with: list[dict] | None = None,
                    blocks: Sequence[Block] = (), grammar: str | None = None) -> Iterator[str]:
        """Text pieces as the model produces them, held to a GBNF `grammar` when one is given.
        `shares_start_with` is another prompt, sent before or after this one, whose opening
        tokens this one repeats: that shared part is evaluated as a piece of its own, so the other
        prompt resumes after it exactly. `blocks` are the passages in the prompt, read from the
        passage cache when there is one."""
        with self._lock:
            self.last_splice = self._splice(messages, blocks)
            if self.last_splice is None:
                self._evaluate_pieces(messages, shares_start_with)
            for event in self._llm.create_chat_completion(
                    messages=messages, max_tokens=max_tokens, temperature=temperature,
                    stop=list(stop) or None, stream=True, grammar=self._grammar(grammar)):
                piece = event["choices"][0]["delta"].get("content")
                if piece:
                    yield piece

    def chat(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0) -> str:
        return "".join(self.stream_chat(messages, max_tokens=max_tokens, temperature=temperature))

    @staticmethod
    def _grammar(text: str | None):
        """llama-cpp-python's compiled form of a GBNF grammar (None: no constraint)."""
        if text is None:
            return None
        from llama_cpp import LlamaGrammar

        return LlamaGrammar.from_string(text, verbose=False)

    def yes_probability(self, messages: list[dict], blocks: Sequence[Block] = ()) -> float:
        """How much the model prefers "Yes" over "No" as its reply's first word, from 0 to 1.

        Only the tokens after the longest prefix already in the KV cache are evaluated: a check
        that shares the answer prompt's system and user turns costs just its own tokens. With
        `blocks` and a passage cache, those passages are spliced in if the KV cache lacks them.
        """
        from llama_cpp import llama_get_logits_ith

        with self._lock:
            tokens = self._chat_tokens(messages)
            if len(tokens) > self.n_ctx:
                raise BadInput(f"the check needs {len(tokens)} tokens; the context holds {self.n_ctx}")
            llm = self._llm
            if not self._holds_splice(tokens):
                self._splice(messages, blocks)
            same = _common_prefix(llm.input_ids[:llm.n_tokens], tokens)
            self._truncate(min(same, len(tokens) - 1))  # at least one token is evaluated
            self._pieces = [end for end in self._pieces if end <= llm.n_tokens]
            self.last_evaluated = len(tokens) - llm.n_tokens
            llm.eval(tokens[llm.n_tokens:])
            logits = numpy.ctypeslib.as_array(llama_get_logits_ith(llm._ctx.ctx, -1),
                                              shape=(llm.n_vocab(),))
            yes_ids, no_ids = self._yes_no_tokens
            yes = max(float(logits[t]) for t in yes_ids)
            no = max(float(logits[t]) for t in no_ids)
        return 1.0 / (1.0 + math.exp(no - yes))

    def warm(self, messages: list[dict], blocks: Sequence[Block]) -> SpliceReport | None:
        """Store the KV states of these blocks, as this prompt shows them, if not stored yet."""
        with self._lock:
            segments = self._segments(messages, blocks)
            if segments is None or self._splicer is None:
                return None
            self._truncate(0)
            self._pieces = []
            return self._splicer.warm(segments)

    def prompt_segments(self, messages: list[dict], blocks: Sequence[Block]) -> Segments | None:
        """How the passage cache would cut this prompt (None: it would read it whole)."""
        return self._segments(messages, blocks)

    def forget_kv(self) -> None:
        """Read the next prompt from its first token."""
        with self._lock:
            self._truncate(0)
            self._pieces = []

    def _splice(self, messages: list[dict], blocks: Sequence[Block]) -> SpliceReport | None:
        """Splice the prompt's head and blocks into the KV cache, leaving the rest to compute;
        None (nothing done) when there is no cache or the prompt cannot be cut at its blocks."""
        segments = self._segments(messages, blocks)
        if segments is None or self._splicer is None:
            return None
        spliced = segments.spliced_tokens
        if self._holds_splice(spliced):
            report = SpliceReport(cached=len(blocks), head_cached=True)
        else:
            self._truncate(0)
            report = self._splicer.splice(segments)
            self._spliced = spliced
        self._llm.n_tokens = len(spliced)  # the rest is computed in one piece, as after a splice
        self._pieces = []
        self.last_reused = len(spliced)
        return report

    def _holds_splice(self, tokens: Sequence[int]) -> bool:
        """Do the KV cache's first cells hold a splice that `tokens` starts with?"""
        n = len(self._spliced)
        return (n > 0 and self._llm.n_tokens >= n and list(tokens[:n]) == self._spliced
                and _common_prefix(self._llm.input_ids[:n], self._spliced) == n)

    def _truncate(self, n_tokens: int) -> None:
        self._llm.n_tokens = n_tokens
        if n_tokens < len(self._spliced):
            self._spliced = []

    def _segments(self, messages: list[dict], blocks: Sequence[Block]) -> Segments | None:
        if self._splicer is None or not blocks:
            return None
        return cut(self._chat_prompt(messages), blocks, self._tokenize)

    def session(self) -> threading.Lock:
        """Held around one answer's generation and checks, so that another request's prompt
        cannot evict the KV cache the checks reuse: a check's result then never depends on what
        else the server was doing."""
        return self._session

    def _evaluate_pieces(self, messages: list[dict], shares_start_with: list[dict] | None) -> None:
        """Leave the prompt's tokens up to its last piece end in the KV cache, reusing what was
        evaluated in the same pieces; the caller's completion evaluates the rest."""
        llm = self._llm
        if not self.has_chat_template or len(messages) < 2:
            self._truncate(0)  # from scratch every time
            self._pieces, self.last_reused = [], 0
            return
        tokens = self._chat_tokens(messages)
        # the fixed part ends where the first message after the system prompt starts
        probe = self._chat_tokens([messages[0], {"role": messages[1]["role"], "content": "\ue000"}])
        ends = [_common_prefix(tokens, probe)]
        if shares_start_with is not None:
            ends.append(_common_prefix(tokens, self._chat_tokens(shares_start_with)))
        ends = sorted({end for end in ends if 0 < end < len(tokens)})
        cached = _common_prefix(llm.input_ids[:llm.n_tokens], tokens)
        resume = 0
        for before, now in zip(self._pieces, ends):  # the same pieces from the start
            if before != now or now > cached:
                break
            resume = now
        self._truncate(resume)
        self.last_reused = resume
        for end in ends:
            if end > resume:
                llm.eval(tokens[llm.n_tokens:end])
        self._pieces = ends

    @property
    def has_chat_template(self) -> bool:
        """Only then can `yes_probability` rebuild the exact tokens of a chat prompt."""
        return bool(self._llm.metadata.get("tokenizer.chat_template"))

    def prompt_tokens(self, messages: list[dict]) -> int:
        """How many tokens the model reads for these chat messages, template included."""
        if not self.has_chat_template:  # llama.cpp's own fallback format; the contents dominate
            return sum(self.count_tokens(m["content"]) for m in messages)
        return len(self._chat_tokens(messages))

    def _chat_tokens(self, messages: list[dict]) -> list[int]:
        """The tokens `create_chat_completion` would feed the model for these messages."""
        return self._tokenize(self._chat_prompt(messages))

    def _tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _chat_prompt(self, messages: list[dict]) -> str:
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            if not self.has_chat_template:
                raise ModelUnavailable(f"{self.name} has no chat template in its metadata")
            self._formatter = Jinja2ChatFormatter(
                template=self._llm.metadata["tokenizer.chat_template"],
                eos_token=self._token_text(self._llm.token_eos()),
                bos_token=self._token_text(self._llm.token_bos()))
        return self._formatter(messages=messages).prompt

    def _token_text(self, token: int) -> str:
        return self._llm._model.token_get_text(token) if token != -1 else ""

    @functools.cached_property
    def _yes_no_tokens(self) -> tuple[list[int], list[int]]:
        """First tokens of "Yes"/"yes" and "No"/"no" in this model's vocabulary."""
        def first(word: str) -> int:
            return self._llm.tokenize(word.encode("utf-8"), add_bos=False)[0]

        return [first("Yes"), first("yes")], [first("No"), first("no")]


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    same = 0
    for x, y in zip(a, b):
        if x != y:
            break
        same += 1
    return same
