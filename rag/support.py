"""Tie each answer sentence to the passages it cites, and say which sentences stand unsupported.

This runs on every answer (CLI, UI, eval alike). Per sentence it records, in the sense of ALCE
(Gao et al., 2023): whether the cited passages together support it (citation recall), and which
citations are not needed for that support (the complement of citation precision).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.citations import SIMPLE_MARKER
from rag.judge import SupportJudge
from rag.retrieval import Passage
from rag.sentences import split_sentences


@dataclass
class SentenceSupport:
    sentence: str
    citations: list[int]
    supported: bool
    irrelevant_citations: list[int] = field(default_factory=list)


def passage_evidence(passage: Passage) -> str:
    """What the model saw of a passage: its title line and its text."""
    return f"{passage.title}\n{passage.text}"


def check_support(answer: str, passages: Sequence[Passage], judge: SupportJudge,
                  ) -> list[SentenceSupport]:
    by_n = {p.n: passage_evidence(p) for p in passages}
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
        together = judge.judge(sentence, [by_n[n] for n in cited]).supported
        irrelevant = []
        if together and len(cited) > 1:
            for n in cited:
                alone = judge.judge(sentence, [by_n[n]]).supported
                rest = [by_n[m] for m in cited if m != n]
                if not alone and judge.judge(sentence, rest).supported:
                    irrelevant.append(n)
        elif not together:
            irrelevant = list(cited)
        results.append(SentenceSupport(sentence, cited, together, irrelevant))
    return results


@dataclass
class CitationFix:
    answer: str
    added: int = 0  # uncited sentences given the marker of a passage that supports them
    repointed: int = 0  # markers moved from a passage that does not support to one that does


def fix_citations(answer: str, passages: Sequence[Passage], judge: SupportJudge) -> CitationFix:
    """Make each sentence cite a shown passage that supports it, where one does.

    Small models often cite the first sentence and not the next, or name the wrong number
    ("[3]" for a fact in passage 1). A marker is only added or moved where the judge finds
    support, so a fixed citation is as trustworthy as any other; sentences no passage supports
    keep their markers and are reported as unsupported.
    """
    evidence = {p.n: passage_evidence(p) for p in passages}
    fix = CitationFix(answer=answer)
    out = []
    for sentence in split_sentences(answer):
        if not re.search(r"[A-Za-z]{2}", SIMPLE_MARKER.sub("", sentence)):
            out.append(sentence)
            continue
        cited = [int(n) for n in SIMPLE_MARKER.findall(sentence) if int(n) in evidence]
        if cited and judge.judge(sentence, [evidence[n] for n in cited]).supported:
            out.append(sentence)
            continue
        supporting = [n for n in evidence if judge.judge(sentence, [evidence[n]]).supported]
        if supporting:
            body = SIMPLE_MARKER.sub("", sentence).rstrip()
            body, end = (body[:-1].rstrip(), body[-1]) if body[-1] in ".!?" else (body, "")
            sentence = f"{body} [{supporting[0]}]{end}"
            if cited:
                fix.repointed += 1
            else:
                fix.added += 1
        out.append(sentence)
    fix.answer = " ".join(out)
    return fix
