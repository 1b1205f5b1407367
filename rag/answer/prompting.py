"""The answer and rewrite prompts: passages fitted into the model's context, best first."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag.errors import BadInput
from rag.templates import Prompts
from rag.types import Block, ChatPrompt, Passage
from rag.untrusted import instruction_sentences

_MARGIN_TOKENS = 48  # chat-template tokens around the messages
_SEPARATOR = "\n\n"  # between passages, and after the last one in the answer_user template
_QUOTE_TAG = re.compile(r"</?\s*quote\s*>", re.I)
_MUTED = "[text addressed to AI assistants, left out]"
_TEMPLATES = {"direct": "answer", "quote": "quote"}  # answer mode -> its templates' prefix


@dataclass
class AnswerPrompt:
    messages: list[dict]
    passages: list[Passage]  # the ones that fitted, in the order and numbering the model saw
    tokens: int
    blocks: list[Block] = field(default_factory=list)  # each passage as the prompt shows it

    @property
    def chat(self) -> ChatPrompt:
        return ChatPrompt(self.messages, tuple(self.blocks))


def render_passage(prompts: Prompts, passage: Passage) -> str:
    """A source as quoted material; a quote tag inside the article cannot end the quote early,
    and text addressed to the model (`rag.untrusted`) is not shown to it at all."""
    return prompts.render("passage", n=passage.n, title=_unquote(passage.title),
                          date=passage.date or "undated", text=_unquote(_muted(passage.text)))


def _muted(text: str) -> str:
    for sentence in instruction_sentences(text):
        text = text.replace(sentence, _MUTED)
    return text


def _unquote(text: str) -> str:
    return _QUOTE_TAG.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)


def build_answer_prompt(prompts: Prompts, question: str, passages: Sequence[Passage], *,
                        count_tokens: Callable[[str], int], n_ctx: int,
                        max_answer_tokens: int, mode: str = "direct") -> AnswerPrompt:
    """The answer prompt with as many passages, best first, as the context holds, in answer mode
    `mode` (`RAG_ANSWER_MODE`: prompts/answer_* for "direct", prompts/quote_* for "quote")."""
    style = _TEMPLATES[mode]
    system = prompts.render(f"{style}_system")
    budget = n_ctx - max_answer_tokens - _MARGIN_TOKENS
    fixed = count_tokens(system) + count_tokens(prompts.render(f"{style}_user", sources="",
                                                               question=question))
    if fixed > budget:
        raise BadInput(f"the question is too long: the prompt needs {fixed} tokens and the model's "
                       f"context leaves room for {budget}; shorten the question")
    rendered: list[str] = []
    kept: list[Passage] = []
    used = fixed
    for passage in passages:
        text = render_passage(prompts, passage)
        cost = count_tokens(text) + 2
        if used + cost > budget:
            break
        rendered.append(text)
        kept.append(passage)
        used += cost
    user = prompts.render(f"{style}_user", sources=_SEPARATOR.join(rendered), question=question)
    # a block runs to where the next one starts, so the blocks follow each other in the prompt
    blocks = [Block(text + _SEPARATOR, passage.doc_id) for text, passage in zip(rendered, kept)]
    return AnswerPrompt(messages=[{"role": "system", "content": system},
                                  {"role": "user", "content": user}],
                        passages=kept, tokens=used, blocks=blocks)


def build_rewrite_prompt(prompts: Prompts, question: str,
                         history: Sequence[tuple[str, str]]) -> list[dict]:
    """History is (question, answer) pairs, oldest first; answers are shortened, markers and all."""
    lines = []
    for asked, answered in history[-3:]:
        lines.append(f"User: {asked}")
        lines.append(f"Assistant: {_shorten(answered, 300)}")
    return [{"role": "system", "content": prompts.render("rewrite_system")},
            {"role": "user", "content": prompts.render("rewrite_user", history="\n".join(lines),
                                                       question=question)}]


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
