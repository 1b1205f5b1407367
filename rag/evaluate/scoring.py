"""Each answer scored against its labels, and the metrics over a run (defined again in the report).

- retrieval: evidence recall@k (share of a question's evidence quotes lying inside a passage shown
  to the model), MRR (1 / rank of the first passage holding any quote);
- correctness: answerable, not abstained, and every `must_include` entry in the answer;
- abstention: share of unanswerable questions declined; false abstention on answerable ones;
- citations: validity (markers that point at shown passages), ALCE citation recall and precision,
  faithfulness (supported sentences / all answer sentences), and whether a correct answer cites a
  passage holding its evidence (scored on the labels, not by the verifier);
- latency: p50 / p95 of time to first token and of the whole answer.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable

from rag.evaluate.data import Question
from rag.types import AnswerRecord


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
        "evidence_recall": mean(s["evidence_recall"] for s in answerable),
        "mrr": mean(s["reciprocal_rank"] for s in answerable),
        "correctness": mean(s["correct"] for s in answerable),
        "abstention": mean(s["abstained"] for s in unanswerable),
        "false_abstention": mean(s["abstained"] for s in answerable),
        "evidence_cited": mean(s["cites_evidence"] for s in answerable
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
        "second_readings": mean(r["readings"] == 2 for r in records if r.get("prompt_tokens")),
    }


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


def mean(values: Iterable[float | bool]) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0


def _percentile(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]
