"""Tie each answer sentence to the passages it cites, and say which sentences stand unsupported.

This runs on every answer (CLI, UI, eval alike). Per sentence it records, in the sense of ALCE
(Gao et al., 2023): whether the cited passages together support it (citation recall), and which
citations are not needed for that support (the complement of citation precision). Support is
decided by `rag.verifier`, bound to the answer's question, passages and prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.citations import SIMPLE_MARKER
from rag.retrieval import Passage
from rag.sentences import split_sentences
from rag.verifier import BoundVerifier

_WORD = re.compile(r"[A-Za-z0-9]{3,}")


@dataclass
class SentenceSupport:
    sentence: str
    citations: list[int]
    supported: bool
    irrelevant_citations: list[int] = field(default_factory=list)
    reason: str = ""  # what decided, e.g. "numbers not in the passage: 45"


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


@dataclass
class CitationFix:
    answer: str
    added: int = 0  # uncited sentences given the marker of a passage that supports them
    repointed: int = 0  # markers moved from a passage that does not support to one that does


def fix_citations(answer: str, verifier: BoundVerifier) -> CitationFix:
    """Make each sentence cite a shown passage that supports it, where one does.

    Small models often cite the first sentence and not the next, or name the wrong number
    ("[3]" for a fact in passage 1), or cite one passage for a fact that needs two (the place in
    [1], the date in [2]). A marker is only added or moved where the verifier finds the passage
    entails the sentence, so a fixed citation is as trustworthy as any other; sentences no
    passage supports keep their markers and are reported as unsupported.
    """
    evidence = verifier.evidence
    fix = CitationFix(answer=answer)
    out = []
    for sentence in split_sentences(answer):
        if not re.search(r"[A-Za-z]{2}", SIMPLE_MARKER.sub("", sentence)):
            out.append(sentence)
            continue
        cited = [int(n) for n in SIMPLE_MARKER.findall(sentence) if int(n) in evidence]
        check = verifier.check(sentence, cited) if cited else None
        if check and check.supported:
            supporting = (_plainer_source(sentence, cited, list(evidence), verifier)
                          if check.doubted else [])
            if not supporting:
                out.append(sentence)
                continue
        else:
            supporting = _supporting_sources(sentence, cited, list(evidence), verifier)
        if supporting:
            body = SIMPLE_MARKER.sub("", sentence).rstrip()
            body, end = (body[:-1].rstrip(), body[-1]) if body[-1] in ".!?" else (body, "")
            sentence = f"{body} {''.join(f'[{n}]' for n in supporting)}{end}"
            if cited:
                fix.repointed += 1
            else:
                fix.added += 1
        out.append(sentence)
    fix.answer = " ".join(out)
    return fix


def _plainer_source(sentence: str, cited: list[int], shown: list[int],
                    verifier: BoundVerifier) -> list[int]:
    """Another shown passage that spells the sentence out and entails it without doubt, for a
    sentence whose cited passage passed only in doubt: a small model citing "[2]" for the names
    that stand in [1] is often believed by the check, which reads [1] too."""
    for n in shown:
        if n not in cited and verifier.spells_out(sentence, [n]):
            check = verifier.check(sentence, [n])
            if check.supported and not check.doubted:
                return [n]
    return []


def _supporting_sources(sentence: str, cited: list[int], shown: list[int],
                        verifier: BoundVerifier) -> list[int]:
    """One shown passage that states the sentence alone, else a cited one completed by another."""
    others = [n for n in shown if n not in cited]
    for n in others:
        if verifier.check(sentence, [n]).supported:
            return [n]
    for first in cited[:1]:
        for n in others:
            if verifier.check(sentence, sorted([first, n])).supported:
                return sorted([first, n])
    return []
