"""The quote-then-answer path (`RAG_ANSWER_MODE=quote`): quote under a grammar, answer from the
quote, check the answer against the quote, and answer with the quote itself before abstaining.

The steps, each recorded: the model copies its evidence (`rag.answer.quoting`) and answers; a
quote that does not answer the question is replaced by the cited passage's sentence that does,
if one does; the answer is kept when the verifier finds it on its passages and it states no
number, month or name its quotes lack; otherwise the quotes themselves, cited, are the second
try (`answer_path` "quote"); only when that fails too does the reader get the abstention. (A
question about a name no shown passage mentions never gets here: the assistant declines it
before the model reads, in either answer mode.)
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

from rag.answer.events import Event, Status, Token
from rag.answer.prompting import AnswerPrompt
from rag.answer.quoting import answer_shown_so_far, quotable_units, quote_grammar, read_reply
from rag.answer.verdict import abstain, apply_review
from rag.check import (
    Reviewer,
    StreamingMarkerFilter,
    changed_facts,
    quote_as_answer,
    supporting_sentence,
)
from rag.models.chat import ChatModel
from rag.text import SIMPLE_MARKER
from rag.types import AnswerRecord, Quote


class QuotedDraft:
    """One reply in the quote grammar. Iterating yields the quote as it is copied (a "quoting"
    status, "Reading: …") and then the answer's text; `text` is all the model wrote."""

    def __init__(self, generator: ChatModel, reading: AnswerPrompt, *, max_tokens: int,
                 temperature: float) -> None:
        self.generator = generator
        self.reading = reading
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.text = ""

    def __iter__(self) -> Iterator[Status | Token]:
        stream_filter = StreamingMarkerFilter({p.n for p in self.reading.passages})
        shown_quote, shown_answer = "", 0
        for piece in self.generator.stream_chat(
                self.reading.messages, max_tokens=self.max_tokens, temperature=self.temperature,
                blocks=self.reading.blocks, grammar=quote_grammar(self.reading.passages)):
            self.text += piece
            quote, answer = answer_shown_so_far(self.text)
            if answer is None:
                if quote and quote != shown_quote and not quote.startswith("none"):
                    shown_quote = quote
                    yield Status("quoting", f"Reading: {quote}")
                continue
            if self.text.startswith("Quote: none"):
                continue  # the abstention, said by the record, not streamed
            if shown := stream_filter.feed(answer[shown_answer:]):
                yield Token(shown)
            shown_answer = len(answer)
        if tail := stream_filter.flush():
            yield Token(tail)
        self.text = self.text.strip()


def answer_by_quote(generator: ChatModel, reviewer: Reviewer, record: AnswerRecord,
                    reading: AnswerPrompt, standalone: str, *, max_tokens: int,
                    temperature: float) -> Generator[Event, None, None]:
    """Draft in the quote grammar, stream it, and write the checked outcome into `record`."""
    draft = QuotedDraft(generator, reading, max_tokens=max_tokens, temperature=temperature)
    yield from draft
    record.draft_answer = draft.text
    reply = read_reply(draft.text, reading.passages)
    if reply.declined:
        record.answer_path = "declined"
        abstain(record, "model_declined")
        return
    answer = _cited(reply.answer, reply.quotes)
    quotes = record.quotes = _answering(reviewer, standalone, reading, reply.quotes, answer)
    if not quotes:
        record.answer_path = "quote_does_not_answer"
        abstain(record, "quote_does_not_answer")
        return
    changed: list[str] = []
    if answer:
        review = reviewer.review(answer, standalone, reading.passages, reading.chat)
        changed = _changed(review.answer, quotes, standalone, reading) if review.supported else []
        if changed and (evidence := _evidence_sentence(reviewer, review.answer, standalone,
                                                       reading)):
            quotes = record.quotes = [evidence]
            changed = []
        if review.supported and not review.declined and not changed:
            record.answer_path = "draft"
            apply_review(record, review)
            return
    record.rejected_draft = (f"states what its quotes do not: {', '.join(changed)}" if changed
                             else "the verifier did not find it in the passages" if answer
                             else "no answer after the quotes")
    record.answer_path = "quote"
    apply_review(record, reviewer.review(quote_as_answer(quotes), standalone, reading.passages,
                                         reading.chat))


def _changed(answer: str, quotes: list[Quote], question: str, reading: AnswerPrompt) -> list[str]:
    titles = [p.title for p in reading.passages if p.n in {q.n for q in quotes}]
    return changed_facts(answer, quotes, question, titles)


def _evidence_sentence(reviewer: Reviewer, answer: str, question: str,
                       reading: AnswerPrompt) -> Quote | None:
    """The sentence that best states the answer in a shown passage (those the answer cites
    first), when it holds every number, month and name the answer states, says what the answer
    says, and answers the question: the model quoted one sentence and answered from another,
    which is no error."""
    cited = {int(n) for n in SIMPLE_MARKER.findall(answer)}
    for passage in sorted(reading.passages, key=lambda p: p.n not in cited):
        sentence = supporting_sentence(passage, [answer])
        if sentence and sentence in quotable_units(passage):
            quote = Quote(passage.n, sentence, passage.doc_id, passage.chunk_id)
            if (not changed_facts(answer, [quote], question, [passage.title])
                    and reviewer.states(sentence, answer)
                    and reviewer.quote_answers(question, quote, reading.chat)):
                return quote
    return None


def _cited(answer: str, quotes: list[Quote]) -> str:
    """The answer with its quotes' markers when it wrote none of its own."""
    if SIMPLE_MARKER.search(answer) or not quotes or not answer:
        return answer
    marks = "".join(f"[{n}]" for n in dict.fromkeys(q.n for q in quotes))
    body, end = (answer[:-1].rstrip(), answer[-1]) if answer[-1] in ".!?" else (answer, ".")
    return f"{body} {marks}{end}"


def _answering(reviewer: Reviewer, question: str, reading: AnswerPrompt, quotes: list[Quote],
               answer: str) -> list[Quote]:
    """The quotes that answer the question; when none does, the sentence that states the answer
    (`_evidence_sentence`), if there is one."""
    kept = [q for q in quotes if reviewer.quote_answers(question, q, reading.chat)]
    if kept or not answer:
        return kept
    found = _evidence_sentence(reviewer, answer, question, reading)
    return [found] if found and found.text not in {q.text for q in quotes} else []
