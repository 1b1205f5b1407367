"""Speed of the pipeline, measured in one run, printed as figures and ratios.

- ingest throughput: the seed articles copied 8 times under new names, ingested into a fresh index;
- retrieval latency: query embedding + dense + BM25 + fusion, over the eval questions, 3 rounds;
- answering: time to first token and generation tokens/s through `Assistant.stream`, and the same
  prompt sent straight to `llama_cpp` (same messages, same settings), alternating the two, with the
  model's cache cleared before every run so both do the same work. Medians throughout.

Targets: retrieval p50 under 30 ms on the seed index; the pipeline adds under 5% to raw llama.cpp
besides the checks of the answer after generation, which llama.cpp alone does not do.

Run: .venv/bin/python benchmarks/bench_pipeline.py [--answers N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer.assistant import Assistant  # noqa: E402
from rag.answer.events import Final, Token  # noqa: E402
from rag.answer.retrieval import Retriever  # noqa: E402
from rag.ingest.indexer import ingest  # noqa: E402
from rag.models.embedding import Embedder  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store.reader import load_index  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def bench_ingest(embedder: Embedder, work: Path) -> None:
    corpus = work / "corpus"
    corpus.mkdir()
    for copy in range(8):
        for seed in sorted((ROOT / "seeds").iterdir()):
            text = seed.read_text(encoding="utf-8")
            (corpus / f"{seed.stem}_copy{copy}.txt").write_text(text + f"\nCopy {copy}.", encoding="utf-8")
    settings = Settings(index=work / "ingest-index")
    started = time.perf_counter()
    report = ingest([corpus], settings, embedder)
    elapsed = time.perf_counter() - started
    print(f"ingest: {report.articles} articles, {report.chunks} chunks in {elapsed:.1f} s "
          f"= {report.chunks / elapsed:.0f} chunks/s overall, "
          f"{report.chunks_embedded / report.embed_seconds:.0f} chunks/s embedding")


def bench_retrieval(embedder: Embedder, settings: Settings, questions: list[str]) -> None:
    retriever = Retriever(load_index(settings.index), embedder)
    retriever.retrieve("warm up", settings.top_k)
    times = []
    for _ in range(3):
        for question in questions:
            started = time.perf_counter()
            retriever.retrieve(question, settings.top_k)
            times.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentile(times, 50), percentile(times, 95)
    print(f"retrieval: {len(times)} queries, p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"(target p50 < 30 ms: {'met' if p50 < 30 else 'MISSED'})")


def bench_answers(assistant: Assistant, questions: list[str]) -> None:
    generator = assistant.generator
    llama = generator.llama
    runs: dict[str, list[tuple[float, float, int, float]]] = {"pipeline": [], "raw": []}
    for i, question in enumerate(questions):
        retriever = Retriever(assistant.index, assistant.embedder)
        passages = retriever.retrieve(question, assistant.settings.top_k)
        prompt = assistant.prompt_for(question, passages)
        sides = [("pipeline", _through_pipeline, (assistant, question)),
                 ("raw", _through_llama, (llama, prompt.messages, assistant.settings))]
        if i % 2:
            sides.reverse()  # alternate the order so neither side always runs on a warm machine
        for name, run, run_args in sides:
            llama.reset()
            runs[name].append(run(*run_args))
    (total, first, checks), (raw_total, raw_first, _) = (
        [statistics.median(r[k] for r in runs[name]) for k in (0, 1, 3)] for name in ("pipeline", "raw"))
    rate = statistics.median(tokens / max(t - f - c, 1e-6) for t, f, tokens, c in runs["pipeline"])
    print(f"answers: {len(questions)} questions; generation {rate:.1f} tokens/s")
    print(f"time to first token p50: pipeline {first:.2f} s vs llama.cpp alone on the same prompt "
          f"{raw_first:.2f} s: ratio {first / raw_first:.3f}")
    print(f"total p50: pipeline {total:.2f} s, of which checks after generation {checks:.2f} s, vs "
          f"llama.cpp alone {raw_total:.2f} s: ratio {total / raw_total:.3f}, "
          f"{(total - checks) / raw_total:.3f} without the checks "
          f"(target < 1.05: {'met' if (total - checks) / raw_total < 1.05 else 'MISSED'})")


def _through_pipeline(assistant: Assistant, question: str) -> tuple[float, float, int, float]:
    started = time.perf_counter()
    first = None
    for event in assistant.stream(question):
        if isinstance(event, Token) and first is None:
            first = time.perf_counter() - started
        if isinstance(event, Final):
            record = event.record
    total = time.perf_counter() - started
    checks = record.timings_ms.get("verify", 0.0) / 1000
    return total, first or total, assistant.generator.count_tokens(record.draft_answer), checks


def _through_llama(llama, messages, settings: Settings) -> tuple[float, float, int, float]:
    started = time.perf_counter()
    first = None
    pieces = 0
    for event in llama.create_chat_completion(messages=messages, max_tokens=settings.max_answer_tokens,
                                              temperature=settings.temperature, stream=True):
        if event["choices"][0]["delta"].get("content"):
            pieces += 1
            if first is None:
                first = time.perf_counter() - started
    total = time.perf_counter() - started
    return total, first or total, pieces, 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=6, help="questions answered both ways")
    args = parser.parse_args()
    questions = [json.loads(line)["question"]
                 for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if line.strip()]
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        embedder = Embedder("all-MiniLM-L6-v2")
        bench_ingest(embedder, work)
        settings = Settings(index=work / "seed-index")
        ingest([ROOT / "seeds"], settings, embedder)
        bench_retrieval(embedder, settings, questions)
        assistant = Assistant(settings, embedder=embedder)
        bench_answers(assistant, questions[:args.answers])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
