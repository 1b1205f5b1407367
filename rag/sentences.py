"""Sentence boundaries that survive news abbreviations ("U.S.", "Sept. 4") and [n] markers."""

from __future__ import annotations

from functools import lru_cache

import pysbd


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def split_sentences(text: str) -> list[str]:
    """Sentences in order, stripped; empty pieces dropped."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        if paragraph.strip():
            out.extend(s.strip() for s in _segmenter().segment(paragraph) if s.strip())
    return out
