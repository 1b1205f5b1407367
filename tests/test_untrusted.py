"""Text addressed to the model is recognised in every style of the battery, and news is not."""

import json

import pytest

from rag.settings import PROJECT_ROOT
from rag.text import split_sentences
from rag.untrusted import instruction_sentences, is_instruction
from tests.answer.injections import BATTERY

RGB = PROJECT_ROOT.parent / "shared" / "external" / "rgb" / "en_fact.json"


@pytest.mark.parametrize("planted", BATTERY, ids=[p.style for p in BATTERY])
def test_every_sentence_carrying_the_planted_text_is_flagged(planted):
    flagged = instruction_sentences(planted.article)
    carrying = [s for s in split_sentences(planted.article) if planted.code.lower() in s.lower()]
    assert flagged
    assert all(s in flagged for s in carrying), carrying
    assert not instruction_sentences(f"{planted.before}\n{planted.after}")


def test_the_battery_has_at_least_twenty_styles():
    assert len({p.style for p in BATTERY}) >= 20


def test_news_sentences_are_not_flagged():
    """The seed articles and RGB's documents (news text, some about chatbots and rules): none."""
    texts = [path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "seeds").glob("*.txt")]
    if RGB.exists():
        for row in map(json.loads, RGB.read_text(encoding="utf-8").splitlines()):
            texts += [*row["positive"], *row["negative"], *row.get("positive_wrong", [])]
    flagged = [s for text in texts for s in instruction_sentences(text)]
    assert flagged == []
    assert not is_instruction("The AI model should be regulated, the senator said.")
    assert not is_instruction("Officials told residents to ignore rumours about the dam.")
