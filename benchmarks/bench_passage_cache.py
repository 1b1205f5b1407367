"""The passage KV cache against full prefill, in one run: answer quality and speed on the seed
test split, RGB's test split and the seed dev split, the same questions asked of every side.

Every side is the whole assistant (retrieval, answer, checks) over the same index, embedding
model and GGUF file; "full" reads every prompt whole (`RAG_PASSAGE_CACHE=0`), the others splice
passages from saved KV states in a mode of `RAG_PASSAGE_CACHE_MODE` (chained, parallel), and
"batch128" reads every prompt whole in batches of 128 tokens instead of 512: what rounding alone
changes, the noise floor for the other sides' differences from "full". A
cached side starts with an empty cache (cold: a passage is read the first time a question needs
it) and, after the seed test split, asks its questions again (warm). The order of the sides
rotates per question. Scoring is the eval's own (`rag.evaluate.scoring`), on the eval's labels.

Run: .venv/bin/python benchmarks/bench_passage_cache.py [--splits seeds-test,rgb-test,dev]
     [--modes chained,parallel,batch128] [--questions N] [--top-k K] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
    parser.add_argument("--modes", default="chained,parallel", help="cached sides beside full")
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
        modes = args.modes.split(",")
        sides = _sides(settings, embedder, args.top_k, modes)
        results[name] = _compare(sides, questions, args.top_k)
        _print(name, results[name])
        if name != "seeds-test":
            continue
        results["seeds-test warm"] = {
            mode: _metrics(questions, [sides[mode].ask(q.question, top_k=args.top_k)
                                       for q in questions])
            for mode in modes if mode != "batch128"}
        _print("seeds-test, cache warm (asked again)", results["seeds-test warm"])
        chunks = load_index(settings.index).chunk_count
        for mode in results["seeds-test warm"]:
            entries, size = disk_usage(sides[mode].settings.index)
            results[f"disk {mode}"] = {"entries": entries, "bytes": size, "chunks": chunks}
            print(f"{mode} cache on disk after the seed test questions: {entries} states, "
                  f"{size / 2**20:.0f} MiB for {chunks} chunks")
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


def _sides(settings: Settings, embedder: Embedder, top_k: int, modes: list[str]) -> dict:
    """One assistant per side over this index, each with its own model; a cached side's cache
    starts empty, in a folder of its own beside the index."""
    index = load_index(settings.index)
    sides = {}
    for side in ["full", *modes]:
        cached = side in ("chained", "parallel")
        update = {"passage_cache": cached, "top_k": top_k,
                  "index": settings.index.with_name(f"kv-{side}")}
        if cached:
            update["passage_cache_mode"] = side
        side_settings = settings.model_copy(update=update)
        shutil.rmtree(side_settings.index, ignore_errors=True)
        generator = make_generator(side_settings)
        if side == "batch128":
            generator.llama.n_batch = 128  # llama-cpp-python splits prompts by this
        sides[side] = Assistant(side_settings, embedder=embedder, generator=generator,
                                index=index)
    return sides


def _compare(sides: dict, questions: list, top_k: int) -> dict:
    names = list(sides)
    records: dict[str, list] = {name: [] for name in names}
    for i, question in enumerate(questions):
        for side in names[i % len(names):] + names[:i % len(names)]:
            records[side].append(sides[side].ask(question.question, top_k=top_k))
        print(f"  {i + 1}/{len(questions)}", end="\r", file=sys.stderr, flush=True)
    result = {side: _metrics(questions, recs) for side, recs in records.items()}
    for side in names[1:]:
        same = sum(a.answer == b.answer for a, b in zip(records["full"], records[side]))
        result[side]["same_answer"] = same / len(questions)
        cold = [r.timings_ms["first_token"] for r in records[side]
                if r.passage_cache and r.passage_cache["computed"]]
        result[side]["first_token_p50_ms_when_reading"] = (statistics.median(cold) if cold
                                                           else None)
    return result


def _metrics(questions: list, records: list) -> dict:
    scores = [score_record(q, r) for q, r in zip(questions, records)]
    return aggregate(scores, [r.to_dict() for r in records])


def _print(name: str, result: dict) -> None:
    print(f"\n{name}")
    sides = list(result)
    print(f"{'':24}" + "".join(f"{s:>12}" for s in sides))
    for metric in SHOWN + ["same_answer"]:
        values = [result[s].get(metric) for s in sides]
        print(f"{metric:24}" + "".join(f"{v:12.3f}" if v is not None else f"{'':12}"
                                       for v in values))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
