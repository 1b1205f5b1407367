"""What `Assistant.stream` yields, in order: status changes, the passages found (as soon as
retrieval ends), answer text as it is generated, then one final record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.types import AnswerRecord, Passage


@dataclass
class Status:
    stage: str  # "rewriting", "retrieving", "generating", "quoting", "reading_more", "retrying"
    message: str

    @property
    def restarts(self) -> bool:
        """The answer text streamed so far was a draft that gave way: show what follows instead."""
        return self.stage in ("reading_more", "retrying")


@dataclass
class Sources:
    """The passages the model is about to read, sent before it starts: a reader can look at them
    while the answer is generated."""
    passages: list[Passage]


@dataclass
class Token:
    text: str


@dataclass
class Final:
    record: AnswerRecord


Event = Status | Sources | Token | Final
History = Sequence[tuple[str, str]]
