"""Run an eval set through the same `Assistant` users talk to, and measure it (`rag.evaluate.scoring`
defines the metrics): questions one by one, two-turn conversations (is the rewritten question and
its answer right?), and the verifier alone on hand-labelled (sentence, passages) pairs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.check import Check
from rag.evaluate.data import Conversation, Question, SupportPair
from rag.evaluate.scoring import aggregate, includes, mean, score_record
from rag.types import Passage, ProgressFn


@dataclass
class EvalResult:
    metrics: dict[str, float]
    records: list[dict]
    conversations: list[dict] = field(default_factory=list)
    judge_errors: list[dict] = field(default_factory=list)
    pair_classes: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> right, total


def run_eval(assistant: Assistant, questions: list[Question], conversations: list[Conversation],
             *, top_k: int | None = None, on_progress: ProgressFn | None = None,
             judge_labels: Path | None = None, pairs: list[SupportPair] | None = None) -> EvalResult:
    records, scores = [], []
    total = len(questions) + sum(len(c.turns) for c in conversations) + len(pairs or [])
    done = 0
    for question in questions:
        record = assistant.ask(question.question, top_k=top_k)
        score = score_record(question, record)
        scores.append(score)
        records.append({"id": question.id, **record.to_dict(), "expected": question.answer,
                        "score": score})
        done += 1
        if on_progress:
            on_progress(done, total)
    conversation_rows = []
    for conversation in conversations:
        history: list[tuple[str, str]] = []
        record = None
        for turn in conversation.turns:
            record = assistant.ask(turn, history, top_k=top_k)
            history.append((turn, record.answer))
            done += 1
            if on_progress:
                on_progress(done, total)
        conversation_rows.append({
            "id": conversation.id, "turns": conversation.turns,
            "standalone_question": record.standalone_question, "answer": record.answer,
            "rewrite_ok": all(includes(record.standalone_question, e)
                              for e in conversation.standalone_must_include),
            "answer_ok": (not record.abstained
                          and all(includes(record.answer, e) for e in conversation.must_include)),
        })
    metrics = aggregate(scores, records)
    if conversation_rows:
        metrics["followup_rewrite"] = mean(r["rewrite_ok"] for r in conversation_rows)
        metrics["followup_correct"] = mean(r["answer_ok"] for r in conversation_rows)
    judge_errors: list[dict] = []
    if judge_labels is not None:
        metrics["judge_accuracy"], judge_errors = judge_accuracy(assistant.verify, judge_labels)
    pair_classes: dict[str, dict[str, int]] = {}
    if pairs:
        def step() -> None:
            nonlocal done
            done += 1
            if on_progress:
                on_progress(done, total)

        pair_classes = pair_accuracy(assistant.verify, pairs, on_pair=step)
        for label, kinds in (("supported", [k for k in pair_classes if k.startswith("+")]),
                             ("unsupported", [k for k in pair_classes if k.startswith("-")])):
            right = sum(pair_classes[k]["right"] for k in kinds)
            total = sum(pair_classes[k]["total"] for k in kinds)
            if total:
                metrics[f"pairs_{label}_accuracy"] = right / total
    return EvalResult(metrics=metrics, records=records, conversations=conversation_rows,
                      judge_errors=judge_errors, pair_classes=pair_classes)


Verify = Callable[[str, list[Passage], str], Check]  # (question, passages, sentence): Assistant.verify


def judge_accuracy(verify: Verify, labels: Path) -> tuple[float, list[dict]]:
    """Share of hand-labelled (sentence, passage) pairs the verifier gets right, and the misses."""
    rows = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    errors = []
    for row in rows:
        check = verify(PAIR_QUESTION, as_passages([row["passage"]]), row["sentence"])
        if check.supported != row["supported"]:
            errors.append({**row, "judged": check.supported, "reason": check.reason})
    return (1 - len(errors) / len(rows)) if rows else 0.0, errors


def pair_accuracy(verify: Verify, pairs: list[SupportPair],
                  on_pair: Callable[[], None] | None = None) -> dict[str, dict[str, int]]:
    """Right and total per class ("+kind" for supported pairs, "-kind" for unsupported ones).

    The verifier sees what the pipeline would give it: the passages shown as an answer prompt's
    sources, the pair's question (a neutral one when the pair has none) and the sentence.
    """
    classes: dict[str, dict[str, int]] = {}
    for pair in pairs:
        verdict = verify(pair.question or PAIR_QUESTION, as_passages(pair.passages), pair.sentence)
        key = ("+" if pair.supported else "-") + pair.kind
        tally = classes.setdefault(key, {"right": 0, "total": 0})
        tally["total"] += 1
        tally["right"] += verdict.supported == pair.supported
        if on_pair:
            on_pair()
    return dict(sorted(classes.items()))


PAIR_QUESTION = "What do the sources report?"


def as_passages(texts: list[str]) -> list[Passage]:
    """Labelled passages as the numbered sources of an answer prompt; a first line that is
    separated from the rest is shown as the title."""
    passages = []
    for n, text in enumerate(texts, start=1):
        title, _, body = text.partition("\n") if "\n" in text else ("Article", "", text)
        passages.append(Passage(n=n, doc_id=f"pair-{n}", chunk_id=f"pair-{n}", title=title,
                                date=None, text=body, score=0.0, start=0, end=len(body)))
    return passages
