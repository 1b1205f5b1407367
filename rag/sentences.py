"""Sentence boundaries that survive news abbreviations ("U.S.", "Sept. 4") and [n] markers."""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd

# pysbd ends a sentence at "a.m." or "p.m." before a capital, which a time zone always is:
# "12:00 a.m. ET [4]." is one sentence, not two.
_CLOCK_END = re.compile(r"\b[ap]\.m\.$", re.I)
_ZONE_START = re.compile(r"^(?:[A-Z]{1,3}[SD]?T|UTC)\b")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def split_sentences(text: str) -> list[str]:
    """Sentences in order, stripped; empty pieces dropped."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        if not paragraph.strip():
            continue
        sentences: list[str] = []
        for piece in (s.strip() for s in _segmenter().segment(paragraph)):
            if piece and sentences and _CLOCK_END.search(sentences[-1]) and _ZONE_START.match(piece):
                sentences[-1] = f"{sentences[-1]} {piece}"
            elif piece:
                sentences.append(piece)
        out.extend(sentences)
    return out
