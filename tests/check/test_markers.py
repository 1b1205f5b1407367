import pytest

from rag.check.markers import StreamingMarkerFilter, check_markers, is_bare_markers, says_not_found
from rag.text import strip_markers


def test_valid_markers_kept_invalid_removed_and_counted():
    checked = check_markers("Macron said 26 countries are ready [2]. Witkoff attended [7].", {1, 2, 3})
    assert checked.text == "Macron said 26 countries are ready [2]. Witkoff attended."
    assert checked.used == [2] and checked.removed == 1


@pytest.mark.parametrize("raw, text, used", [
    ("Germany ruled out troops [1, 3].", "Germany ruled out troops [1][3].", [1, 3]),
    ("It was in New York [Source 2].", "It was in New York [2].", [2]),
    ("Both agreed [2][2] and [1].", "Both agreed [2][1].", [2, 1]),
    ("It is in Tampa. [1], [2], [3]", "It is in Tampa [1][2][3].", [1, 2, 3]),
    ("It was in 2020. [1] [2] [3]", "It was in 2020 [1][2][3].", [1, 2, 3]),
    ("No markers here.", "No markers here.", []),
])
def test_marker_forms_are_normalised(raw, text, used):
    checked = check_markers(raw, {1, 2, 3})
    assert (checked.text, checked.used) == (text, used)


def test_bare_markers_are_recognised():
    assert is_bare_markers("[2]")
    assert is_bare_markers("[3] and [4]")
    assert is_bare_markers("See [1].")
    assert not is_bare_markers("Germany ruled out sending troops [1].")


def test_refusals_are_recognised():
    assert says_not_found("NOT IN THE ARTICLES")
    assert says_not_found("The sources do not mention the price of bitcoin.")
    assert not says_not_found("Macron said 26 countries are ready to send troops [2].")


def test_stream_filter_matches_the_final_check():
    raw = "Macron said 26 [Source 2] countries [9] are ready [1, 3]. Done [4"
    valid = {1, 2, 3}
    for size in (1, 2, 3, 5, 8):
        stream = StreamingMarkerFilter(valid)
        out = "".join(stream.feed(raw[i:i + size]) for i in range(0, len(raw), size)) + stream.flush()
        expected = "Macron said 26 [2] countries  are ready [1][3]. Done [4"
        assert out == expected


def test_strip_markers():
    assert strip_markers("Germany said no [1]. France said yes [2][3].") == "Germany said no. France said yes."


def test_marker_after_the_full_stop_moves_inside_the_sentence():
    assert check_markers("They meet in New York. [1]", {1}).text == "They meet in New York [1]."
    assert check_markers("Yes. [1][2] No.", {1, 2}).text == "Yes [1][2]. No."
