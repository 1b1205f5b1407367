"""Quote, then answer: the model first copies the sentence that answers, then answers from it.

A small model that reads the right passage still writes the wrong fact (the month changed, the
capital named for the city). Made to copy its evidence first, it answers from words it has just
written. The copy is held to the passages by a llama.cpp grammar whose alternatives are the
shown passages' sentences, each behind its passage number: the model cannot invent a quote, and
the quote names its source. "none" is the grammar's other branch, and the abstention.

A quote may begin at any word of a sentence and stop at a clause mark, so it need not spend a
hundred tokens to reach its fact. Sentences that address the model (`rag.untrusted`) are never
offered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.templates import ABSTAIN_TOKEN
from rag.text import split_sentences
from rag.types import Passage, Quote
from rag.untrusted import is_instruction

MAX_QUOTES = 2  # a question about two things may need a sentence for each
_MIN_UNIT_WORDS = 4
_CLAUSE_MARK = re.compile(r"[,;:.!?\"”’)]$")
_QUOTE_LINE = re.compile(r"^Quote:\s*(.*?)\s*\[(\d+)\]$")
NONE = "none"


@dataclass
class QuotedReply:
    """A reply in the quote grammar, read back."""
    quotes: list[Quote]  # the quoted units that are verbatim in the passage they name
    answer: str  # what followed "Answer:"
    declined: bool  # the model chose "Quote: none"
    invented: int = 0  # quotes not found in their passage (a server that ignored the grammar)


def quotable_units(passage: Passage) -> list[str]:
    """The passage's sentences that a quote may copy from: each verbatim in its text."""
    return [s for s in split_sentences(passage.text)
            if not is_instruction(s) and len(s.split()) >= _MIN_UNIT_WORDS]


def quote_grammar(passages: Sequence[Passage]) -> str:
    """A GBNF grammar: up to MAX_QUOTES quotes, each a run of a shown unit followed by its
    passage's " [n]", then the answer on one line; or "none" and the abstention.

    A quote may start at any word of a unit (not in its last three) and ends at the unit's end
    or at a clause mark: greedy decoding commits to a quote's first word, and the words the
    model wants to copy ("Macron said 26 countries…") often begin inside a sentence."""
    rules: list[str] = []
    choices: list[str] = []
    for passage in passages:
        starts: list[str] = []
        for i, unit in enumerate(quotable_units(passage)):
            words = unit.split(" ")
            for j, word in enumerate(words):
                name = f"u{passage.n}-{i}-{j}"
                rules.append(f"{name} ::= {_word_rule(words, j, f'u{passage.n}-{i}-{j + 1}')}")
                if j == 0 or j < len(words) - 3:
                    starts.append(name)
        if starts:
            rules.append(f"p{passage.n} ::= " + " | ".join(starts))
            choices.append(f'p{passage.n} " [{passage.n}]"')
    declined = f'"{NONE}\\nAnswer: {ABSTAIN_TOKEN}"'
    if not choices:
        return f'root ::= "Quote: " {declined}\n'
    more = ' ("\\nQuote: " quote)?' * (MAX_QUOTES - 1)
    return "\n".join([
        f'root ::= "Quote: " ({declined} | quote{more} "\\nAnswer: " answer)',
        "quote ::= " + " | ".join(choices),
        *rules,
        r"answer ::= [^\n]+",
    ]) + "\n"


def _word_rule(words: list[str], j: int, following: str) -> str:
    """Word j, then the rest of the unit; the quote may stop after a word that ends a clause."""
    word = words[j]
    if j == len(words) - 1:
        return _literal(word)
    if _CLAUSE_MARK.search(word):
        return f'{_literal(word)} ({_literal(" ")} {following})?'
    return f"{_literal(word + ' ')} {following}"


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f]", " ", escaped) + '"'


def read_reply(text: str, passages: Sequence[Passage]) -> QuotedReply:
    """The quotes and the answer of a reply; a quote is kept only if it stands verbatim in the
    passage it names, so nothing but the passages' own words is ever shown as a quote."""
    by_n = {p.n: p for p in passages}
    quotes: list[Quote] = []
    answer_lines: list[str] = []
    declined = invented = 0
    for line in text.splitlines():
        if line.startswith("Answer:"):
            answer_lines.append(line[len("Answer:"):].strip())
        elif answer_lines:
            answer_lines.append(line.strip())
        elif line.strip() == f"Quote: {NONE}":
            declined = True
        elif (match := _QUOTE_LINE.match(line)) and match.group(1).strip():
            n, quoted = int(match.group(2)), match.group(1).strip()
            passage = by_n.get(n)
            if passage is not None and quoted in passage.text and not is_instruction(quoted):
                quotes.append(Quote(n, quoted, passage.doc_id, passage.chunk_id))
            else:
                invented += 1
    answer = " ".join(line for line in answer_lines if line)
    return QuotedReply(quotes, answer, bool(declined) and not quotes, invented)


def answer_shown_so_far(text: str) -> tuple[str, str | None]:
    """While the reply streams: the quote being copied ("" when none yet), and the answer text
    once "Answer:" has begun (None before)."""
    head, sep, answer = text.partition("\nAnswer:")
    quoting = [line for line in head.splitlines() if line.startswith("Quote:")]
    current = quoting[-1][len("Quote:"):].strip() if quoting else ""
    return current, answer.lstrip() if sep else None
