"""Checks of a quote-then-answer reply: is the answer the quote's, and is the question the quote's?

A small model that copied the right sentence may still answer with a fact of its own: the day
kept and the month changed, the capital named for the city the quote names. Those are lexical and
certain: a number, a month or a name in the answer that neither its quotes nor the question
holds. Whether a quote answers the question at all (not just shares its words) is for the model,
asked Yes or No inside the answer's context like every other check (`rag.check.entailment`).

A question about a person, organisation or place that no shown passage mentions cannot be
answered from them, however well some passage reads: the answer would put another speaker's words
in the mouth of the one asked about.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.check.constraints import missing_quantity
from rag.check.words import name_in, names, norm_text, numbers
from rag.text import strip_markers
from rag.types import Passage, Quote

_MONTH = re.compile(r"\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
                    r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b",
                    re.I)
# capitalised words that open questions, name times, or stand for the articles themselves
_NOT_ABOUT = frozenset("""who what when where which why how whose whom did does do is are was
were has have had will would can could should shall may might according tell name give list
explain describe summarise summarize please today tomorrow yesterday january february march
april june july august september october november december monday tuesday wednesday thursday
friday saturday sunday""".split())
_WHEN = re.compile(r"^\s*(?:when\b|(?:on |in |by )?(?:what|which) (?:date|day|month|year|time)\b)",
                   re.I)
_TIME = re.compile(r"\b(?:19|20)\d\d\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|"
                   r"sunday|yesterday|today|tomorrow|tonight|ago|week|weekend|month|year|decade|"
                   r"century|morning|evening|night|afternoon|spring|summer|autumn|fall|winter|"
                   r"season)s?\b|\b\d{1,2}[:.]\d\d\b|\b\d{1,2}\s*[ap]\.?m\b|"
                   r"\b(?:before|after|since|until)\b", re.I)


def missing_kind(question: str, text: str) -> str | None:
    """What the question asks for that `text` cannot be: no time for "when", no quantity for
    "how many". Certain when it fires; the model judges every other way of not answering."""
    if _WHEN.search(question) and not (_TIME.search(text) or months(text)):
        return "the question asks when, the quote names no time"
    return missing_quantity(question, text)


def months(text: str) -> set[str]:
    """Month names, as their first three letters ("Sept." and "September" are one month)."""
    return {m.lower()[:3] for m in _MONTH.findall(text) if m[0].isupper()}


def changed_facts(answer: str, quotes: Sequence[Quote], question: str,
                  titles: Sequence[str] = ()) -> list[str]:
    """The numbers, months and names of `answer` that its quotes, the question and the quoted
    passages' titles do not hold: facts the model wrote past its evidence."""
    claim = strip_markers(answer)
    evidence = " ".join([*(q.text for q in quotes), question, *titles])
    lowered = norm_text(evidence)
    changed = sorted(numbers(claim) - numbers(evidence))
    changed += sorted(months(claim) - months(evidence))
    changed += sorted(n for n in names(claim) - _NOT_ABOUT if not name_in(n, lowered))
    return changed


def absent_names(question: str, passages: Sequence[Passage]) -> list[str]:
    """The names the question is about that no shown passage (text or title) mentions."""
    asked = names(question[:1].lower() + question[1:]) - _NOT_ABOUT  # "Besides France …"
    if not asked:
        return []
    lowered = norm_text("\n".join(f"{p.title}\n{p.text}" for p in passages))
    return sorted(n for n in asked if not name_in(n, lowered))


def quote_as_answer(quotes: Sequence[Quote]) -> str:
    """The quotes themselves, each ending with its marker: the answer when the draft strayed."""
    sentences = []
    for quote in quotes:
        body = quote.text.rstrip()
        if body[-1] in ".!?":
            body, end = body[:-1].rstrip(), body[-1]
        else:
            body, end = body.rstrip(",;:"), "."
        sentences.append(f"{body} [{quote.n}]{end}")
    return " ".join(sentences)
