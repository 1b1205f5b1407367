import json

import pytest

from rag.errors import BadInput
from rag.evaluate.data import Question, SupportPair, load_pairs, load_questions, load_thresholds
from rag.evaluate.run import pair_accuracy
from rag.evaluate.scoring import aggregate, check_thresholds, includes, score_record
from rag.settings import PROJECT_ROOT
from rag.text import MARKER
from rag.types import AnswerRecord, Citation, Passage, SentenceSupport

EVAL = PROJECT_ROOT / "eval"


def test_eval_set_is_large_and_varied():
    questions = load_questions(EVAL / "questions.jsonl")
    assert len(questions) >= 40
    assert len({q.id for q in questions}) == len(questions)
    assert sum(not q.answerable for q in questions) >= 10
    for q in questions:
        if q.answerable:
            assert q.must_include and q.evidence, q.id


def test_questions_have_a_dev_split_to_tune_on_and_a_test_split_to_report():
    dev = load_questions(EVAL / "questions.jsonl", "dev")
    test = load_questions(EVAL / "questions.jsonl", "test")
    assert len(test) >= 40 and sum(not q.answerable for q in test) >= 8
    assert not {q.question for q in dev} & {q.question for q in test}
    with pytest.raises(BadInput, match="--split must be one of dev, test"):
        load_questions(EVAL / "questions.jsonl", "train")


def test_labelled_pairs_cover_the_classes_that_matter():
    pairs = load_pairs(EVAL / "support_pairs.jsonl")
    assert len(pairs) >= 300 and len({p.id for p in pairs}) == len(pairs)
    kinds = {(p.kind, p.supported) for p in pairs}
    for needed in [("paraphrase", True), ("two passages", True), ("substitution", False),
                   ("contradiction", False), ("off-question", False), ("injection echo", False)]:
        assert needed in kinds, needed
    for split in ("dev", "test"):
        part = load_pairs(EVAL / "support_pairs.jsonl", split)
        assert sum(p.supported for p in part) >= 60 and sum(not p.supported for p in part) >= 100
    assert all(p.passages and all(p.passages) for p in pairs)
    assert all(p.question for p in pairs if p.kind == "off-question")


def test_pair_accuracy_counts_right_and_wrong_per_class(assistant):
    passage = "Germany ruled out sending troops in 2024, officials said on Thursday."
    pairs = [SupportPair("a", "Germany ruled out sending troops in 2024.", [passage], True, "restatement"),
             SupportPair("b", "Italy ruled out sending troops in 2024.", [passage], False, "substitution"),
             SupportPair("c", "Germany ruled out sending troops in 2024.", [passage], False,
                         "off-question", question="What did Germany decide about troops in 2025?"),
             SupportPair("d", "Germany ruled out sending troops in 2023.", [passage], False,
                         "contradiction")]
    classes = pair_accuracy(assistant.verify, pairs)
    assert classes == {"+restatement": {"right": 1, "total": 1},
                       "-contradiction": {"right": 1, "total": 1},
                       "-off-question": {"right": 1, "total": 1},
                       "-substitution": {"right": 1, "total": 1}}


def test_every_evidence_quote_is_verbatim_in_the_seeds():
    seeds = "\n".join(p.read_text(encoding="utf-8") for p in sorted((PROJECT_ROOT / "seeds").iterdir()))
    for q in load_questions(EVAL / "questions.jsonl"):
        for quote in q.evidence:
            assert quote in seeds, (q.id, quote)


def test_conversations_have_two_turns():
    rows = [json.loads(line) for line in (EVAL / "conversations.jsonl").read_text().splitlines()]
    assert len(rows) >= 3 and all(len(r["turns"]) == 2 for r in rows)


def test_thresholds_file_parses():
    thresholds = load_thresholds(EVAL / "thresholds.toml")
    assert {"correctness", "abstention", "faithfulness", "evidence_recall"} <= set(thresholds)


