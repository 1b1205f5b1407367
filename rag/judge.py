"""Does a passage support a sentence? An offline judge, fast enough to run on every answer.

An NLI model is not available offline here and asking the 1.5B model costs seconds per pair, so
the judge combines checks that catch the ways small models go wrong:

- every number in the sentence must occur in the passage ("26 countries", "45 minutes");
- every name in the sentence must occur in the passage (a swapped country or person fails);
- and the sentence's content words must be mostly found in the passage, or the sentence must be
  semantically close to one of the passage's sentences (a paraphrase).

Who reported a fact ("According to Reuters, …") is not judged: small models often attach the
wrong outlet to a right fact, and the fact is what the reader relies on.

Its accuracy on hand-labelled pairs (`eval/judge_labels.jsonl`, and per class on the larger
`eval/support_pairs.jsonl`) is reported by `rag eval`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import Stemmer

from rag.citations import strip_markers
from rag.embedding import Embedder
from rag.sentences import split_sentences

COVERAGE_MIN = 0.75
SIMILARITY_MIN = 0.72

_STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be
been being has have had do does did not no it its this that these those there their they them he she
his her him we our you your i me my will would could should can may might must shall also than then
so such about into over after before under between through during while which who whom whose what
when where why how all any both each few more most other some only own same too very just said says
say according reported reportedly told""".split())
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’.-]*[A-Za-z]|[A-Za-z]")
_NAME = re.compile(r"\b[A-Z][a-zA-Z’'-]+(?:\s+[A-Z][a-zA-Z’'-]+)*")
_NAME_NOISE = frozenset({"The", "A", "An", "He", "She", "It", "They", "This", "That", "In", "On", "At",
                         "According", "President", "Prime", "Minister", "But", "And", "Yes", "No",
                         "If", "While", "After", "Before", "However", "Also", "As", "His", "Her",
                         "Their", "There", "We", "I", "Both", "Only", "Some", "Several"})


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _norm(word: str) -> str:
    word = word.lower().replace("’", "'").replace(".", "")
    return re.sub(r"'s$", "", word).strip("'-")


def content_words(text: str) -> set[str]:
    words = [_norm(w) for w in _WORD.findall(text)]
    return set(_stemmer().stemWords([w for w in words if w and w not in _STOPWORDS]))


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def names(text: str) -> set[str]:
    """Capitalised words, minus sentence-initial function words and titles."""
    found = set()
    for match in _NAME.finditer(text):
        for word in match.group(0).split():
            if word not in _NAME_NOISE and len(word) > 1:
                found.add(_norm(word))
    return found


def _name_in(name: str, haystack: str) -> bool:
    """Spelling variants ("Zelensky", "Zelenskyy"; "U.S.", "US") count as the same name."""
    stem = name[:max(4, min(len(name), 6))]
    return stem in haystack


@dataclass
class Verdict:
    supported: bool
    coverage: float
    similarity: float
    missing_numbers: list[str]
    missing_names: list[str]


class SupportJudge:
    def __init__(self, embedder: Embedder, *, coverage_min: float = COVERAGE_MIN,
                 similarity_min: float = SIMILARITY_MIN) -> None:
        self.embedder = embedder
        self.coverage_min = coverage_min
        self.similarity_min = similarity_min

    def judge(self, sentence: str, passages: Sequence[str]) -> Verdict:
        """Is `sentence` supported by the passages taken together?"""
        claim = strip_markers(sentence)
        asserted = _drop_attribution(claim)  # names and numbers are checked in this part only
        evidence = "\n".join(passages)
        if not claim or not evidence.strip():
            return Verdict(False, 0.0, 0.0, [], [])
        lowered = _norm_text(evidence)
        missing_numbers = sorted(n for n in numbers(asserted) if n not in numbers(evidence))
        missing_names = sorted(n for n in names(asserted) if not _name_in(n, lowered))
        words = content_words(claim)
        evidence_words = content_words(evidence)
        coverage = len(words & evidence_words) / len(words) if words else 0.0
        similarity = self._similarity(claim, evidence)
        supported = (not missing_numbers and not missing_names
                     and (coverage >= self.coverage_min or similarity >= self.similarity_min))
        return Verdict(supported, round(coverage, 3), round(similarity, 3), missing_numbers,
                       missing_names)

    def _similarity(self, claim: str, evidence: str) -> float:
        pieces = split_sentences(evidence) or [evidence]
        vectors = self.embedder.embed([claim, *pieces])
        return float(np.max(vectors[1:] @ vectors[0]))


_ATTRIBUTION = [
    re.compile(r"^(?:according to|as reported by|citing)\s[^,]{1,60},\s*", re.I),
    re.compile(r",?\s*(?:according to|as reported by|citing)\s[^,.;]{1,60}(?=[.!?]?$)", re.I),
]


def _drop_attribution(claim: str) -> str:
    for pattern in _ATTRIBUTION:
        claim = pattern.sub("", claim)
    return claim.strip()


def _norm_text(text: str) -> str:
    return " ".join(_norm(w) for w in _WORD.findall(text))
