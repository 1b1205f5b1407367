"""Does a sentence answer the question that was asked, as far as the question's own markers tell?

A question often pins its answer down with a year ("in 2021"), a numbered edition ("Season 17",
"Pixel 6") or an ordinal ("the 93rd Academy Awards"). A sentence that states the same kind of
marker with another value ("in 2019", "Season 11") answers a different question, however well
its passage supports it: that is the commonest off-question answer of small models on news.
"""

from __future__ import annotations

import re
from collections import defaultdict

from rag.check.words import digit_ordinals, name_in, names, norm_text, numbers
from rag.text import strip_markers

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_ORDINAL = re.compile(r"\b(\d+(?:st|nd|rd|th))\s+([A-Za-z]+)")
_NUMBERED = re.compile(r"\b([A-Z][a-z]+)\s+(\d+[a-z]?)\b(?!\s*(?:st|nd|rd|th)\b)")
_NOT_EDITIONS = frozenset("""january february march april may june july august september october
november december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday
thursday friday saturday sunday""".split())


def markers(text: str) -> dict[str, set[str]]:
    """Kind of marker (year, "ordinal <noun>", "numbered <name>") to the values stated."""
    found: dict[str, set[str]] = defaultdict(set)
    for year in _YEAR.findall(text):
        found["year"].add(year)
    for value, noun in _ORDINAL.findall(digit_ordinals(text)):
        found[f"ordinal {noun.lower()}"].add(value)
    for name, value in _NUMBERED.findall(text):
        if name.lower() not in _NOT_EDITIONS:
            found[f"numbered {name.lower()}"].add(value)
    return dict(found)


_HOW_MANY = re.compile(r"\bhow (many|much)\s+([a-z]+(?:\s+[a-z]+)?)", re.I)
_QUANTITY = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                       r"twenty|thirty|forty|fifty|hundred|hundreds|thousand|thousands|million|"
                       r"millions|billion|billions|trillion|dozen|dozens|half|all|none|no)\b", re.I)
_CLOCK = re.compile(r"\b\d{1,2}:\d\d(?::\d\d)?(?:\s*(?:[ap]\.?m\.?|gmt|utc|cet|[ecmp][sd]?t)\b)?",
                    re.I)
_AUXILIARIES = frozenset("did do does have has had will would were was are is can could the".split())


def missing_quantity(question: str, sentence: str) -> str | None:
    """ "How many Patriot systems …?" is answered by a sentence that states a quantity of them;
    "26 countries were ready …" states one of something else. The reason, or None."""
    asked = _HOW_MANY.search(question)
    if not asked:
        return None
    sentence = _CLOCK.sub(" ", strip_markers(sentence))  # "17:48 GMT" is when, not how much
    if not _QUANTITY.search(sentence):
        return f"the question asks how {asked.group(1)}, the sentence states no quantity"
    if asked.group(1).lower() == "many":
        wanted = [w for w in asked.group(2).lower().split() if w not in _AUXILIARIES]
        words = {w.rstrip("s") for w in re.findall(r"[a-z]+", sentence.lower())}
        if wanted and not any(w.rstrip("s") in words for w in wanted):
            return f"the question counts {' '.join(wanted)}, the sentence does not"
    return None


def conflicting_markers(question: str, sentence: str) -> list[str]:
    """Markers the question names that the sentence replaces with another value, e.g.
    ["year 2021 (sentence: 2019)"]; empty when the sentence keeps to the question."""
    asked, stated = markers(question), markers(sentence)
    return [f"{kind} {', '.join(sorted(values))} (sentence: {', '.join(sorted(stated[kind]))})"
            for kind, values in sorted(asked.items())
            if kind in stated and not values & stated[kind]]


_COUNTED = re.compile(r"\b(\d+(?:[.,]\d+)*)\s*(%|[A-Za-z]+)")


def _counted(text: str) -> dict[str, set[str]]:
    """Number to the words that follow it: "26 countries" gives {"26": {"countri"}}."""
    found: dict[str, set[str]] = defaultdict(set)
    for number, word in _COUNTED.findall(text):
        word = "percent" if word in ("%", "per") else word.lower()
        found[number.replace(",", "")].add(word[:6])
    return found


def recounted(sentence: str, evidence: str) -> list[str]:
    """Numbers the sentence counts in other units than the passage does ("26 soldiers" where
    the passage has only "26 countries"). Not certain: "26 nations" may be a paraphrase."""
    said, stated = _counted(strip_markers(sentence)), _counted(evidence)
    return [f"{n} {'/'.join(sorted(words))}" for n, words in sorted(said.items())
            if n in stated and not words & stated[n] and not words & _NOT_UNITS]


_NOT_UNITS = frozenset({"and", "or", "to", "in", "on", "at", "of", "by", "the", "a", "after",
                        "befor", "for", "with", "as", "from", "is", "was", "were", "are"})


def _kinds(text: str) -> dict[str, set[str]]:
    """Markers keyed by what they count ("season" for both "Season 11" and "the 11th season"),
    values as bare numbers."""
    found: dict[str, set[str]] = defaultdict(set)
    for kind, values in markers(text).items():
        found[kind.split()[-1]] |= {re.sub(r"(st|nd|rd|th)$", "", v) for v in values}
    return found


def off_scope(question: str, sentence: str, passages: list[str]) -> str | None:
    """A year or edition the question asks about that the passages holding the answer speak of
    only with other values: "Who won in 2019?" answered from a passage about 2021, perhaps with
    the year taken from another cited passage about something else. Certain, so the reason;
    None when the passages name the asked value, or no value of that kind at all (then only
    the model can tell).

    The passages holding the answer are those that name the people, places or things the
    sentence adds to the question; all cited passages when it adds none.
    """
    asked = _kinds(question)
    if not asked:
        return None
    added = names(strip_markers(sentence)) - names(question)
    holding = [p for p, words in ((p, norm_text(p)) for p in passages)
               if any(name_in(n, words) for n in added)]
    evidence = "\n".join(holding or passages)
    stated = _kinds(evidence)
    for kind, values in sorted(asked.items()):
        if values & stated.get(kind, set()):
            continue
        if kind == "year" and values & numbers(evidence):
            continue
        if stated.get(kind):
            return (f"the question asks about {kind} {', '.join(sorted(values))}, the passage "
                    f"holding the answer speaks of {', '.join(sorted(stated[kind]))}")
    return None
