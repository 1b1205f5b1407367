"""The answer path's one door into checking: this reply, these passages, this question; which
sentence stands on which passage, and why.

A review reads the reply's markers (keeping only those that name a shown passage), notices a
refusal, replaces a reply of bare markers by the cited sentence closest to the question, points
each sentence at a shown passage that entails it, and records each sentence's support. The
rules behind it are called downward only: `citing` and `support` ask `verifier`, which asks
`constraints`, `judge` and `entailment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag.check.citing import fix_citations
from rag.check.entailment import EntailmentCheck
from rag.check.judge import SupportJudge
from rag.check.markers import check_markers, is_bare_markers, says_not_found
from rag.check.quotes import missing_kind
from rag.check.support import check_support, evidence_of
from rag.check.verifier import BoundVerifier, Check, Verifier
from rag.models.chat import ChatModel
from rag.models.embedding import Embedder
from rag.templates import NOT_IN_ARTICLES, Prompts
from rag.text import SIMPLE_MARKER, split_sentences, strip_markers
from rag.types import ChatPrompt, Passage, Quote, SentenceSupport

# the model's P(Yes) that a quote answers the question; tuned on the seed dev split (right quotes
# 0.64-0.76, quotes that did not answer 0.50-0.70 on the questions the two paths answered apart)
QUOTE_ANSWERS_MIN = 0.6


@dataclass
class Review:
    """What the checks made of one reply."""
    answer: str  # the reply with its markers mended; empty when it declined
    declined: bool = False  # the model said the sources do not hold the answer
    removed_markers: int = 0  # markers that pointed at no shown passage
    extractive_fallback: bool = False  # bare markers, replaced by a cited passage's sentence
    citations_added: int = 0
    citations_repointed: int = 0
    support: list[SentenceSupport] = field(default_factory=list)

    @property
    def supported(self) -> bool:
        """False only when the reply made claims and none of them stands on a passage the model
        saw (a reply with no sentence to check is not held against it)."""
        return not self.support or any(s.supported for s in self.support)

    def cited(self) -> list[int]:
        """The passage numbers the answer cites, in order of first citation."""
        used: list[int] = []
        for n in (int(m) for m in SIMPLE_MARKER.findall(self.answer)):
            if n not in used:
                used.append(n)
        return used


class Reviewer:
    """Holds the checks' parts: the lexical judge on the embedding model and, when a `generator`
    is given, the model's own entailment check (the assistant gives it when the model has a chat
    template and `RAG_ENTAILMENT_CHECK` is on)."""

    def __init__(self, embedder: Embedder, generator: ChatModel | None, prompts: Prompts) -> None:
        self.embedder = embedder
        self.entailment = EntailmentCheck(generator, prompts) if generator is not None else None
        self.verifier = Verifier(SupportJudge(embedder), self.entailment)

    def review(self, reply: str, question: str, passages: list[Passage],
               prompt: ChatPrompt) -> Review:
        """`prompt` is what the reply was generated from: the model's check is a new turn
        appended to it, so it reuses that prompt's KV cache."""
        checked = check_markers(reply, {p.n for p in passages})
        if says_not_found(checked.text) and not checked.used:
            return Review("", declined=True, removed_markers=checked.removed)
        review = Review(checked.text, removed_markers=checked.removed)
        if not review.answer or is_bare_markers(review.answer):
            cited = [p for p in passages if p.n in checked.used] or passages
            review.answer = self._closest_sentence(question, cited)
            review.extractive_fallback = True
        verifier = self.bind(question, passages, prompt)
        fix = fix_citations(review.answer, verifier)
        review.answer = fix.answer
        review.citations_added, review.citations_repointed = fix.added, fix.repointed
        review.support = check_support(review.answer, verifier)
        return review

    def check_sentence(self, question: str, passages: list[Passage], prompt: ChatPrompt,
                       sentence: str) -> Check:
        """Does the sentence, citing every passage, stand? Decided exactly as inside a review."""
        return self.bind(question, passages, prompt).check(sentence, [p.n for p in passages])

    def quote_answers(self, question: str, quote: Quote, prompt: ChatPrompt) -> bool:
        """Does the quote answer the question? Not when it lacks the kind of thing asked for (a
        time, a quantity); otherwise the model decides (QUOTE_ANSWERS_MIN) or, without it, a
        quote the lexical judge finds close to the question's words does."""
        if missing_kind(question, quote.text):
            return False
        if self.entailment is None:
            return self.verifier.judge.judge(question, [quote.text]).coverage >= 0.5
        p = self.entailment.answers(prompt, question, quote.text, quote.n)
        return p >= QUOTE_ANSWERS_MIN

    def states(self, text: str, sentence: str) -> bool:
        """Does `text` state `sentence` in so many words (its numbers, names and most of its
        content words)? The lexical judge alone: a quote put in place of the model's must say
        what the answer says, not only answer the question."""
        return self.verifier.judge.judge(sentence, [text]).supported

    def bind(self, question: str, passages: list[Passage], prompt: ChatPrompt) -> BoundVerifier:
        return self.verifier.bind(question, evidence_of(passages), prompt)

    def _closest_sentence(self, question: str, passages: list[Passage]) -> str:
        """The passage sentence closest to the question, cited: for a reply that made no claim."""
        candidates = [(p.n, s) for p in passages for s in split_sentences(p.text) if len(s) > 20]
        if not candidates:
            return NOT_IN_ARTICLES  # cites nothing, so the review finds it unsupported
        vectors = self.embedder.embed([question] + [strip_markers(s) for _, s in candidates])
        best = int(np.argmax(vectors[1:] @ vectors[0]))
        n, sentence = candidates[best]
        body, end = (sentence[:-1], sentence[-1]) if sentence[-1] in ".!?" else (sentence, ".")
        return f"{body} [{n}]{end}"
