"""The assistant beside a LangChain tutorial pipeline, in one run, on the same questions, GGUF model,
embedding model, llama.cpp build and machine.

The LangChain side is what its RAG tutorial builds: the seed articles loaded as text, split by
RecursiveCharacterTextSplitter (1000 characters, 200 overlap), embedded with HuggingFaceEmbeddings
into a FAISS store, the top 4 chunks pasted into a one-message prompt, answered by ChatLlamaCpp
with llama.cpp's own batch size (512, as the assistant uses; LangChain's default of 8 would read
prompts at half the speed and flatter the comparison).
The assistant runs its whole path (hybrid retrieval, cited answer, verification) three ways:
reading every prompt whole (`RAG_PASSAGE_CACHE=0`, "full prefill"), with the passage KV cache
cold (emptied before every question, so each passage is read and stored then) and warm (filled
ahead by `rag ingest --warm`'s own code), in the mode `RAG_PASSAGE_CACHE_MODE` names (chained:
warmed as first passages only, so a new question finds its first passage at most). All keep their models loaded and their own llama.cpp
prompt caches, as a server would; the order of the sides alternates per question. Medians and
95th percentiles, their ratios, and the issue's targets met or missed. The pipeline's overhead
over calling llama.cpp alone on the same prompt is `bench_pipeline.py`'s last line.

Needs the `bench` extra: .venv/bin/pip install -e '.[bench]'   (`make bench` does it)
Run: [RAG_PASSAGE_CACHE_MODE=parallel] .venv/bin/python benchmarks/bench_vs_langchain.py
     [--questions N] [--split test]
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the embedding model is a local folder

from rag.answer.assistant import Assistant  # noqa: E402
from rag.answer.events import Final  # noqa: E402
from rag.answer.warming import warm_passages  # noqa: E402
from rag.ingest.indexer import ingest  # noqa: E402
from rag.models.embedding import Embedder, resolve_model_path  # noqa: E402
from rag.models.factory import make_generator  # noqa: E402
from rag.models.gguf import default_model_path  # noqa: E402
from rag.settings import Settings  # noqa: E402

# The tutorial's prompt in substance: answer from the context, say so when it does not know, be brief.
TUTORIAL_PROMPT = ("Answer the question using only the retrieved context below. If the context "
                   "does not give the answer, say that you don't know. Keep the answer to three "
                   "sentences at most.\n\nQuestion: {question}\n\nContext:\n{context}\n\nAnswer:")


@dataclass
class Run:
    first_token: float  # seconds
    total: float
    prompt_tokens: int
    answer_tokens: int
    generating: float  # seconds from the first token to the last
    verify: float = 0.0  # seconds of checks after generation (the assistant only)
    readings: int = 1  # 2 when the assistant's best passages gave no answer


class LangChainTutorial:
    def __init__(self, settings: Settings, threads: int) -> None:
        from langchain_community.chat_models import ChatLlamaCpp
        from langchain_community.document_loaders import DirectoryLoader, TextLoader
        from langchain_community.embeddings import HuggingFaceEmbeddings
        from langchain_community.vectorstores import FAISS
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        documents = DirectoryLoader(str(ROOT / "seeds"), glob="*.txt", loader_cls=TextLoader).load()
        chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(documents)
        embeddings = HuggingFaceEmbeddings(model_name=str(resolve_model_path(settings.embedding_model)))
        self.retriever = FAISS.from_documents(chunks, embeddings).as_retriever(search_kwargs={"k": 4})
        self.prompt = ChatPromptTemplate.from_template(TUTORIAL_PROMPT)
        self.llm = ChatLlamaCpp(model_path=str(default_model_path(settings.cache_dir)),
                                n_ctx=settings.n_ctx, n_threads=threads, temperature=0.0,
                                max_tokens=settings.max_answer_tokens, seed=settings.seed,
                                n_batch=512, verbose=False)
        self.count = self.llm.client.tokenize

    def answer(self, question: str, count_prompt) -> Run:
        started = time.perf_counter()
        documents = self.retriever.invoke(question)
        context = "\n\n".join(d.page_content for d in documents)
        messages = self.prompt.invoke({"question": question, "context": context})
        first, pieces = None, []
        for chunk in self.llm.stream(messages):
            if chunk.content:
                first = first or time.perf_counter() - started
                pieces.append(chunk.content)
        total = time.perf_counter() - started
        prompt = [{"role": "user", "content": messages.to_messages()[0].content}]
        answer_tokens = len(self.count("".join(pieces).encode("utf-8"), add_bos=False))
        return Run(first or total, total, count_prompt(prompt), answer_tokens, total - (first or total))


def through_assistant(assistant: Assistant, question: str) -> Run:
    started = time.perf_counter()
    record = None
    for event in assistant.stream(question):
        if isinstance(event, Final):
            record = event.record
    total = time.perf_counter() - started
    timings = record.timings_ms
    first, verify = timings["first_token"] / 1000, timings.get("verify", 0.0) / 1000
    answer_tokens = assistant.generator.count_tokens(record.draft_answer)
    return Run(first, total, record.prompt_tokens, answer_tokens, max(total - first - verify, 0.0),
               verify, record.readings)


def through_cold(assistant: Assistant, question: str) -> Run:
    """The cache emptied first (and no disk tier), so every passage is read and stored now."""
    assistant.generator.passage_cache.forget_memory()
    assistant.generator.forget_kv()
    return through_assistant(assistant, question)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(runs: dict[str, list[Run]]) -> None:
    rows = {}
    for name, done in runs.items():
        rows[name] = {
            "TTFT p50 s": statistics.median(r.first_token for r in done),
            "TTFT p95 s": percentile([r.first_token for r in done], 95),
            "total p50 s": statistics.median(r.total for r in done),
            "total p95 s": percentile([r.total for r in done], 95),
            "prompt tokens p50": statistics.median(r.prompt_tokens for r in done),
            "answer tokens p50": statistics.median(r.answer_tokens for r in done),
            "generation tok/s p50": statistics.median(r.answer_tokens / r.generating
                                                      for r in done if r.generating > 0),
            "checks p50 s": statistics.median(r.verify for r in done),
            "read twice": sum(r.readings == 2 for r in done) / len(done),
        }
    names = list(rows)  # full prefill, LangChain, then the cached sides
    print(f"{'':22s}" + "".join(f"{n:>16s}" for n in names)
          + "".join(f"{'vs ' + n:>18s}" for n in names[1:]))
    for metric in rows[names[0]]:
        values = [rows[n][metric] for n in names]
        ratios = "".join(f"{values[0] / v:17.2f}x" if v else f"{'-':>18s}" for v in values[1:])
        print(f"{metric:22s}" + "".join(f"{v:16.2f}" for v in values) + ratios)
    full, langchain, cold, warm = (rows[n] for n in names)
    checks = [("warm first token p50 <= 1.0 s", warm["TTFT p50 s"], 1.0),
              ("warm total p50 <= 0.4x LangChain's", warm["total p50 s"] / langchain["total p50 s"], 0.4),
              ("cold first token p50 <= 1.05x full prefill's", cold["TTFT p50 s"] / full["TTFT p50 s"], 1.05),
              ("cold total p50 <= 1.05x full prefill's", cold["total p50 s"] / full["total p50 s"], 1.05)]
    for label, value, bound in checks:
        print(f"target {label}: {'met' if value <= bound else 'MISSED'} ({value:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20, help="questions answered both ways")
    parser.add_argument("--split", default="test", help="split of eval/questions.jsonl to ask")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines()
            if line.strip()]
    questions = [r["question"] for r in rows if r.get("split") == args.split][:args.questions]
    work = Path(tempfile.mkdtemp(prefix="rag-bench-langchain-"))
    try:
        settings = Settings(index=work / "index")
        embedder = Embedder(settings.embedding_model, settings.embed_batch_size)
        ingest([ROOT / "seeds"], settings, embedder)
        full = settings.model_copy(update={"passage_cache": False})
        assistant = Assistant(full, embedder=embedder, generator=make_generator(full))
        cached = settings.model_copy(update={"passage_cache": True})
        cold_settings = cached.model_copy(update={"passage_cache_disk_mb": 0})
        cold = Assistant(cold_settings, embedder=embedder, generator=make_generator(cold_settings))
        warm = Assistant(cached, embedder=embedder, generator=make_generator(cached))
        started = time.perf_counter()
        filled = warm_passages(warm.generator, warm.index, cached)
        print(f"warmed {filled.blocks} passages in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
        tutorial = LangChainTutorial(settings, settings.n_threads or os.cpu_count() or 1)
        count_prompt = assistant.generator.prompt_tokens
        for side in (assistant, cold, warm):  # all sides load lazily; none is timed loading
            through_assistant(side, "warm up")
        tutorial.answer("warm up", count_prompt)
        runs: dict[str, list[Run]] = {"full prefill": [], "langchain": [], "cache cold": [],
                                      "cache warm": []}
        for i, question in enumerate(questions):
            sides = [("full prefill", lambda q=question: through_assistant(assistant, q)),
                     ("langchain", lambda q=question: tutorial.answer(q, count_prompt)),
                     ("cache cold", lambda q=question: through_cold(cold, q)),
                     ("cache warm", lambda q=question: through_assistant(warm, q))]
            for name, run in (sides if i % 2 == 0 else sides[::-1]):
                runs[name].append(run())
            print(f"{i + 1}/{len(questions)}", file=sys.stderr, end="\r")
        print(f"{len(questions)} questions ({args.split} split of eval/questions.jsonl), "
              f"{settings.n_threads or os.cpu_count()} threads, passage cache "
              f"{cached.passage_cache_mode} (RAG_PASSAGE_CACHE_MODE), one run")
        report(runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
