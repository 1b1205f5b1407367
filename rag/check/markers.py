"""Reading and checking the [n] markers in a model's answer.

A marker is kept only when it names a passage the model was shown; anything else is removed and
counted. Markers are normalised to one number per bracket ("[1, 3]" becomes "[1][3]") so every
later reader (UI, eval) parses one simple form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.templates import ABSTAIN_TOKEN
from rag.text import MARKER

_MARKER_LIST = re.compile(r"(\[\d+\])[ \t]*(?:(?:,|;|and|&)[ \t]*)?(?=\[\d+\])")
_MAX_PENDING = 40

_NOT_FOUND = re.compile(
    r"not in the articles|\b(?:sources?|articles?|passages?|text)\s+(?:do|does)\s+not\s+"
    r"(?:contain|mention|say|state|provide|include|specify|answer)|\bno information\b|"
    r"\b(?:is|are)\s+not\s+(?:mentioned|stated|provided|specified)\b|\bcannot be (?:found|determined)\b",
    re.I)


@dataclass
class MarkerCheck:
    text: str
    used: list[int] = field(default_factory=list)  # valid numbers, in order of first use
    removed: int = 0


def _numbers(group: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", group)]


def check_markers(text: str, valid: set[int]) -> MarkerCheck:
    result = MarkerCheck(text="")

    def replace(match: re.Match) -> str:
        kept = []
        for n in _numbers(match.group(1)):
            if n in valid:
                if n not in kept:
                    kept.append(n)
                if n not in result.used:
                    result.used.append(n)
            else:
                result.removed += 1
        return "".join(f"[{n}]" for n in kept)

    cleaned = MARKER.sub(replace, text)
    cleaned = _MARKER_LIST.sub(r"\1", cleaned)  # "[1], [2] and [3]" -> "[1][2][3]"
    cleaned = re.sub(r"(\[(\d+)\])(?:\s*\[\2\])+", r"\1", cleaned)  # "[2][2]" -> "[2]"
    cleaned = re.sub(r"([.!?])[ \t]*((?:\[\d+\])+)", r" \2\1", cleaned)  # "York. [1]" -> "York [1]."
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    result.text = cleaned.strip()
    return result


def is_bare_markers(text: str) -> bool:
    """True for replies such as "[2]" or "[3] and [4]": markers with no claim around them."""
    words = re.findall(r"[A-Za-z0-9]{2,}", MARKER.sub(" ", text))
    return len([w for w in words if w.lower() not in {"and", "or", "see", "source", "sources"}]) < 3


def says_not_found(text: str) -> bool:
    return ABSTAIN_TOKEN in text.upper() or bool(_NOT_FOUND.search(text))


class StreamingMarkerFilter:
    """Applies `check_markers` to a token stream: text is held back only while a '[' is open."""

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self._pending = ""

    def feed(self, piece: str) -> str:
        self._pending += piece
        cut = self._pending.rfind("[")
        if cut == -1 or "]" in self._pending[cut:] or len(self._pending) - cut > _MAX_PENDING:
            out, self._pending = self._pending, ""
        else:
            out, self._pending = self._pending[:cut], self._pending[cut:]
        return MARKER.sub(lambda m: check_markers(m.group(0), self.valid).text, out)

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return MARKER.sub(lambda m: check_markers(m.group(0), self.valid).text, out)
