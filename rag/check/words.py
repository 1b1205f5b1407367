"""The word-level primitives every lexical check compares with: content words, numbers as
digits, names with their aliases.

Kept apart from the checks that use them (`judge`, `constraints`) so that both read the same
words the same way, and the checks call down to here rather than into each other.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be
been being has have had do does did not no it its this that these those there their they them he she
his her him we our you your i me my will would could should can may might must shall also than then
so such about into over after before under between through during while which who whom whose what
when where why how all any both each few more most other some only own same too very just said says
say according reported reportedly told""".split())
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?")
_ORDINAL_WORDS = {word: f"{i}{'th' if 4 <= i <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}[i]}"
                  for i, word in enumerate("""first second third fourth fifth sixth seventh eighth
                  ninth tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth
                  seventeenth eighteenth nineteenth twentieth""".split(), start=1)}
_ORDINAL_WORD = re.compile(r"\b(" + "|".join(_ORDINAL_WORDS) + r")\b", re.I)
# Names that mean the same place or body in news copy; any one found counts for the others.
_ALIASES = [frozenset(group.split("|")) for group in (
    "us|usa|united|states|america|american|americans|washington",
    "uk|britain|british|united|kingdom|london",
    "eu|european|union|brussels",
    "un|united|nations",
    "oscar|oscars|academy", "france|french|paris", "netherlands|dutch", "switzerland|swiss", "greece|greek",
    "russia|russian|russians|moscow|kremlin", "ukraine|ukrainian|ukrainians|kyiv|kiev",
    "china|chinese|beijing", "germany|german|berlin", "finland|finnish|helsinki",
)]
_WORD = re.compile(r"[A-Za-z][A-Za-z'’.-]*[A-Za-z]|[A-Za-z]")
_NAME = re.compile(r"\b[A-Z][a-zA-Z’'-]+(?:\s+[A-Z][a-zA-Z’'-]+)*")
_NAME_NOISE = frozenset({"The", "A", "An", "He", "She", "It", "They", "This", "That", "In", "On", "At",
                         "According", "President", "Prime", "Minister", "But", "And", "Yes", "No",
                         "If", "While", "After", "Before", "However", "Also", "As", "His", "Her",
                         "Their", "There", "We", "I", "Both", "Only", "Some", "Several",
                         "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct",
                         "Nov", "Dec"})


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _norm(word: str) -> str:
    word = word.lower().replace("’", "'").replace(".", "")
    return re.sub(r"'s$", "", word).strip("'-")


def content_words(text: str) -> set[str]:
    words = [_norm(w) for w in _WORD.findall(text)]
    return set(_stemmer().stemWords([w for w in words if w and w not in _STOPWORDS]))


def digit_ordinals(text: str) -> str:
    """ "the tenth season" as "the 10th season", so both spellings compare equal."""
    return _ORDINAL_WORD.sub(lambda m: _ORDINAL_WORDS[m.group(1).lower()], text)


def numbers(text: str) -> set[str]:
    """Numbers as digits without separators or ordinal endings ("eleventh", "11th", "11")."""
    return {re.sub(r"(st|nd|rd|th)$", "", n.replace(",", ""))
            for n in _NUMBER.findall(digit_ordinals(text))}


def names(text: str) -> set[str]:
    """Capitalised words, minus sentence-initial function words and titles."""
    found = set()
    for match in _NAME.finditer(text):
        for word in match.group(0).split():
            if word not in _NAME_NOISE and len(word) > 1:
                found.add(_norm(word))
    return found


def name_in(name: str, haystack: str) -> bool:
    """Spelling variants ("Zelensky", "Zelenskyy"; "U.S.", "US") and the aliases of a country
    ("Finnish", "Finland's"; "Washington", "United States") count as the same name."""
    stem = name[:max(4, min(len(name), 6))]
    if stem in haystack:
        return True
    words = set(haystack.split())
    return any(name in group and group & words for group in _ALIASES)


def with_aliases(words: set[str]) -> set[str]:
    """Content words plus every alias of a place or body they name (stemmed like them)."""
    extra: set[str] = set()
    for group in _ALIASES:
        stems = set(_stemmer().stemWords(sorted(group)))
        if stems & words:
            extra |= stems
    return words | extra


def norm_text(text: str) -> str:
    return " ".join(_norm(w) for w in _WORD.findall(text))
