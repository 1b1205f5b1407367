"""Tie each answer sentence to the passages it cites, and say which sentences stand unsupported.

This runs on every answer (CLI, UI, eval alike). Per sentence it records, in the sense of ALCE
(Gao et al., 2023): whether the cited passages together support it (citation recall), and which
citations are not needed for that support (the complement of citation precision). Support is
decided by `rag.check.verifier`, bound to the answer's question, passages and prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.check.verifier import BoundVerifier
from rag.text import SIMPLE_MARKER, split_sentences
from rag.types import Passage, SentenceSupport

_WORD = re.compile(r"[A-Za-z0-9]{3,}")


def passage_evidence(passage: Passage) -> str:
    """What the model saw of a passage: its title line and its text."""
    return f"{passage.title}\n{passage.text}"


def evidence_of(passages: Sequence[Passage]) -> dict[int, str]:
    return {p.n: passage_evidence(p) for p in passages}


def claims_by_source(support: Sequence[SentenceSupport]) -> dict[int, list[str]]:
    """The answer sentences that cite each source number."""
    claims: dict[int, list[str]] = {}
    for s in support:
        for n in s.citations:
            claims.setdefault(n, []).append(s.sentence)
    return claims


def supporting_sentence(passage: Passage, claims: Sequence[str]) -> str | None:
    """The passage sentence sharing most words with the claims citing it, to point a reader's eye
    at; whether the passage supports them was decided by the verifier, not here."""
    sentences = split_sentences(passage.text)
    if not claims or not sentences:
        return None
    claim_words = {w.lower() for c in claims for w in _WORD.findall(SIMPLE_MARKER.sub("", c))}
    scored = [(len(claim_words & {w.lower() for w in _WORD.findall(s)}), -i, s)
              for i, s in enumerate(sentences)]
    score, _, sentence = max(scored)
    return sentence if score > 0 else None


def check_support(answer: str, verifier: BoundVerifier) -> list[SentenceSupport]:
    by_n = verifier.evidence
    results = []
    for sentence in split_sentences(answer):
        cited = []
        for n in (int(m) for m in SIMPLE_MARKER.findall(sentence)):
            if n in by_n and n not in cited:
                cited.append(n)
        if not re.search(r"[A-Za-z]{2}", SIMPLE_MARKER.sub("", sentence)):
            continue  # a stray marker with no words is not a claim
        if not cited:
            results.append(SentenceSupport(sentence, [], False))
            continue
        check = verifier.check(sentence, cited)
        irrelevant = []
        if check.supported and len(cited) > 1:
            for n in cited:
                rest = [m for m in cited if m != n]
                if not verifier.check(sentence, [n]).supported and verifier.check(sentence, rest).supported:
                    irrelevant.append(n)
        elif not check.supported:
            irrelevant = list(cited)
        results.append(SentenceSupport(sentence, cited, check.supported, irrelevant, check.reason))
    return results
