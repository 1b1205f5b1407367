"""Text helpers every stage shares: sentence boundaries that survive news abbreviations ("U.S.",
"Sept. 4") and [n] markers, and the [n] marker forms themselves."""

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


# [n] markers: the raw forms a model writes ("[1, 3]", "[source 2]") and the one simple form
# ("[1][3]") that `rag.check.markers` normalises them to.
_NUM = r"(?:(?:source|passage|src)\s*)?\d+"
MARKER = re.compile(rf"\[\s*({_NUM}(?:\s*(?:,|;|and|&)\s*{_NUM})*)\s*\]", re.I)
SIMPLE_MARKER = re.compile(r"\[(\d+)\]")


def strip_markers(text: str) -> str:
    """The text without its markers, as the checks compare it with a passage."""
    return re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", text)).strip()
