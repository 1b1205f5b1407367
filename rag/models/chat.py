"""What answering, its checks and the API need from a generation model, whichever runs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from rag.types import Block

if TYPE_CHECKING:
    from rag.models.kv_splice import SpliceReport


class ChatModel(Protocol):
    """What answering, its checks and the API need from a generation model."""
    name: str
    n_ctx: int
    has_chat_template: bool
    last_evaluated: int
    last_splice: SpliceReport | None  # how the last answer prompt's passages were read

    def count_tokens(self, text: str) -> int: ...
    def prompt_tokens(self, messages: list[dict]) -> int: ...
    def stream_chat(self, messages: list[dict], *, max_tokens: int, temperature: float,
                    stop: Sequence[str] = (), shares_start_with: list[dict] | None = None,
                    blocks: Sequence[Block] = (), grammar: str | None = None) -> Iterator[str]: ...
    def chat(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0) -> str: ...
    def yes_probability(self, messages: list[dict], blocks: Sequence[Block] = ()) -> float: ...
    def warm(self, messages: list[dict], blocks: Sequence[Block]) -> SpliceReport | None: ...
    def session(self) -> threading.Lock: ...
