"""The store at 10k, 100k and 1M chunks: ingest rate, adding and removing one article, hybrid
retrieval with and without a date filter, recall of vector search against exact search, memory
and disk.

The corpus is grown from real article text: the seed articles and RGB's news snippets, split into
sentences, each sentence embedded once by the bundled MiniLM model (cached under
~/.cache/rag/bench/). A synthetic article has a random date between 2019 and 2025 and 10 chunks of
three or four random sentences, their numbers redrawn; a chunk's vector is the normalised mean of
its sentences' vectors plus a little noise. So the benchmark measures the store, not the embedding
model, on text whose words and vectors have the skew of real news (many near-duplicates, common
words in most chunks). Questions are RGB's queries and the seed eval questions, embedded by the
real model once; their embedding time is printed apart.

Each size is measured in a fresh process that only opens the index and searches it, so its
resident memory is the index's (Python, numpy and FAISS included, no models). Retrieval is the
assistant's whole retrieval step (dense and BM25 search, fusion, chunk reads, neighbour merging)
given the question's vector.

Run: .venv/bin/python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--queries 100]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from rag.answer.retrieval import Retriever  # noqa: E402
from rag.errors import IndexMissing  # noqa: E402
from rag.evaluate.rgb import load_rgb  # noqa: E402
from rag.ingest.sources import load_articles  # noqa: E402
from rag.settings import AnnSettings, Settings  # noqa: E402
from rag.store.layout import current_generation  # noqa: E402
from rag.store.reader import load_index  # noqa: E402
from rag.store.files import write_lock  # noqa: E402
from rag.store.writer import Writer  # noqa: E402
from rag.text import split_sentences  # noqa: E402
from rag.types import Article, Chunk, IndexSettings, NewArticle  # noqa: E402

RGB = ROOT.parent / "shared" / "external" / "rgb" / "en_fact.json"
CHUNKS_PER_ARTICLE = 10
FIRST_DAY, DAYS = date(2019, 1, 1), 7 * 365
FILTER_DAYS = 90  # the date filter's window: about 3.5% of the corpus
BATCH_CHUNKS = 50_000  # chunks written per transaction while the corpus grows
NPROBES = (16, 32, 64, 128)


# ---------------------------------------------------------------------------------------------
# material


def sentences() -> list[str]:
    texts = [a.text for a in load_articles([ROOT / "seeds"])[0]]
    if RGB.is_file():
        for row in load_rgb(RGB):
            texts += [s for key in ("positive", "negative") for s in row.get(key, []) if isinstance(s, str)]
    seen, out = set(), []
    for text in texts:
        for sentence in split_sentences(text):
            sentence = " ".join(sentence.split())
            if 40 <= len(sentence) <= 300 and sentence not in seen:
                seen.add(sentence)
                out.append(sentence)
    return out


def questions() -> list[str]:
    asked = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").open()
             if line.strip()]
    if RGB.is_file():
        asked += [row["query"] for row in load_rgb(RGB)]
    return asked


def embedded(texts: list[str], what: str) -> np.ndarray:
    """The bundled model's vectors for `texts`, computed once and kept in the user cache."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = Path(Settings().cache_dir) / "bench" / f"{what}-{key}.npy"
    if cache.is_file():
        return np.load(cache)
    from rag.models.embedding import Embedder

    print(f"embedding {len(texts)} {what} once (cached in {cache.parent}) …", file=sys.stderr)
    vectors = Embedder(Settings().embedding_model).embed(texts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


class Articles:
    """Synthetic articles from the real sentences, reproducible from a seed."""

    def __init__(self, sentences: list[str], vectors: np.ndarray | None, seed: int = 0) -> None:
        """Without `vectors`, chunks get no meaningful vector (for text-only benchmarks)."""
        self.sentences = sentences
        self.vectors = vectors
        self.rng = random.Random(seed)
        self.noise = np.random.default_rng(seed)
        self.count = 0

    def next(self) -> NewArticle:
        self.count += 1
        doc_id = f"synthetic-{self.count:07d}"
        day = (FIRST_DAY + timedelta(days=self.rng.randrange(DAYS))).isoformat()
        picks = [self.rng.sample(range(len(self.sentences)), self.rng.choice((3, 4)))
                 for _ in range(CHUNKS_PER_ARTICLE)]
        texts = [" ".join(self._vary(self.sentences[i]) for i in pick) for pick in picks]
        text, chunks, start = "", [], 0
        for ordinal, body in enumerate(texts):
            text += body + "\n\n"
            chunks.append(Chunk(f"{doc_id}#{ordinal}", doc_id, "", day, start, start + len(body), body))
            start = len(text)
        title = self.sentences[picks[0][0]][:60]
        chunks = [Chunk(c.chunk_id, c.doc_id, title, c.date, c.start, c.end, c.text) for c in chunks]
        article = Article(doc_id, title, day, f"synthetic/{doc_id}.txt", text.strip())
        if self.vectors is None:
            return NewArticle(article, chunks, np.zeros((len(chunks), 1), dtype=np.float32))
        mean = np.stack([self.vectors[pick].mean(axis=0) for pick in picks])
        mean += self.noise.normal(0, 0.01, mean.shape).astype(np.float32)
        mean /= np.linalg.norm(mean, axis=1, keepdims=True)
        return NewArticle(article, chunks, mean.astype(np.float32))

    def _vary(self, sentence: str) -> str:
        return re.sub(r"\d+", lambda m: str(self.rng.randrange(1, 10 ** len(m.group(0)))), sentence)


# ---------------------------------------------------------------------------------------------
# the growing store


def grow(root: Path, articles: Articles, target_chunks: int, ann: AnnSettings,
         settings: IndexSettings) -> tuple[float, int]:
    """Write articles until the index holds `target_chunks`; (seconds, chunks written)."""
    started, written = time.perf_counter(), 0
    with write_lock(root):
        try:
            writer = Writer.open(root, ann)
        except IndexMissing:
            writer = Writer.create(root, settings, ann)
        try:
            have = writer.counts()[1]
            while have < target_chunks:
                batch = [articles.next() for _ in range(min(BATCH_CHUNKS, target_chunks - have)
                                                        // CHUNKS_PER_ARTICLE)]
                writer.apply(add=batch, remove=[])
                have += len(batch) * CHUNKS_PER_ARTICLE
                written += len(batch) * CHUNKS_PER_ARTICLE
                print(f"  {have} chunks", file=sys.stderr, end="\r")
            if writer.new:
                writer.publish()
        finally:
            writer.close()
    return time.perf_counter() - started, written


def one_write(root: Path, ann: AnnSettings, add: list[NewArticle], remove: list[str]) -> float:
    """What `rag ingest`/`rag remove` do to the store for one article, timed whole: take the
    lock, open, write (folding if due), close."""
    started = time.perf_counter()
    with write_lock(root):
        writer = Writer.open(root, ann)
        try:
            writer.apply(add=add, remove=remove)
        finally:
            writer.close()
    return time.perf_counter() - started


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------
# the probe: a fresh process that opens the index and searches it


class QueryVectors:
    """Stands in for the embedding model inside the probe: the questions' real vectors, computed
    beforehand, so retrieval is timed without the model (its time is printed apart)."""

    def __init__(self, texts: list[str], vectors: np.ndarray) -> None:
        self.by_text = dict(zip(texts, vectors))

    def embed_query(self, text: str) -> np.ndarray:
        return self.by_text[text]


def probe(root: Path, ann: AnnSettings, texts: list[str], vectors: np.ndarray, windows) -> dict:
    before = peak_rss_mb()
    started = time.perf_counter()
    index = load_index(root, ann)
    opened = time.perf_counter() - started
    started = time.perf_counter()
    index = load_index(root, ann, previous=index)  # as the server does after an upload
    reopened = time.perf_counter() - started
    retriever = Retriever(index, QueryVectors(texts, vectors))
    out = {"open_s": opened, "reopen_s": reopened, "approximate": index.dense.approximate,
           "base_rss_mb": before}
    for name, window in (("plain", None), ("filtered", "window")):
        times, dense_ids = [], []
        for text, vector, (since, until) in zip(texts, vectors, windows):
            filters = {"since": since, "until": until} if window else {}
            started = time.perf_counter()
            retriever.retrieve(text, 4, **filters)
            times.append((time.perf_counter() - started) * 1000)
            selection = index.select(**filters) if window else None
            dense_ids.append([i for i, _ in index.search_dense(vector, 10, selection)])
        out[name] = {"ms": times, "dense_top10": dense_ids}
    out["rss_mb"] = peak_rss_mb()
    if index.dense.approximate:  # what the IVF lists searched buy and cost
        for nprobe in NPROBES:
            index.dense.nprobe = nprobe
            times, dense_ids = [], []
            for vector in vectors:
                started = time.perf_counter()
                dense_ids.append([i for i, _ in index.search_dense(vector, 10)])
                times.append((time.perf_counter() - started) * 1000)
            out[f"nprobe {nprobe}"] = {"ms": times, "dense_top10": dense_ids}
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike getrusage's maximum, not inherited
    from the process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def exact_recall(root: Path, vectors: np.ndarray, windows, found: dict) -> dict[str, float]:
    """Recall@10 of the store's vector search against a brute-force scan of every live vector."""
    index = load_index(root)
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(index.settings.dimensions))
    flat.add_with_ids(*reversed(index.all_vectors()))
    recall = {}
    for name in [n for n in found if isinstance(found[n], dict)]:
        hits = total = 0
        for vector, (since, until), got in zip(vectors, windows, found[name]["dense_top10"]):
            params = faiss.SearchParameters()
            selection = index.select(since=since, until=until) if name == "filtered" else None
            if selection is not None:
                params.sel = selection.selector
            _, truth = flat.search(vector.reshape(1, -1), 10, params=params)
            truth = {int(i) for i in truth[0] if i >= 0}
            hits += len(truth & set(got))
            total += len(truth)
        recall[name] = hits / max(total, 1)
    return recall


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="chunk counts, ascending")
    parser.add_argument("--queries", type=int, default=100, help="questions asked at each size")
    parser.add_argument("--work", type=Path, help="folder for the index (default: a temporary one)")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)  # internal: the probe process
    args = parser.parse_args()
    settings = Settings()
    ann = settings.ann

    asked = questions()
    random.Random(1).shuffle(asked)
    asked = asked[:args.queries]
    query_vectors = embedded(asked, "questions")
    windows = []
    pick = random.Random(2)
    for _ in asked:
        first = FIRST_DAY + timedelta(days=pick.randrange(DAYS - FILTER_DAYS))
        windows.append((first.isoformat(), (first + timedelta(days=FILTER_DAYS - 1)).isoformat()))
    if args.probe:
        print(json.dumps(probe(args.probe, ann, asked, query_vectors, windows)))
        return

    material = sentences()
    articles = Articles(material, embedded(material, "sentences"))
    from rag.models.embedding import Embedder

    embedder = Embedder(settings.embedding_model)
    embed_ms = []
    for text in asked[:30]:
        started = time.perf_counter()
        embedder.embed_query(text)
        embed_ms.append((time.perf_counter() - started) * 1000)
    del embedder
    work = args.work or Path(tempfile.mkdtemp(prefix="rag-bench-scale-"))
    root = work / "index"
    shape = IndexSettings(settings.embedding_model, 384, settings.chunk_size, settings.chunk_overlap)
    print(f"{len(material)} distinct sentences from the seeds and RGB; {len(asked)} questions; "
          f"date filter: {FILTER_DAYS}-day windows in {DAYS // 365} years; ANN above "
          f"{ann.threshold} chunks, nprobe {ann.nprobe}; query embedding (MiniLM, not in the "
          f"figures below) p50 {statistics.median(embed_ms):.1f} ms")
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            seconds, written = grow(root, articles, size, ann, shape)
            adds = [one_write(root, ann, [articles.next()], []) for _ in range(5)]
            removes = [one_write(root, ann, [], [f"synthetic-{i:07d}"]) for i in (1, 2, 3, 4, 5)]
            proc = subprocess.run([sys.executable, __file__, "--probe", str(root), "--queries",
                                   str(args.queries)], capture_output=True, text=True, check=True)
            found = json.loads(proc.stdout.strip().splitlines()[-1])
            recall = exact_recall(root, query_vectors, windows, found)
            rows.append({
                "chunks": size, "ingest chunks/s": written / seconds,
                "add one article s": statistics.median(adds),
                "remove one article s": statistics.median(removes),
                "retrieval p50 ms": statistics.median(found["plain"]["ms"]),
                "retrieval p95 ms": percentile(found["plain"]["ms"], 95),
                "filtered p50 ms": statistics.median(found["filtered"]["ms"]),
                "filtered p95 ms": percentile(found["filtered"]["ms"], 95),
                "recall@10": recall["plain"], "filtered recall@10": recall["filtered"],
                "open index s": found["open_s"], "reopen after a write s": found["reopen_s"],
                "RSS MB": found["rss_mb"],
                "RSS before opening MB": found["base_rss_mb"],
                "disk MB": disk_bytes(current_generation(root)) / 1e6,
                "search": "IVF" if found["approximate"] else "exact",
            })
            for nprobe in NPROBES:
                if f"nprobe {nprobe}" in found:
                    rows[-1][f"nprobe {nprobe}: recall@10"] = recall[f"nprobe {nprobe}"]
                    rows[-1][f"nprobe {nprobe}: dense p50 ms"] = statistics.median(
                        found[f"nprobe {nprobe}"]["ms"])
            print(" " * 40, file=sys.stderr, end="\r")
            print(f"{size} chunks done", file=sys.stderr)
        report(rows)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def report(rows: list[dict]) -> None:
    print(f"{'':28s}" + "".join(f"{r['chunks']:>14,d}" for r in rows))
    metrics = list(dict.fromkeys(m for r in rows for m in r))
    for metric in metrics:
        if metric == "chunks":
            continue
        cells = []
        for r in rows:
            v = r.get(metric, "-")
            cells.append(f"{v:>14s}" if isinstance(v, str) else
                         f"{v:>14.3f}" if v < 10 else f"{v:>14.1f}")
        print(f"{metric:28s}" + "".join(cells))
    first, last = rows[0], rows[-1]
    for metric in ("add one article s", "remove one article s"):
        print(f"{metric} at {last['chunks']:,d} / at {first['chunks']:,d}: "
              f"{last[metric] / first[metric]:.2f}x")


if __name__ == "__main__":
    main()
