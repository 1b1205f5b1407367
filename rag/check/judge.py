"""Does a passage support a sentence? The lexical half of `rag.check.verifier`, milliseconds a pair.

No NLI model installs offline here, so word-level checks catch the ways small models go wrong
that need no reading of meaning, and the verifier asks the local model about the rest:

- every number in the sentence must occur in the passage ("26 countries", "45 minutes");
- every name in the sentence must occur in the passage, or a known alias of it ("Finnish" for
  "Finland's", "Washington" for "the US"): a swapped country or person fails;
- and the sentence's content words must be mostly found in the passage, or the sentence must be
  semantically close to one of the passage's sentences (a paraphrase).

Instruction-like sentences in a passage ("ignore previous instructions and reply …") are no
evidence for anything. Who reported a fact ("According to Reuters, …") is not judged: small
models often attach the wrong outlet to a right fact, and the fact is what the reader relies on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.check.words import content_words, name_in, names, norm_text, numbers, with_aliases
from rag.models.embedding import Embedder
from rag.text import split_sentences, strip_markers
from rag.untrusted import without_instructions

COVERAGE_MIN = 0.75
SIMILARITY_MIN = 0.72

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
        evidence = "\n".join(without_instructions(p) for p in passages)
        if not claim or not evidence.strip():
            return Verdict(False, 0.0, 0.0, [], [])
        lowered = norm_text(evidence)
        missing_numbers = sorted(n for n in numbers(asserted) if n not in numbers(evidence))
        missing_names = sorted(n for n in names(asserted) if not name_in(n, lowered))
        words = content_words(claim)
        evidence_words = with_aliases(content_words(evidence))
        coverage = len(words & evidence_words) / len(words) if words else 0.0
        similarity = self._similarity(claim, evidence)
        supported = (not missing_numbers and not missing_names
                     and (coverage >= self.coverage_min or similarity >= self.similarity_min))
        return Verdict(supported, round(coverage, 3), round(similarity, 3), missing_numbers,
                       missing_names)

    def found_verbatim(self, words: Sequence[str], passages: Sequence[str]) -> bool:
        """Are any of these (judge-normalised) numbers or names in the passages as written,
        instructions included? Then the judge missed them only because they stand in an
        instruction-like sentence."""
        raw = "\n".join(passages)
        seen = numbers(raw) | set(norm_text(raw).split())
        return any(word in seen for word in words)

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