def test_bad_eval_file(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "a"}\n')
    with pytest.raises(BadInput, match="missing answerable, question"):
        load_questions(bad)
    bad.write_text("not json\n")
    with pytest.raises(BadInput, match="not JSON"):
        load_questions(bad)


def _record(answer, passages, support, abstained=False):
    return AnswerRecord(question="q", answer=answer, abstained=abstained,
                        citations=[Citation(int(n), "d", "d#0") for n in MARKER.findall(answer)],
                        passages=passages, timings_ms={"retrieve": 1, "first_token": 100, "total": 200},
                        model="m.gguf", sentence_support=support)


def test_scoring_and_aggregation():
    passages = [Passage(n=1, doc_id="d", chunk_id="d#0", title="t", date=None,
                        text="only Hungary and Slovakia were still importing directly", score=1,
                        start=0, end=10),
                Passage(n=2, doc_id="e", chunk_id="e#0", title="t", date=None, text="other",
                        score=1, start=0, end=5)]
    question = Question(id="q1", question="?", answerable=True, answer="", must_include=["Hungary", "Slovakia|Slovak"],
                        evidence=["only Hungary and Slovakia were still importing directly"])
    good = _record("Hungary and Slovakia [1].", passages,
                   [SentenceSupport("Hungary and Slovakia [1].", [1], True)])
    score = score_record(question, good)
    assert score["correct"] and score["evidence_recall"] == 1.0 and score["reciprocal_rank"] == 1.0
    unanswerable = Question(id="u1", question="?", answerable=False, answer="", must_include=[], evidence=[])
    declined = _record("The articles do not answer this question.", [], [], abstained=True)
    metrics = aggregate([score, score_record(unanswerable, declined)],
                        [good.to_dict(), declined.to_dict()])
    assert metrics["correctness"] == 1.0 and metrics["abstention"] == 1.0
    assert metrics["faithfulness"] == 1.0 and metrics["citation_precision"] == 1.0
    assert score["cites_evidence"] and metrics["evidence_cited"] == 1.0
    elsewhere = _record("Hungary and Slovakia [2].", passages,
                        [SentenceSupport("Hungary and Slovakia [2].", [2], True)])
    assert not score_record(question, elsewhere)["cites_evidence"]  # right words, wrong passage
    assert check_thresholds(metrics, {"correctness": 0.9, "max:total_p95_ms": 100}) == [
        "total_p95_ms = 200.000 is above its maximum 100.000"]
    assert includes("Slovak republic", "Slovakia|Slovak")
    assert includes("It came out on September 20th, 2019 [1].", "September 20 2019")
    assert not includes("It came out on September 21, 2019 [1].", "September 20 2019")


@pytest.mark.model
def test_rag_eval_writes_a_report_and_gates(tmp_path, seed_settings, seed_index):
    """A three-question run of the real command: records, metrics, report, chart, exit code."""
    from rag.cli import main

    rows = [json.loads(line) for line in (EVAL / "questions.jsonl").read_text().splitlines()]
    picked = [r for r in rows if r["id"] in ("q12", "q28", "u01")]
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in picked))
    strict = tmp_path / "strict.toml"
    strict.write_text("[minimum]\ncorrectness = 0.5\n[maximum]\ntotal_p50_ms = 1\n")
    out = tmp_path / "report"
    code = main(["eval", "--questions", str(small), "--conversations", "", "--thresholds", str(strict),
                 "--pairs", "", "--judge-labels", "", "--out", str(out),
                 "--index", str(seed_settings.index)])
    assert code == 1  # no answer takes under 1 ms: the maximum fails the gate
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["q12", "q28", "u01"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["correctness"] >= 0.5
    assert metrics["metrics"]["abstention"] == 1.0
    assert metrics["failures"] == ["total_p50_ms = %.3f is above its maximum 1.000"
                                   % metrics["metrics"]["total_p50_ms"]]
    report = (out / "report.md").read_text()
    assert "| correctness |" in report and "verifier" in report
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"
