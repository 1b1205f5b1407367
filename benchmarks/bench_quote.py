"""Quote-then-answer against the direct answer, in one run: the same questions asked of each
path on the seed dev split and RGB's dev split (tuned on), the seed test split and RGB's test
split (reported only).

The sides are the whole assistant (retrieval, answer, checks) over the same index, embedding
model and GGUF file; they differ only in how the model answers: `before` (the direct path as it
was before issue 25: no question declined for naming what no passage mentions), `direct`,
`retry` (direct, then
a second try by quoting when that answer is declined or rejected: `RAG_QUOTE_RETRY`) and
`quote` (`RAG_ANSWER_MODE=quote`). The order of the sides rotates per question. Scoring is the eval's own (`rag.evaluate.scoring`) on the eval's labels, never the
verifier's view, except "faithfulness" (cite support: answer sentences the verifier found on the
passages they cite); "answer_paths" counts how each side's answers came about.

Run: .venv/bin/python benchmarks/bench_quote.py [--splits dev,seeds-test,rgb-test]
     [--sides direct,retry,quote] [--questions N] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_passage_cache import ROOT, _metrics, _suite  # noqa: E402

from rag.answer.assistant import Assistant  # noqa: E402
from rag.evaluate.scoring import score_record  # noqa: E402
from rag.models.embedding import Embedder  # noqa: E402
from rag.models.factory import make_generator  # noqa: E402
from rag.store.reader import load_index  # noqa: E402

SHOWN = ["correctness", "abstention", "false_abstention", "faithfulness", "citation_recall",
         "evidence_cited", "first_token_p50_ms", "total_p50_ms"]
SIDES = {"before": {"answer_mode": "direct", "quote_retry": False},
         "direct": {"answer_mode": "direct", "quote_retry": False},
         "retry": {"answer_mode": "direct", "quote_retry": True},
         "quote": {"answer_mode": "quote"}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", default="dev,seeds-test,rgb-test")
    parser.add_argument("--sides", default="before,retry,quote")
    parser.add_argument("--questions", type=int, default=0, help="at most this many per split")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "quote.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-quote-"))
    embedder = Embedder("all-MiniLM-L6-v2")
    generator = None
    results: dict[str, dict] = {}
    for name in args.splits.split(","):
        settings, questions = _suite(name, work, embedder)
        questions = questions[:args.questions] if args.questions else questions
        generator = generator or make_generator(settings)
        index = load_index(settings.index)
        sides = {side: (_Before if side == "before" else Assistant)(
                     settings.model_copy(update=SIDES[side]), embedder=embedder,
                     generator=generator, index=index)
                 for side in args.sides.split(",")}
        results[name] = _compare(sides, questions)
        _print(name, results[name])
    args.out.write_text(json.dumps(results, indent=1))
    print(f"figures: {args.out}")


class _Before(Assistant):
    def _unmentioned(self, question, passages):
        return []


def _compare(sides: dict, questions: list) -> dict:
    records: dict[str, list] = {name: [] for name in sides}
    names = list(sides)
    for i, question in enumerate(questions):
        for side in names[i % 2:] + names[:i % 2]:
            sides[side].generator.forget_kv()  # neither side resumes from the other's cache
            records[side].append(sides[side].ask(question.question))
        print(f"  {i + 1}/{len(questions)}", end="\r", file=sys.stderr, flush=True)
    result = {side: _metrics(questions, recs) for side, recs in records.items()}
    result["records"] = {side: [{"id": q.id, "question": q.question, "expected": q.answer,
                                 **score_record(q, r), "answer": r.answer, "draft": r.draft_answer,
                                 "path": r.answer_path, "reason": r.abstain_reason,
                                 "rejected": r.rejected_draft, "first_try": r.first_try,
                                 "passages": [{"n": p.n, "title": p.title, "text": p.text}
                                              for p in r.passages]}
                                for q, r in zip(questions, recs)]
                         for side, recs in records.items()}
    for side, recs in records.items():
        result[side]["answer_paths"] = dict(Counter(str(r.answer_path) for r in recs))
        if side != names[0]:
            result[side]["same_answer"] = sum(a.answer == b.answer for a, b in
                                              zip(records[names[0]], recs)) / len(questions)
    return result


def _print(name: str, result: dict) -> None:
    print(f"\n{name}")
    sides = [s for s in result if s != "records"]
    print(f"{'':24}" + "".join(f"{s:>12}" for s in sides))
    for metric in SHOWN:
        values = [result[s].get(metric) for s in sides]
        print(f"{metric:24}" + "".join(f"{v:12.3f}" if v is not None else f"{'':12}"
                                       for v in values))
    for side in sides:
        print(f"{side} side's answer paths: {result[side]['answer_paths']}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
