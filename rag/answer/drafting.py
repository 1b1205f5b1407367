"""The model's draft: which passages it reads in which order, and its reply streamed as written.

Reading costs the model most of its time (every passage token before the first word appears).
With `read_first` the model reads its best passages first and all of them only when those yield
no answer; the second prompt repeats the first one's passages word for word and in the same
order, so it resumes from the first one's KV cache and pays only for the passages added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rag.answer.prompting import AnswerPrompt
from rag.check import StreamingMarkerFilter
from rag.models.chat import ChatModel
from rag.templates import ABSTAIN_TOKEN
from rag.types import Passage


def readings(prompt: AnswerPrompt, read_first: int,
             prompt_for: Callable[[list[Passage]], AnswerPrompt]) -> list[AnswerPrompt]:
    """The best `read_first` passages, then all of them; or all at once (`read_first` 0)."""
    if not 0 < read_first < len(prompt.passages):
        return [prompt]
    return [prompt_for(prompt.passages[:read_first]), prompt]


class Draft:
    """One reply generated from one reading; iterate it for what a reader may be shown, then
    read `text` for all the model wrote.

    With `hold_decline`, text that could still become the refusal is held back: a refusal there
    leads to a second reading, and a reader should not see it come and go."""

    def __init__(self, generator: ChatModel, reading: AnswerPrompt, *, max_tokens: int,
                 temperature: float, shares_start_with: AnswerPrompt | None,
                 hold_decline: bool) -> None:
        self.generator = generator
        self.reading = reading
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.shares_start_with = shares_start_with
        self.hold_decline = hold_decline
        self.text = ""

    def __iter__(self) -> Iterator[str]:
        stream_filter = StreamingMarkerFilter({p.n for p in self.reading.passages})
        raw: list[str] = []
        held = self.hold_decline
        other = self.shares_start_with
        for piece in self.generator.stream_chat(self.reading.messages, max_tokens=self.max_tokens,
                                                temperature=self.temperature,
                                                shares_start_with=other.messages if other else None,
                                                blocks=self.reading.blocks):
            raw.append(piece)
            if held:
                held = ABSTAIN_TOKEN.startswith("".join(raw).strip().upper())
                if held:
                    continue
                piece = "".join(raw)
            if shown := stream_filter.feed(piece):
                yield shown
        self.text = "".join(raw).strip()
        if not held and (tail := stream_filter.flush()):
            yield tail
