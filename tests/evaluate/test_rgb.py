"""The RGB suite builder, on a small RGB-shaped file made here and on the real file when present."""

import json

import pytest

from rag.errors import BadInput
from rag.evaluate.data import load_questions
from rag.evaluate.rgb import answer_variants, bears_answer, build_rgb_suite, paper_comparison
from rag.settings import PROJECT_ROOT

REAL_RGB = PROJECT_ROOT.parent / "shared" / "external" / "rgb" / "en_fact.json"


def _row(i, query, answer, positive, negative):
    return {"id": i, "query": query, "answer": answer, "positive": positive, "negative": negative}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _check_invariants(suite):
    corpus = [p.read_text(encoding="utf-8").lower() for p in sorted(suite.corpus.iterdir())]
    questions = load_questions(suite.questions)
    assert len(corpus) == suite.snippets
    for q in questions:
        variants = [v.lower() for v in q.must_include[0].split("|")] if q.answerable else []
        if q.answerable:
            assert any(v in text for text in corpus for v in variants), q.id
        assert q.split in ("dev", "test")
    return questions


def test_small_suite_keeps_every_answerable_answer_and_no_unanswerable_one(tmp_path):
    rows = [_row(i, f"Who won the race number {i}?", f"Runner{i}",
                 [f"Runner{i} won race {i} on Sunday."], [f"Race {i} drew a large crowd."])
            for i in range(6)]
    # two queries with one answer: removing either's snippets would leave the other unanswered
    rows.append(_row(7, "Who anchored the relay?", "Runner0", ["Runner0 anchored the relay."], []))
    rows[2]["negative"].append("On Sunday race 3 went to runner3.")  # written otherwise: removed too
    rows.append(_row(6, "When did it open?", [["May 1 2020", "May 1, 2020"]],
                     ["The bridge opened on May 1, 2020."], ["The bridge is long."]))
    suite = build_rgb_suite(_write(tmp_path / "rgb.json", rows), tmp_path / "suite")
    assert suite.unanswerable == 6  # every query whose answer can be removed from the corpus
    questions = _check_invariants(suite)
    assert [q.id for q in questions if q.answerable] == ["rgb000", "rgb007"]
    assert suite.answerable == 2
    corpus = " ".join(p.read_text() for p in suite.corpus.iterdir())
    for q in questions:
        if not q.answerable:
            assert f"Runner{q.id[-1]} won" not in corpus
    assert "runner3" not in corpus
    again = build_rgb_suite(tmp_path / "rgb.json", tmp_path / "suite")
    assert again == suite and (tmp_path / "suite" / "questions.jsonl").read_text() == \
        suite.questions.read_text()


def test_a_snippet_bears_an_answer_written_in_other_words():
    dates = answer_variants([["October 19 2021", "Oct 19, 2021", "19 October 2021"]])
    assert bears_answer("Google announced the Pixel 6 on 19th October at its event.", dates)
    assert bears_answer("Pixel 6 unveiled Oct. 19", dates)
    assert not bears_answer("Pixel 6 unveiled on October 20, 2021.", dates)
    assert bears_answer("Zhao won Best Director at the 93rd Academy Awards.", ["Chloé Zhao"])
    assert bears_answer("Chloe Zhao's Nomadland swept the Oscars.", ["Chloé Zhao"])
    assert not bears_answer("Nomadland swept the Oscars.", ["Chloé Zhao"])
    assert bears_answer("Revenue was $6.3 billion in the quarter.", ["$6.3 billion"])
    assert not bears_answer("Revenue was $6.4 billion in the quarter.", ["$6.3 billion"])


def test_answer_variants_flatten_rgb_lists():
    assert answer_variants([["July 21 2017", "Jul 21, 2017"]]) == ["July 21 2017", "Jul 21, 2017"]
    assert answer_variants("Norway") == ["Norway"]


def test_bad_rgb_files_are_refused(tmp_path):
    with pytest.raises(BadInput, match="RGB file not found"):
        build_rgb_suite(tmp_path / "missing.json", tmp_path / "out")
    with pytest.raises(BadInput, match="not an RGB row"):
        build_rgb_suite(_write(tmp_path / "bad.json", [{"id": 1, "query": "q"}]), tmp_path / "out")


@pytest.mark.skipif(not REAL_RGB.is_file(), reason="RGB data not beside the project")
def test_real_rgb_suite(tmp_path):
    suite = build_rgb_suite(REAL_RGB, tmp_path / "suite")
    assert (suite.answerable, suite.unanswerable) == (60, 40)
    questions = _check_invariants(suite)
    corpus = {p.read_text(encoding="utf-8").strip() for p in suite.corpus.iterdir()}
    answerable = {q.id for q in questions if q.answerable}
    for row in (json.loads(line) for line in REAL_RGB.read_text(encoding="utf-8").splitlines()):
        if f"rgb{row['id']:03d}" in answerable:  # no answerable query loses a snippet to another
            assert all(s.strip() in corpus for s in row["positive"]), row["id"]
    assert {q.split for q in questions} == {"dev", "test"}
    table = paper_comparison({"correctness": 0.5, "abstention": 0.25})
    assert "| this assistant | 50.00 | 25.00 |" in table and "96.33" in table
