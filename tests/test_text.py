"""Sentence boundaries in news copy and in answers with [n] markers."""

from rag.text import split_sentences


def test_abbreviations_and_markers_do_not_end_sentences_early():
    assert split_sentences("The U.S. said so [1]. Sept. 4 was the day.") == [
        "The U.S. said so [1].", "Sept. 4 was the day."]


def test_a_clock_time_with_its_zone_stays_one_sentence():
    assert split_sentences("It premieres on January 6 at 12:00 a.m. PT/3:00 a.m. ET [4].") == [
        "It premieres on January 6 at 12:00 a.m. PT/3:00 a.m. ET [4]."]
    assert split_sentences("We met at 9 a.m. The talks ended at noon.") == [
        "We met at 9 a.m.", "The talks ended at noon."]
    assert split_sentences("Talks began at 9 a.m.\nET reported it.") == [
        "Talks began at 9 a.m.", "ET reported it."]
