"""Does the passage a sentence cites state it? The one decision behind every kept citation.

Two readers, cheapest first:

1. Lexical checks that are certain when they fire: a number the cited passages do not hold; a
   year or edition the question asked about that the sentence replaces ("in 2019" for "in
   2021"), or that the passage holding the answer speaks of only with other values; a "how
   many" question answered without its count; words found only in instruction-like text
   ("ignore previous instructions…").
2. Everything else goes to the local model, asked Yes or No inside the answer's own context
   (`rag.check.entailment`), which reads contradictions that reuse the passage's words ("the first
   season" against "the tenth season") and paraphrases that share few of them. Where the lexical
   judge doubts the sentence (a name the passage only implies, few shared words, a number counted
   in other units) the model must be surer.

Without a model (`entailment=None`) the lexical judge alone decides, as it did before. Both
thresholds were tuned on the dev pairs of `eval/support_pairs.jsonl` with the check worded as in
`prompts/verify_user.txt` (dev: 0.905 of supported pairs kept, 0.915 of unsupported ones
rejected); `rag eval --pairs` reports the test pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.check.constraints import conflicting_markers, missing_quantity, off_scope, recounted
from rag.check.entailment import EntailmentCheck
from rag.check.judge import SupportJudge
from rag.text import strip_markers
from rag.types import ChatPrompt

ENTAILMENT_MIN = 0.32  # the model's P(Yes) that keeps a sentence the lexical judge accepts
ENTAILMENT_MIN_IN_DOUBT = 0.58  # ... and one it doubts (a name only implied, few shared words)


@dataclass
class Check:
    supported: bool
    reason: str  # for reports and --json: what decided
    probability: float | None = None  # the model's confidence, when it was asked
    doubted: bool = False  # the passages lack some of its words or names: the model had to be surer


class Verifier:
    def __init__(self, judge: SupportJudge, entailment: EntailmentCheck | None = None) -> None:
        self.judge = judge
        self.entailment = entailment

    def bind(self, question: str, evidence: dict[int, str],
             answer_prompt: ChatPrompt | None = None) -> "BoundVerifier":
        """A verifier for one answer: its question, its numbered passages and the prompt it was
        generated from (needed for the model's check)."""
        return BoundVerifier(self, question, evidence, answer_prompt)


class BoundVerifier:
    def __init__(self, verifier: Verifier, question: str, evidence: dict[int, str],
                 answer_prompt: ChatPrompt | None) -> None:
        self.verifier = verifier
        self.question = question
        self.evidence = evidence
        self.answer_prompt = answer_prompt
        self._seen: dict[tuple[str, tuple[int, ...]], Check] = {}

    def check(self, sentence: str, sources: Sequence[int]) -> Check:
        """Do passages `sources` together state `sentence`, as an answer to the question?"""
        key = (strip_markers(sentence), tuple(sources))  # a repointed sentence is the same claim
        if key not in self._seen:
            self._seen[key] = self._decide(sentence, list(sources))
        return self._seen[key]

    def _decide(self, sentence: str, sources: list[int]) -> Check:
        texts = [self.evidence[n] for n in sources if n in self.evidence]
        if not texts:
            return Check(False, "cites no shown passage")
        verdict = self.verifier.judge.judge(sentence, texts)  # reads texts minus instructions
        unseen = verdict.missing_numbers + verdict.missing_names
        if unseen and self.verifier.judge.found_verbatim(unseen, texts):
            return Check(False, f"repeats an instruction inside the passage: {', '.join(unseen)}")
        if verdict.missing_numbers:
            return Check(False, f"numbers not in the passage: {', '.join(verdict.missing_numbers)}")
        if conflicts := conflicting_markers(self.question, sentence):
            return Check(False, f"answers another question: {'; '.join(conflicts)}")
        if scope := off_scope(self.question, sentence, texts):
            return Check(False, f"answers another question: {scope}")
        if unanswered := missing_quantity(self.question, sentence):
            return Check(False, f"does not answer the question: {unanswered}")
        entailment = self.verifier.entailment
        if entailment is None or self.answer_prompt is None:
            if verdict.missing_names:
                return Check(False, f"names not in the passage: {', '.join(verdict.missing_names)}")
            return Check(verdict.supported, "lexical: " + ("supported" if verdict.supported
                                                         else "too few of its words in the passage"))
        # A name the passage does not spell out may still be meant by it (a pronoun, the
        # article's title, "the Danish capital"), and a number may be counted in other words
        # ("26 nations"): the model decides those, with a stricter bar.
        doubt = not verdict.supported or recounted(sentence, "\n".join(texts))
        threshold = ENTAILMENT_MIN_IN_DOUBT if doubt else ENTAILMENT_MIN
        p = entailment.probability(self.answer_prompt, sentence, sources)
        return Check(p >= threshold, f"model {'entails' if p >= threshold else 'does not entail'} "
                                     f"(p={p:.2f}, needs {threshold})", round(p, 3), doubt)

    def spells_out(self, sentence: str, sources: Sequence[int]) -> bool:
        """Do these passages hold the sentence's words, names and numbers as written? The
        lexical judge's view alone: cheap enough to ask of every shown passage."""
        texts = [self.evidence[n] for n in sources if n in self.evidence]
        if not texts:
            return False
        verdict = self.verifier.judge.judge(sentence, texts)
        return (verdict.supported and not verdict.missing_numbers and not verdict.missing_names
                and not recounted(sentence, "\n".join(texts)))
