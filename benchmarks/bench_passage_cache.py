"""The passage KV cache against full prefill, in one run: answer quality and speed on the seed
test split, RGB's test split and the seed dev split, the same questions asked of both sides.

Both sides are the whole assistant (retrieval, answer, checks) over the same index, embedding
model and GGUF file; one reads every prompt whole (`RAG_PASSAGE_CACHE=0`), the other splices its
passages from saved KV states. The cached side starts with an empty cache (cold: a passage is
read the first time a question needs it) and, after all splits, asks the seed test questions
again (warm). The side that goes first alternates per question. Scoring is the eval's own
(`rag.evaluate.scoring`), on the eval's labels.

Run: .venv/bin/python benchmarks/bench_passage_cache.py [--splits seeds-test,rgb-test,dev]
     [--questions N] [--top-k K] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.answer.assistant import Assistant  # noqa: E402
from rag.evaluate.data import load_questions  # noqa: E402
from rag.evaluate.rgb import build_rgb_suite  # noqa: E402
from rag.evaluate.scoring import aggregate, score_record  # noqa: E402
from rag.ingest.indexer import ingest  # noqa: E402
from rag.models.embedding import Embedder  # noqa: E402
from rag.models.factory import make_generator  # noqa: E402
from rag.models.kv_store import disk_usage  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store.reader import load_index  # noqa: E402

RGB = ROOT.parent / "shared" / "external" / "rgb" / "en_fact.json"
SHOWN = ["correctness", "abstention", "false_abstention", "citation_recall", "evidence_cited",
         "first_token_p50_ms", "first_token_p95_ms", "total_p50_ms"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", default="seeds-test,rgb-test,dev")
    parser.add_argument("--questions", type=int, default=0, help="at most this many per split")
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "passage_cache.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-kv-"))
    embedder = Embedder("all-MiniLM-L6-v2")
    results: dict[str, dict] = {}
    for name in args.splits.split(","):
        settings, questions = _suite(name, work, embedder)
        questions = questions[:args.questions] if args.questions else questions
        sides = _sides(settings, embedder, args.top_k)
        results[name] = _compare(sides, questions, args.top_k)
        _print(name, results[name])
        if name != "seeds-test":
            continue
        warm = [sides["cache"].ask(q.question, top_k=args.top_k) for q in questions]
        results["seeds-test warm"] = {"cache": _metrics(questions, warm)}
        _print("seeds-test, cache warm (asked again)", results["seeds-test warm"])
        entries, size = disk_usage(settings.index)
        chunks = load_index(settings.index).chunk_count
        results["disk"] = {"entries": entries, "bytes": size, "chunks": chunks}
        print(f"\ncache on disk for the seed corpus: {entries} states, {size / 2**20:.0f} MiB "
              f"for {chunks} chunks ({size / 2**30 / chunks * 1000:.1f} GiB per 1,000 chunks "
              f"at top_k {args.top_k})")
    args.out.write_text(json.dumps(results, indent=1))
    print(f"figures: {args.out}")


def _suite(name: str, work: Path, embedder: Embedder) -> tuple[Settings, list]:
    if name.startswith("rgb"):
        suite = build_rgb_suite(RGB, work / "rgb")
        settings = Settings(index=work / "rgb" / "index")
        ingest([suite.corpus], settings, embedder, rebuild=True)
        return settings, load_questions(suite.questions, name.split("-")[1])
    settings = Settings(index=work / "seeds" / "index")
    if not settings.index.exists():
        ingest([settings.seeds], settings, embedder)
    split = name.split("-")[1] if "-" in name else name
    return settings, load_questions(ROOT / "eval" / "questions.jsonl", split)


def _sides(settings: Settings, embedder: Embedder, top_k: int) -> dict:
    """One assistant per side over this index, each with its own model; the cached side's
    cache starts empty, in this index's folder."""
    index = load_index(settings.index)
    sides = {}
    for side, cached in (("full", False), ("cache", True)):
        side_settings = settings.model_copy(update={"passage_cache": cached, "top_k": top_k})
        sides[side] = Assistant(side_settings, embedder=embedder,
                                generator=make_generator(side_settings), index=index)
    return sides


def _compare(sides: dict, questions: list, top_k: int) -> dict:
    records: dict[str, list] = {"full": [], "cache": []}
    for i, question in enumerate(questions):
        order = ("full", "cache") if i % 2 == 0 else ("cache", "full")
        for side in order:
            records[side].append(sides[side].ask(question.question, top_k=top_k))
        print(f"  {i + 1}/{len(questions)}", end="\r", file=sys.stderr, flush=True)
    same = sum(a.answer == b.answer for a, b in zip(records["full"], records["cache"]))
    result = {side: _metrics(questions, recs) for side, recs in records.items()}
    result["same_answer"] = same / len(questions)
    cold = [r.timings_ms["first_token"] for r in records["cache"]
            if r.passage_cache and r.passage_cache["computed"]]
    result["cache"]["first_token_p50_ms_when_reading"] = statistics.median(cold) if cold else None
    return result


def _metrics(questions: list, records: list) -> dict:
    scores = [score_record(q, r) for q, r in zip(questions, records)]
    return aggregate(scores, [r.to_dict() for r in records])


def _print(name: str, result: dict) -> None:
    print(f"\n{name}")
    sides = [s for s in ("full", "cache") if s in result]
    print(f"{'':24}" + "".join(f"{s:>12}" for s in sides))
    for metric in SHOWN:
        print(f"{metric:24}" + "".join(f"{result[s][metric]:12.3f}" for s in sides))
    if "same_answer" in result:
        print(f"{'same answer':24}{result['same_answer']:12.3f}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
