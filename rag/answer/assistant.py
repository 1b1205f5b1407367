"""The one path from a question to a checked, cited answer, shared by the CLI, the UI, the API
and the eval.

`Assistant.stream` yields status changes, the passages found (as soon as retrieval ends), answer
text as it is generated, then one final `AnswerRecord`: the JSON contract of `rag ask --json`.
Heavy parts (embedding model, index, GGUF model) load on first use and stay in memory.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator, Iterator, Sequence

from rag.answer.condense import condense
from rag.answer.drafting import Draft, readings
from rag.answer.events import Event, Final, History, Sources, Status, Token
from rag.answer.prompting import AnswerPrompt, build_answer_prompt, build_rewrite_prompt
from rag.answer.questions import check_date, check_question
from rag.answer.quoted import answer_by_quote
from rag.answer.retrieval import Retriever
from rag.answer.verdict import RETRIED, abstain, apply_review
from rag.check import Check, Reviewer, absent_names
from rag.errors import BadInput, IndexMismatch
from rag.models.chat import ChatModel
from rag.models.embedding import Embedder
from rag.models.factory import make_generator
from rag.settings import Settings
from rag.store.factory import SearchIndex, describe_index, open_index
from rag.templates import Prompts
from rag.types import AnswerRecord, Passage, ProgressFn


class Assistant:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 generator: ChatModel | None = None, index: SearchIndex | None = None,
                 model_progress: ProgressFn | None = None) -> None:
        self.settings = settings
        self.prompts = Prompts(settings.prompts)
        self._embedder = embedder
        self._generator = generator
        self._index = index
        self._stale_index: SearchIndex | None = None
        self._model_progress = model_progress
        self._load_lock = threading.Lock()
        self._reviewer: Reviewer | None = None

    # -- components, loaded on first use -------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._load_lock:
            if self._embedder is None:
                self._embedder = Embedder(self.settings.embedding_model, self.settings.embed_batch_size)
            return self._embedder

    @property
    def generator(self) -> ChatModel:
        with self._load_lock:
            if self._generator is None:
                self._generator = make_generator(self.settings, self._model_progress)
            return self._generator

    @property
    def reviewer(self) -> Reviewer:
        if self._reviewer is None:
            generator = self.generator
            checker = generator if self.settings.entailment_check and generator.has_chat_template else None
            self._reviewer = Reviewer(self.embedder, checker, self.prompts)
        return self._reviewer

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            index = open_index(self.settings, self._stale_index)
            if index.settings.embedding_model != self.settings.embedding_model:
                raise IndexMismatch(
                    f"index in {describe_index(self.settings)} was built with embedding model "
                    f"{index.settings.embedding_model!r}, settings say "
                    f"{self.settings.embedding_model!r}; rebuild it with: rag ingest --rebuild")
            self._index, self._stale_index = index, None
        return self._index

    def reload_index(self) -> None:
        """Pick up what ingest or remove wrote (reusing what did not change)."""
        self._stale_index, self._index = self._index, None

    # -- answering -----------------------------------------------------------------------------

    def ask(self, question: str, history: History = (), **options) -> AnswerRecord:
        for event in self.stream(question, history, **options):
            if isinstance(event, Final):
                return event.record
        raise AssertionError("stream ended without a final record")

    def stream(self, question: str, history: History = (), *, top_k: int | None = None,
               since: str | None = None, until: str | None = None,
               articles: Sequence[str] | None = None) -> Iterator[Event]:
        """Retrieve, read, draft, check, cite. `since`, `until` and `articles` (doc ids) limit
        what retrieval may find."""
        question, since, until, index = self._check_input(question, since, until, articles)
        clock = _Clock()
        standalone = question
        if history:
            yield Status("rewriting", "Rewriting the follow-up as a standalone question…")
            standalone = self.rewrite(question, history)
        yield Status("retrieving", "Searching the articles…")
        passages = self._retrieve(index, standalone, top_k or self.settings.top_k, since, until,
                                  articles, clock)
        if not self._relevant(passages):
            yield from self._decline(_new_record(question, standalone, self.generator, clock),
                                     "no_relevant_passages", clock)
            return
        prompt = self._read(standalone, passages)
        yield Sources(prompt.passages)
        if absent := self._unmentioned(standalone, prompt.passages):
            record = _new_record(question, standalone, self.generator, clock)
            record.passages, record.answer_path = prompt.passages, "absent_names"
            record.rejected_draft = f"no shown passage mentions {', '.join(absent)}"
            yield from self._decline(record, "names_not_in_articles", clock)
            return
        yield Status("generating", "Waiting for the model…")
        if self.settings.answer_mode == "quote":
            record = yield from self._quote_and_check(question, standalone, prompt, clock)
        else:
            record = yield from self._draft_and_check(question, standalone, prompt, clock)
            if self.settings.quote_retry and record.abstain_reason in RETRIED:
                record = yield from self._second_try(question, standalone, record, clock)
        clock.timings["total"] = clock.ms()
        yield Final(record)

    def _check_input(self, question: str, since: str | None, until: str | None,
                     articles: Sequence[str] | None
                     ) -> tuple[str, str | None, str | None, SearchIndex]:
        """Bad input fails here, after the parts are loaded and before anything is timed. The
        index returned is the one this answer searches, even if an upload reloads it meanwhile."""
        question = check_question(question)
        since, until = check_date(since, "--since"), check_date(until, "--until")
        _ = self.generator, self.embedder  # loaded now: no question's timings hold a load
        index = self.index
        if articles is not None and (unknown := [a for a in articles if index.article(a) is None]):
            raise BadInput(f"not in the index: {', '.join(unknown)} (see: rag list)")
        self.prompt_for(question, [])  # a question too long for the context fails before any work
        return question, since, until, index

    def _retrieve(self, index: SearchIndex, question: str, top_k: int, since: str | None,
                  until: str | None, articles: Sequence[str] | None,
                  clock: _Clock) -> list[Passage]:
        started = time.perf_counter()
        retriever = Retriever(index, self.embedder, rrf_k=self.settings.rrf_k,
                              candidates=self.settings.candidates)
        passages = retriever.retrieve(question, top_k, since=since, until=until, doc_ids=articles)
        clock.timings["retrieve"] = _ms(time.perf_counter() - started)
        return passages

    def _decline(self, record: AnswerRecord, reason: str, clock: _Clock) -> Iterator[Event]:
        """Abstain before the model reads: nothing relevant was found, or the question names
        someone no passage mentions (a small model would put another one's words in their mouth)."""
        abstain(record, reason)
        clock.timings["first_token"] = clock.timings["total"] = clock.ms()
        yield Token(record.answer)
        yield Final(record)

    def _unmentioned(self, question: str, passages: list[Passage]) -> list[str]:
        """The people, organisations and places the question names that no passage mentions."""
        return absent_names(question, passages)

    def _read(self, question: str, passages: list[Passage]) -> AnswerPrompt:
        """The prompt the model reads: the passages (condensed, when a budget is set) that fit."""
        if self.settings.passage_budget:
            passages = condense(passages, question, self.embedder,
                                budget=self.settings.passage_budget)
        return self.prompt_for(question, passages, mode=self.settings.answer_mode)

    def _quote_and_check(self, question: str, standalone: str, prompt: AnswerPrompt,
                         clock: _Clock) -> Generator[Event, None, AnswerRecord]:
        """Quote, then answer (`rag.answer.quoted`), in one reading of all the passages; the
        timings add `first_quote`, when the quote began to stream."""
        generator = self.generator
        record = _new_record(question, standalone, generator, clock)
        record.passages = prompt.passages
        record.prompt_tokens = generator.prompt_tokens(prompt.messages)
        with generator.session():
            steps = answer_by_quote(generator, self.reviewer, record, prompt, standalone,
                                    max_tokens=self.settings.max_answer_tokens,
                                    temperature=self.settings.temperature)
            for event in steps:
                if isinstance(event, Token):
                    clock.first_token()
                else:
                    clock.timings.setdefault("first_quote", clock.ms())
                yield event
            clock.first_token()
        if (splice := generator.last_splice) is not None:
            record.passage_cache = {"cached": splice.cached, "computed": splice.computed}
        return record

    def _second_try(self, question: str, standalone: str, first: AnswerRecord,
                    clock: _Clock) -> Generator[Event, None, AnswerRecord]:
        """The direct answer was declined or rejected: the same passages once more, quoted
        before answered (`rag.answer.quoted`), a reading that differs enough to be worth it.
        Its record is the answer, or the abstention, with `first_try` saying why it ran."""
        yield Status("retrying", "Quoting the passages to try again…")
        prompt = self.prompt_for(standalone, first.passages, mode="quote")
        record = yield from self._quote_and_check(question, standalone, prompt, clock)
        record.first_try = first.abstain_reason
        return record

    def _draft_and_check(self, question: str, standalone: str, prompt: AnswerPrompt,
                         clock: _Clock) -> Generator[Event, None, AnswerRecord]:
        """Each reading drafted, streamed and checked in turn, until one gives an answer. The
        checks reuse the answer's KV cache, so the model is held for all of it."""
        generator = self.generator
        plan = readings(prompt, self.settings.read_first,
                        lambda passages: self.prompt_for(standalone, passages))
        with generator.session():
            for i, reading in enumerate(plan):
                last = i == len(plan) - 1
                if i:
                    yield Status("reading_more", "Reading the other passages…")
                record = _new_record(question, standalone, generator, clock)
                record.passages, record.readings = reading.passages, i + 1
                record.answer_path = "direct"
                record.prompt_tokens = generator.prompt_tokens(reading.messages)
                draft = Draft(generator, reading, max_tokens=self.settings.max_answer_tokens,
                              temperature=self.settings.temperature,
                              shares_start_with=plan[i + 1] if not last else plan[i - 1] if i else None,
                              hold_decline=not last)
                for piece in draft:
                    clock.first_token()
                    yield Token(piece)
                record.draft_answer = draft.text
                if (splice := generator.last_splice) is not None:
                    record.passage_cache = {"cached": splice.cached, "computed": splice.computed}
                checked = time.perf_counter()
                apply_review(record, self.reviewer.review(draft.text, standalone,
                                                          reading.passages, reading.chat))
                clock.timings["verify"] = _ms(time.perf_counter() - checked)
                if not record.abstained:
                    break
            clock.first_token()
        return record

    def rewrite(self, question: str, history: History) -> str:
        """A follow-up made standalone by the model; the original when the reply is unusable."""
        messages = build_rewrite_prompt(self.prompts, question, history)
        with self.generator.session():  # not between another answer and its checks
            reply = self.generator.chat(messages, max_tokens=64, temperature=0.0)
        lines = [line.strip().strip('"“”').strip() for line in reply.splitlines() if line.strip()]
        candidate = re.sub(r"^(standalone question|question)\s*:\s*", "", lines[0], flags=re.I) if lines else ""
        if not candidate or len(candidate) > 3 * len(question) + 200:
            return question
        return candidate

    def verify(self, question: str, passages: list[Passage], sentence: str) -> Check:
        """Does the sentence, citing every passage, stand? Checked exactly as inside an answer to
        `question` over these passages: the eval scores the verifier on labelled pairs this way."""
        prompt = self.prompt_for(question, passages)
        with self.generator.session():
            return self.reviewer.check_sentence(question, prompt.passages, prompt.chat, sentence)

    # -- helpers -------------------------------------------------------------------------------

    def prompt_for(self, question: str, passages: list[Passage],
                   mode: str = "direct") -> AnswerPrompt:
        generator = self.generator
        return build_answer_prompt(self.prompts, question, passages,
                                   count_tokens=generator.count_tokens, n_ctx=generator.n_ctx,
                                   max_answer_tokens=self.settings.max_answer_tokens,
                                   mode=mode)

    def _relevant(self, passages: list[Passage]) -> bool:
        """Retrieval found something when the best passage is semantically close enough."""
        best = max((p.dense_score for p in passages if p.dense_score is not None), default=None)
        return best is not None and best >= self.settings.min_dense_score


def _new_record(question: str, standalone: str, generator: ChatModel, clock: _Clock) -> AnswerRecord:
    return AnswerRecord(question=question, answer="", abstained=False, citations=[], passages=[],
                        timings_ms=clock.timings, model=generator.name,
                        standalone_question=standalone)


class _Clock:
    """Milliseconds since the question was accepted, and the timings of one answer."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    def ms(self) -> float:
        return _ms(time.perf_counter() - self.started)

    def first_token(self) -> None:
        self.timings.setdefault("first_token", self.ms())


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
