"""A rendered prompt cut where its passage blocks start and end, in tokens: what the passage
cache reads from saved states (the head and the blocks) and what it computes (the tail)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.types import Block


@dataclass
class Segments:
    """A rendered prompt cut at its blocks: the head before the first, the tail after the last."""
    head: str
    head_tokens: list[int]
    blocks: list[Block]
    block_tokens: list[list[int]]
    tail_tokens: list[int]

    @property
    def spliced_tokens(self) -> list[int]:
        return self.head_tokens + [t for tokens in self.block_tokens for t in tokens]

    @property
    def tokens(self) -> list[int]:
        return self.spliced_tokens + self.tail_tokens


def cut(prompt: str, blocks: Sequence[Block], tokenize: Callable[[str], list[int]]
        ) -> Segments | None:
    """The prompt's segments, when its blocks follow each other in it and cutting there leaves
    every token as tokenizing the whole prompt gives it (so a later prompt that extends this one,
    the entailment check, finds it in the KV cache); otherwise None."""
    if not blocks or not blocks[0].text:
        return None
    start = prompt.find(blocks[0].text)
    if start <= 0:
        return None
    end = start
    for block in blocks:
        if not prompt.startswith(block.text, end):
            return None
        end += len(block.text)
    segments = Segments(prompt[:start], tokenize(prompt[:start]), list(blocks),
                        [tokenize(b.text) for b in blocks], tokenize(prompt[end:]))
    if not segments.tail_tokens or segments.tokens != tokenize(prompt):
        return None
    return segments
