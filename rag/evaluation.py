"""Run an eval set through the same `Assistant` users talk to, and measure it.

Metrics (each defined again in the report):
- retrieval: evidence recall@k (share of a question's evidence quotes lying inside a passage shown
  to the model), MRR (1 / rank of the first passage holding any quote);
- correctness: answerable, not abstained, and every `must_include` entry in the answer;
- abstention: share of unanswerable questions declined; false abstention on answerable ones;
- citations: validity (markers that point at shown passages), ALCE citation recall and precision,
  faithfulness (supported sentences / all answer sentences);
- latency: p50 / p95 of time to first token and of the whole answer;
- follow-ups: two-turn conversations whose rewritten question and answer hold the expected words.
"""

from __future__ import annotations

import json
import re
import statistics
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import BadInput
from rag.jsonl import numbered_rows
from rag.retrieval import Passage
from rag.verifier import Check
from rag.pipeline import AnswerRecord, Assistant

ProgressFn = Callable[[int, int], None]


@dataclass
class Question:
    id: str
    question: str
    answerable: bool
    answer: str
    must_include: list[str]
    evidence: list[str]
    split: str = "dev"  # "dev": tuned on; "test": reported, never tuned on


@dataclass
class SupportPair:
    """A hand-labelled (sentence, passages) pair: is the sentence stated by the passages taken
    together, as an answer to `question` when one is given? Labels never come from the judge."""
    id: str
    sentence: str
    passages: list[str]
    supported: bool
    kind: str  # "paraphrase", "substitution", "contradiction", "off-question", ...
    split: str = "dev"
    source: str = "seeds"
    question: str | None = None


@dataclass
class Conversation:
    id: str
    turns: list[str]
    standalone_must_include: list[str]
    must_include: list[str]


@dataclass
class EvalResult:
    metrics: dict[str, float]
    records: list[dict]
    conversations: list[dict] = field(default_factory=list)
    judge_errors: list[dict] = field(default_factory=list)
    pair_classes: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> right, total


# ---------------------------------------------------------------------------------------------
# loading


def _read_jsonl(path: Path, kind: type, required: set[str]) -> list:
    if not path.is_file():
        raise BadInput(f"{path}: no such eval file")
    rows = []
    for number, data in numbered_rows(path):
        missing = required - set(data)
        if missing:
            raise BadInput(f"{path}:{number}: missing {', '.join(sorted(missing))}")
        rows.append(kind(**{k: data[k] for k in kind.__dataclass_fields__ if k in data}))
    if not rows:
        raise BadInput(f"{path}: no questions in this file")
    return rows


SPLITS = ("dev", "test")


