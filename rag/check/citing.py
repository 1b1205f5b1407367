"""Point each answer sentence at a shown passage that supports it, where one does.

Small models often cite the first sentence and not the next, name the wrong number ("[3]" for a
fact in passage 1), or cite one passage for a fact that needs two (the place in [1], the date in
[2]). A marker is only added or moved where the verifier finds the passage entails the sentence,
so a mended citation is as trustworthy as any other. A marker the verifier believed only in doubt
moves to another shown passage that spells the sentence out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.check.verifier import BoundVerifier
from rag.text import SIMPLE_MARKER, split_sentences


@dataclass
class CitationFix:
    answer: str
    added: int = 0  # uncited sentences given the marker of a passage that supports them
    repointed: int = 0  # markers moved from a passage that does not support to one that does


def fix_citations(answer: str, verifier: BoundVerifier) -> CitationFix:
    """Each sentence citing a shown passage that supports it, where one does; sentences no
    passage supports keep their markers (and are reported as unsupported by `support`)."""
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
