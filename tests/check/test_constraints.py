"""What the question pins down: years, editions, ordinals, counts."""

from rag.check.constraints import (
    conflicting_markers,
    markers,
    missing_quantity,
    off_scope,
    recounted,
)


def test_markers_of_years_editions_and_ordinals():
    found = markers("When did the tenth season premiere in 2023, after Pixel 6 and on August 17?")
    assert found == {"year": {"2023"}, "ordinal season": {"10th"}, "numbered pixel": {"6"}}


def test_a_sentence_that_swaps_the_asked_marker_answers_another_question():
    assert conflicting_markers("Who won the women's singles Wimbledon in 2021?",
                               "Simona Halep won the women's singles title at Wimbledon in 2019.")
    assert conflicting_markers("What is the premiere date of Grey's Anatomy Season 17?",
                               "Season 11 of The Walking Dead premiered on Aug 22, 2021.")
    assert conflicting_markers("When did the tenth season of The Blacklist premiere?",
                               "The first season of The Blacklist premiered in 2013.")
    assert not conflicting_markers("Who won in 2021?", "In 2020 and in 2021 Djokovic won.")
    assert not conflicting_markers("When will the EU's 19th package be ready?",
                                   "The EU approved its previous package on July 18.")


def test_how_many_and_how_much_need_their_count():
    assert missing_quantity("How many Patriot systems did the US agree to deliver?",
                            "26 countries were ready to send troops [4].")
    assert missing_quantity("How much money has Germany pledged?", "Germany pledged support [4].")
    assert not missing_quantity("How many soldiers will the UK send?", "The UK will send 500 soldiers.")
    assert not missing_quantity("How many countries took part?", "Twenty-six countries took part [1].")
    assert not missing_quantity("Who attended?", "Macron attended [1].")
    # a clock time says when, not how much
    assert missing_quantity("How much money does the US spend on aid?",
                            "17:48 GMT – the US will phase out security aid [1].")
    assert not missing_quantity("How much money does the US spend on aid?",
                                "17:48 GMT – the US spends $1.2 billion on aid [1].")
    assert not missing_quantity("How much does a ticket cost?", "A ticket costs 2.50 [1].")


def test_a_number_counted_in_other_units_is_in_doubt():
    passage = "Macron said 26 countries are ready to send troops; the tariff is 25%."
    assert recounted("The UK will send 26 soldiers [3].", passage) == ["26 soldie"]
    assert not recounted("Macron said 26 countries are ready [3].", passage)
    assert not recounted("The tariff is 25 percent.", passage)


RADUCANU = ("Sep 11, 2021 ... Emma Raducanu won the 2021 US Open women's singles title by "
            "defeating Leylah Fernandez in Arthur Ashe Stadium.")
SHIBUNO = "Jul 7, 2020 ... Hinako Shibuno of Japan won the 2019 Women's British Open golf."


def test_the_asked_year_must_stand_in_the_passage_that_holds_the_answer():
    question = "Who won the women's singles U.S. Open in 2019?"
    # the year borrowed from another cited passage about something else does not count
    assert "speaks of 2021" in off_scope(
        question, "Leylah Fernandez won the women's singles U.S. Open in 2019 [1][2].",
        [RADUCANU, SHIBUNO])
    assert off_scope("Who won the women's singles U.S. Open in 2021?",
                     "Emma Raducanu won the U.S. Open women's title [1].", [RADUCANU]) is None
    # a passage that gives no year at all is for the model to read, not a certain rejection
    assert off_scope(question, "Bianca Andreescu won the U.S. Open [1].",
                     ["Bianca Andreescu beat Serena Williams to win the U.S. Open."]) is None
    # "Season 11" in the question, "the eleventh season" in the passage
    assert off_scope("When did The Walking Dead Season 11 premiere?",
                     "It premiered on August 22, 2021 [1].",
                     ["The eleventh season of The Walking Dead premiered on August 22, 2021."]) is None
    assert "season 11" in off_scope("When did The Walking Dead Season 11 premiere?",
                                    "It premiered on October 6, 2019 [1].",
                                    ["Season 10 of The Walking Dead premiered on October 6, 2019."])