def _in_split(rows: list, split: str | None, path: Path) -> list:
    if split is None:
        return rows
    if split not in SPLITS:
        raise BadInput(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
    kept = [r for r in rows if r.split == split]
    if not kept:
        raise BadInput(f"{path}: nothing in the {split!r} split")
    return kept


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    return _in_split(_read_jsonl(path, Question, {"id", "question", "answerable"}), split, path)


def load_pairs(path: Path, split: str | None = None) -> list[SupportPair]:
    return _in_split(_read_jsonl(path, SupportPair, {"id", "sentence", "passages", "supported", "kind"}),
                     split, path)


def load_conversations(path: Path) -> list[Conversation]:
    return _read_jsonl(path, Conversation, {"id", "turns"})


def load_thresholds(path: Path) -> dict[str, float]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: cannot read thresholds ({exc})") from None
    return {k: float(v) for k, v in data.get("minimum", {}).items()} | {
        f"max:{k}": float(v) for k, v in data.get("maximum", {}).items()}


# ---------------------------------------------------------------------------------------------
# scoring one record


def includes(answer: str, entry: str) -> bool:
    """`entry` may list alternatives as "a|b"; matching ignores case, commas and ordinal suffixes,
    so "September 20th, 2019" holds "September 20 2019"."""
    text = _plain(answer)
    return any(_plain(option) in text for option in entry.split("|"))


def _plain(text: str) -> str:
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", text.lower().replace(",", " "))
    return " ".join(text.split())


def _squash(text: str) -> str:
    return " ".join(text.split())


def evidence_ranks(record: AnswerRecord, evidence: list[str]) -> tuple[float, float]:
    """(recall: share of quotes inside some shown passage, reciprocal rank of the first such passage).

    A quote may list alternatives as "a|b" (RGB's spellings of one answer); case is ignored."""
    if not evidence:
        return 0.0, 0.0
    texts = [_squash(p.text).lower() for p in record.passages]
    found = [q for q in evidence if any(_quoted(q, t) for t in texts)]
    ranks = [i for i, t in enumerate(texts, start=1) if any(_quoted(q, t) for q in evidence)]
    return len(found) / len(evidence), (1.0 / ranks[0]) if ranks else 0.0


def cites_evidence(record: AnswerRecord, evidence: list[str]) -> bool:
    """Does a cited passage hold an evidence quote? The eval's labels judge where the answer
    points, not the verifier that chose the markers."""
    by_n = {p.n: _squash(p.text).lower() for p in record.passages}
    cited = [by_n[c.n] for c in record.citations if c.n in by_n]
    return any(_quoted(q, t) for q in evidence for t in cited)


def _quoted(quote: str, squashed_text: str) -> bool:
    return any(_squash(option).lower() in squashed_text for option in quote.split("|") if option.strip())


def score_record(question: Question, record: AnswerRecord) -> dict:
    recall, rr = evidence_ranks(record, question.evidence)
    correct = (question.answerable and not record.abstained
               and all(includes(record.answer, entry) for entry in question.must_include))
    sentences = record.sentence_support
    cited = [n for s in sentences for n in s.citations]
    irrelevant = [n for s in sentences for n in s.irrelevant_citations]
    return {
        "id": question.id,
        "answerable": question.answerable,
        "correct": correct,
        "abstained": record.abstained,
        "evidence_recall": recall,
        "reciprocal_rank": rr,
        "cites_evidence": correct and bool(question.evidence) and cites_evidence(record, question.evidence),
        "sentences": len(sentences),
        "supported_sentences": sum(s.supported for s in sentences),
        "sentences_with_citations": sum(bool(s.citations) for s in sentences),
        "citations": len(cited),
        "irrelevant_citations": len(irrelevant),
        "removed_markers": record.removed_markers,
        "repointed": record.citations_repointed,
        "passed": (correct and not record.unsupported_sentences) if question.answerable
                  else record.abstained,
    }


# ---------------------------------------------------------------------------------------------
# the run


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
        metrics["followup_rewrite"] = _mean(r["rewrite_ok"] for r in conversation_rows)
        metrics["followup_correct"] = _mean(r["answer_ok"] for r in conversation_rows)
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


def aggregate(scores: list[dict], records: list[dict]) -> dict[str, float]:
    answerable = [s for s in scores if s["answerable"]]
    unanswerable = [s for s in scores if not s["answerable"]]
    answered = [s for s in scores if not s["abstained"]]
    sentences = sum(s["sentences"] for s in answered)
    cited_sentences = sum(s["sentences_with_citations"] for s in answered)
    citations = sum(s["citations"] for s in answered)
    markers = sum(s["citations"] + s["removed_markers"] for s in answered)
    first = [r["timings_ms"]["first_token"] for r in records]
    total = [r["timings_ms"]["total"] for r in records]
    return {
        "questions": len(scores),
        "evidence_recall": _mean(s["evidence_recall"] for s in answerable),
        "mrr": _mean(s["reciprocal_rank"] for s in answerable),
        "correctness": _mean(s["correct"] for s in answerable),
        "abstention": _mean(s["abstained"] for s in unanswerable),
        "false_abstention": _mean(s["abstained"] for s in answerable),
        "evidence_cited": _mean(s["cites_evidence"] for s in answerable
                                if s["correct"] and s["evidence_recall"] > 0),
        "citation_validity": (markers - sum(s["removed_markers"] for s in answered)) / markers if markers else 1.0,
        "citation_recall": (sum(s["supported_sentences"] for s in answered) / cited_sentences
                            if cited_sentences else 0.0),
        "citation_precision": ((citations - sum(s["irrelevant_citations"] for s in answered)) / citations
                               if citations else 0.0),
        "citations_repointed": (sum(s["repointed"] for s in answered) / cited_sentences
                                if cited_sentences else 0.0),
        "faithfulness": sum(s["supported_sentences"] for s in answered) / sentences if sentences else 0.0,
        "first_token_p50_ms": _percentile(first, 50),
        "first_token_p95_ms": _percentile(first, 95),
        "total_p50_ms": _percentile(total, 50),
        "total_p95_ms": _percentile(total, 95),
        "verify_p50_ms": _percentile([r["timings_ms"]["verify"] for r in records
                                      if "verify" in r["timings_ms"]], 50),
        "prompt_tokens_p50": _percentile([r["prompt_tokens"] for r in records
                                          if r.get("prompt_tokens")], 50),
        "second_readings": _mean(r["readings"] == 2 for r in records if r.get("prompt_tokens")),
    }


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


def check_thresholds(metrics: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """Human-readable failures; empty when every metric meets its threshold."""
    failures = []
    for key, limit in thresholds.items():
        if key.startswith("max:"):
            name = key[4:]
            if name in metrics and metrics[name] > limit:
                failures.append(f"{name} = {metrics[name]:.3f} is above its maximum {limit:.3f}")
        elif key in metrics and metrics[key] < limit:
            failures.append(f"{key} = {metrics[key]:.3f} is below its minimum {limit:.3f}")
        elif key not in metrics:
            failures.append(f"{key}: no such metric was measured")
    return failures


def _mean(values: Iterable[float | bool]) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0


def _percentile(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]
