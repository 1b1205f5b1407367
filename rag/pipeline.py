"""The one path from a question to a checked, cited answer, shared by the CLI, the UI and the eval.

`Assistant.stream` yields status changes, the passages found (as soon as retrieval ends), answer
text as it is generated, then one final `AnswerRecord`: the JSON contract of `rag ask --json`. Heavy parts (embedding model, index, GGUF
model) load on first use and stay in memory.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date as Date

import numpy as np

from rag.backends import ChatModel, SearchIndex, describe_index, make_generator, open_index
from rag.citations import (SIMPLE_MARKER, StreamingMarkerFilter, check_markers, is_bare_markers,
                           says_not_found, strip_markers)
from rag.condense import condense
from rag.embedding import Embedder, ProgressFn
from rag.entailment import EntailmentCheck
from rag.errors import BadInput, IndexMismatch
from rag.judge import SupportJudge
from rag.prompting import (ABSTAIN_TOKEN, AnswerPrompt, Prompts, build_answer_prompt,
                           build_rewrite_prompt)
from rag.retrieval import Passage, Retriever
from rag.sentences import split_sentences
from rag.settings import Settings
from rag.support import SentenceSupport, check_support, evidence_of, fix_citations
from rag.verifier import Check, Verifier

NOT_IN_ARTICLES = "The articles do not answer this question."
MAX_QUESTION_CHARS = 50_000  # a guard before tokenising; the real limit is the context


@dataclass
class Citation:
    n: int
    doc_id: str
    chunk_id: str


@dataclass
class AnswerRecord:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    passages: list[Passage]
    timings_ms: dict[str, float]
    model: str
    standalone_question: str = ""
    abstain_reason: str | None = None  # "no_relevant_passages", "model_declined", "unsupported_answer"
    draft_answer: str = ""  # the model's reply as generated, before any check
    readings: int = 1  # 2 when the best passages gave no answer and the model read them all
    prompt_tokens: int = 0  # tokens of the answer prompt the model read
    removed_markers: int = 0  # markers that pointed at no shown passage
    extractive_fallback: bool = False  # the model gave bare markers; a cited sentence was used
    citations_added: int = 0  # uncited sentences given the marker of a supporting passage
    citations_repointed: int = 0  # markers moved to the shown passage that supports the sentence
    unsupported_sentences: list[str] = field(default_factory=list)  # not tied to a citation
    sentence_support: list[SentenceSupport] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Status:
    stage: str  # "rewriting", "retrieving", "generating"
    message: str


@dataclass
class Sources:
    """The passages the model is about to read, sent before it starts: a reader can look at them
    while the answer is generated."""
    passages: list[Passage]


@dataclass
class Token:
    text: str


@dataclass
class Final:
    record: AnswerRecord


Event = Status | Sources | Token | Final
History = Sequence[tuple[str, str]]


def check_date(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return Date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadInput(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None


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
        self._verifier: Verifier | None = None

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
    def verifier(self) -> Verifier:
        if self._verifier is None:
            generator = self.generator
            entailment = (EntailmentCheck(generator, self.prompts)
                          if self.settings.entailment_check and generator.has_chat_template
                          else None)
            self._verifier = Verifier(SupportJudge(self.embedder), entailment)
        return self._verifier

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
        """`since`, `until` and `articles` (doc ids) limit what retrieval may find."""
        question = check_question(question)
        since, until = check_date(since, "--since"), check_date(until, "--until")
        top_k = top_k or self.settings.top_k
        generator, embedder, index = self.generator, self.embedder, self.index  # loaded before timing
        if articles is not None and (unknown := [a for a in articles if index.article(a) is None]):
            raise BadInput(f"not in the index: {', '.join(unknown)} (see: rag list)")
        self._prompt_for(question, [])  # a question too long for the context fails before any work
        started = time.perf_counter()
        timings: dict[str, float] = {}

        standalone = question
        if history:
            yield Status("rewriting", "Rewriting the follow-up as a standalone question…")
            standalone = self.rewrite(question, history)

        yield Status("retrieving", "Searching the articles…")
        retrieval_started = time.perf_counter()
        retriever = Retriever(index, embedder, rrf_k=self.settings.rrf_k,
                              candidates=self.settings.candidates)
        passages = retriever.retrieve(standalone, top_k, since=since, until=until, doc_ids=articles)
        timings["retrieve"] = _ms(time.perf_counter() - retrieval_started)

        def new_record() -> AnswerRecord:
            return AnswerRecord(question=question, answer="", abstained=False, citations=[],
                                passages=[], timings_ms=timings, model=generator.name,
                                standalone_question=standalone)

        record = new_record()
        if not self._relevant(passages):
            record.abstained, record.abstain_reason = True, "no_relevant_passages"
            record.answer = NOT_IN_ARTICLES
            timings["first_token"] = timings["total"] = _ms(time.perf_counter() - started)
            yield Token(record.answer)
            yield Final(record)
            return

        if self.settings.passage_budget:
            passages = condense(passages, standalone, embedder, budget=self.settings.passage_budget)
        prompt = self._prompt_for(standalone, passages)
        yield Sources(prompt.passages)
        yield Status("generating", "Waiting for the model…")
        readings = self._readings(standalone, prompt)
        with generator.session():  # the checks reuse this answer's KV cache: nobody may evict it
            for i, reading in enumerate(readings):
                last = i == len(readings) - 1
                if i:
                    record = new_record()
                    yield Status("reading_more", "Reading the other passages…")
                record.passages, record.readings = reading.passages, i + 1
                record.prompt_tokens = generator.prompt_tokens(reading.messages)
                other = readings[i + 1] if not last else readings[i - 1] if i else None
                for piece in self._draft(record, reading, other, hold_decline=not last):
                    timings.setdefault("first_token", _ms(time.perf_counter() - started))
                    yield Token(piece)
                generated = time.perf_counter()
                self._finish(record, record.draft_answer, standalone, reading.messages)
                timings["verify"] = _ms(time.perf_counter() - generated)
                if not record.abstained:
                    break
            timings.setdefault("first_token", _ms(time.perf_counter() - started))
        timings["total"] = _ms(time.perf_counter() - started)
        yield Final(record)

    def _readings(self, question: str, prompt: AnswerPrompt) -> list[AnswerPrompt]:
        """The best `read_first` passages, then all of them only when those yield no answer.

        Reading costs the model most of its time (every passage token before the first word
        appears), and most answers stand in the best two passages. The second reading repeats
        the first one's passages word for word and in the same order, so its prompt resumes from
        the first one's KV cache and pays only for the passages added."""
        first = self.settings.read_first
        if not 0 < first < len(prompt.passages):
            return [prompt]
        return [self._prompt_for(question, prompt.passages[:first]), prompt]

    def _draft(self, record: AnswerRecord, reading: AnswerPrompt, other: AnswerPrompt | None, *,
               hold_decline: bool) -> Iterator[str]:
        """Generate the reply into `record.draft_answer`, yielding what a reader may be shown.

        With `hold_decline`, text that could still become the refusal is held back: a refusal
        there leads to a second reading, and a reader should not see it come and go."""
        generator = self.generator
        stream_filter = StreamingMarkerFilter({p.n for p in reading.passages})
        raw: list[str] = []
        held = hold_decline
        for piece in generator.stream_chat(reading.messages,
                                           max_tokens=self.settings.max_answer_tokens,
                                           temperature=self.settings.temperature,
                                           shares_start_with=other.messages if other else None):
            raw.append(piece)
            if held:
                held = ABSTAIN_TOKEN.startswith("".join(raw).strip().upper())
                if held:
                    continue
                piece = "".join(raw)
            if shown := stream_filter.feed(piece):
                yield shown
        record.draft_answer = "".join(raw).strip()
        if not held and (tail := stream_filter.flush()):
            yield tail

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
        prompt = self._prompt_for(question, passages)
        bound = self.verifier.bind(question, evidence_of(prompt.passages), prompt.messages)
        with self.generator.session():
            return bound.check(sentence, [p.n for p in prompt.passages])

    # -- helpers -------------------------------------------------------------------------------

    def _prompt_for(self, question: str, passages: list[Passage]) -> AnswerPrompt:
        generator = self.generator
        return build_answer_prompt(self.prompts, question, passages,
                                   count_tokens=generator.count_tokens, n_ctx=generator.n_ctx,
                                   max_answer_tokens=self.settings.max_answer_tokens)

    def _relevant(self, passages: list[Passage]) -> bool:
        """Retrieval found something when the best passage is semantically close enough."""
        best = max((p.dense_score for p in passages if p.dense_score is not None), default=None)
        return best is not None and best >= self.settings.min_dense_score

    def _finish(self, record: AnswerRecord, raw: str, question: str, messages: list[dict]) -> None:
        """Check markers, detect a refusal, replace bare-marker replies, point each sentence's
        citation at a shown passage that entails it where one does, verify support; fill
        citations."""
        passages = record.passages
        checked = check_markers(raw, {p.n for p in passages})
        record.removed_markers = checked.removed
        if says_not_found(checked.text) and not checked.used:
            record.abstained, record.abstain_reason = True, "model_declined"
            record.answer = NOT_IN_ARTICLES
            return
        answer = checked.text
        if not answer or is_bare_markers(answer):
            cited = [p for p in passages if p.n in checked.used] or passages
            answer = self._extract_answer(question, cited)
            record.extractive_fallback = True
        verifier = self.verifier.bind(question, evidence_of(passages), messages)
        fix = fix_citations(answer, verifier)
        answer = record.answer = fix.answer
        record.citations_added, record.citations_repointed = fix.added, fix.repointed
        record.sentence_support = check_support(answer, verifier)
        record.unsupported_sentences = [s.sentence for s in record.sentence_support if not s.supported]
        if record.sentence_support and not any(s.supported for s in record.sentence_support):
            # nothing the model said is backed by a passage it saw: decline rather than mislead
            record.abstained, record.abstain_reason = True, "unsupported_answer"
            record.answer, record.citations = NOT_IN_ARTICLES, []
            record.sentence_support, record.unsupported_sentences = [], []
            return
        by_n = {p.n: p for p in passages}
        used: list[int] = []
        for n in (int(m) for m in SIMPLE_MARKER.findall(answer)):
            if n not in used:
                used.append(n)
        record.citations = [Citation(n, by_n[n].doc_id, by_n[n].chunk_id) for n in used]

    def _extract_answer(self, question: str, passages: list[Passage]) -> str:
        """The passage sentence closest to the question, cited: used when the model gave no claim."""
        candidates = [(p.n, s) for p in passages for s in split_sentences(p.text) if len(s) > 20]
        if not candidates:
            return NOT_IN_ARTICLES
        vectors = self.embedder.embed([question] + [strip_markers(s) for _, s in candidates])
        best = int(np.argmax(vectors[1:] @ vectors[0]))
        n, sentence = candidates[best]
        body, end = (sentence[:-1], sentence[-1]) if sentence[-1] in ".!?" else (sentence, ".")
        return f"{body} [{n}]{end}"


def check_question(question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise BadInput("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadInput(f"the question is {len(question)} characters long; the limit is "
                       f"{MAX_QUESTION_CHARS}")
    return question


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
