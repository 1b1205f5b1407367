"""Does what a sentence cites state it? The local model asked Yes or No, inside the answer's context.

The check is a new user turn appended to the very messages the answer was generated from, so
llama.cpp reuses the KV cache of the system prompt and the passages: a check costs only its own
few dozen tokens (about half a second on 2 cores), not a second reading of the sources. The
sentence comes before the name of the source, so asking about another source for the same
sentence (repointing a marker) costs only the last line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.templates import Prompts
from rag.text import strip_markers
from rag.types import ChatPrompt

if TYPE_CHECKING:
    from rag.models.chat import ChatModel


class EntailmentCheck:
    def __init__(self, generator: ChatModel, prompts: Prompts) -> None:
        self.generator = generator
        self.prompts = prompts

    def probability(self, answer: ChatPrompt, sentence: str, sources: Sequence[int]) -> float:
        """How sure the model is that sources `sources` (numbers as shown in the answer prompt)
        together state `sentence` and that it answers the question in that prompt."""
        names = " and ".join(f"[{n}]" for n in sources)
        check = self.prompts.render("verify_user", claim=strip_markers(sentence),
                                    sources=f"source{'s' if len(sources) > 1 else ''} {names}")
        return self.generator.yes_probability([*answer.messages, {"role": "user", "content": check}],
                                              answer.blocks)

    def answers(self, answer: ChatPrompt, question: str, quote: str, n: int) -> float:
        """How sure the model is that `quote`, copied from source [n], answers `question`."""
        check = self.prompts.render("quote_answers_user", quote=quote, n=n, question=question)
        return self.generator.yes_probability([*answer.messages, {"role": "user", "content": check}],
                                              answer.blocks)
