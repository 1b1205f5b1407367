"""Ingest on Ray: files are parsed, chunked and embedded by Ray Data across a cluster (or a local
Ray runtime), and the result is written by this process through the index backend the settings
name, exactly as a local ingest writes it.

The index is the same as a local ingest's: the same parser and splitter run on the workers, the
same embedding model embeds, and the chunks come back in article and position order before
they are written (ids in the embedded store follow write order). Vectors may differ from a local
run's in the last float bits, as batches are cut differently.

For a remote cluster (`--ray ray://head:10001` or `--ray auto` on a node), every node needs this
project installed (`pip install -e '.[ray]'`) and the articles at the same paths.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from rag.errors import BadInput, RagError, ServiceUnavailable
from rag.ingest.sources import collect_articles, find_article_files, try_load_article
from rag.models.embedding import Embedder
from rag.settings import Settings
from rag.types import Article, Chunk, NewArticle, ProgressFn, Skipped, article_of, meta_json

ROWS_PER_BATCH = 256  # chunks per embedding call on a worker


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data is the part used)
    except ImportError:
        raise BadInput("rag ingest --ray needs Ray Data; install it with: "
                       "pip install -e '.[ray]'") from None
    return ray


class RayWorkers:
    """The `Workers` of `rag.ingest.indexer` on Ray. A local runtime is started when no address is given
    and stopped by `close`; a cluster given by address is only disconnected from."""

    def __init__(self, settings: Settings, address: str | None = None) -> None:
        ray = _import_ray()
        self.settings = settings
        self._ray = ray
        if address:
            _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR, configure_logging=True,
                     num_cpus=None if address else os.cpu_count())
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"at {address}" if address else "locally"
            raise ServiceUnavailable(f"cannot start or reach a Ray cluster {where}: "
                                     f"{str(exc).strip().splitlines()[0][:300]}") from None
        for name in ("ray", "ray.data"):  # the CLI reports progress; Ray's plans are noise there
            logging.getLogger(name).setLevel(logging.ERROR)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the CLI shows one bar of its own
        context.print_on_execution_start = False
        context.execution_options.preserve_order = True
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        self._ray.shutdown()

    def load(self, paths: list[Path]) -> tuple[list[Article], list[Skipped]]:
        """Every file parsed on the cluster; duplicates sorted out here, in file order."""
        files = find_article_files(paths)
        if not files:
            return [], []
        with _reported("parsing"):
            rows = (self._ray.data.from_items([{"path": str(f)} for f in files],
                                              override_num_blocks=min(len(files), self.cpus * 4))
                    .map(_parse_row).take_all())
        return collect_articles(_result_of(row) for row in rows)

    def embed(self, articles: list[Article], on_progress: ProgressFn | None) -> list[NewArticle]:
        """Chunks and vectors computed on the cluster, returned in article and position order."""
        with _reported("embedding"):
            return self._embed(articles, on_progress)

    def _embed(self, articles: list[Article], on_progress: ProgressFn | None) -> list[NewArticle]:
        settings = self.settings
        items = [{"doc_id": a.doc_id, "title": a.title, "date": a.date, "source": a.source,
                  "text": a.text, "meta": meta_json(a.meta)} for a in articles]  # what chunking reads
        chunks = self._ray.data.from_items(
            items, override_num_blocks=min(len(items), self.cpus * 4)).flat_map(
            _chunk_rows, fn_kwargs={"size": settings.chunk_size, "overlap": settings.chunk_overlap}
        ).materialize()  # chunked once, counted for the progress bar, then embedded
        total = chunks.count()
        embedded = chunks.map_batches(
            _embed_batch, batch_size=ROWS_PER_BATCH,
            fn_kwargs={"model": settings.embedding_model, "batch_size": settings.embed_batch_size},
            compute=self._ray.data.TaskPoolStrategy(size=max(1, self.cpus // 2)))
        by_article: dict[str, list[tuple[Chunk, np.ndarray]]] = defaultdict(list)
        done = 0
        for batch in embedded.iter_batches(batch_size=ROWS_PER_BATCH, batch_format="numpy"):
            for i in range(len(batch["doc_id"])):
                chunk = Chunk(chunk_id=str(batch["chunk_id"][i]), doc_id=str(batch["doc_id"][i]),
                              title=str(batch["title"][i]), date=_text_or_none(batch["date"][i]),
                              start=int(batch["start"][i]), end=int(batch["end"][i]),
                              text=str(batch["text"][i]))
                vector = np.asarray(batch["vector"][i], dtype=np.float32)
                by_article[chunk.doc_id].append((chunk, vector))
            done += len(batch["doc_id"])
            if on_progress:
                on_progress(done, total)
        return [_new_article(a, by_article.get(a.doc_id, [])) for a in articles]


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable head node for minutes; a closed port is said at once."""
    if address == "auto":
        return  # Ray looks for a cluster started on this machine, and says so if there is none
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise BadInput(f"--ray takes host:port, ray://host:port or auto, not {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ServiceUnavailable(f"no Ray cluster answers at {address} ({exc.strerror or exc}); "
                                 "start one with: ray start --head") from None


@contextmanager
def _reported(stage: str) -> Iterator[None]:
    """A failure on the cluster (a worker lost, a task raising) as one line; the index is
    untouched, as nothing is written before every article is embedded."""
    try:
        yield
    except RagError:
        raise
    except Exception as exc:
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        raise ServiceUnavailable(f"Ray failed while {stage}: "
                                 f"{(lines[-1] if lines else type(exc).__name__)[:300]}") from None


def _new_article(article: Article, pieces: list[tuple[Chunk, np.ndarray]]) -> NewArticle:
    pieces.sort(key=lambda p: int(p[0].chunk_id.rsplit("#", 1)[1]))
    dimensions = pieces[0][1].shape[0] if pieces else 0
    vectors = (np.vstack([v for _, v in pieces]).astype(np.float32) if pieces
               else np.zeros((0, dimensions), dtype=np.float32))
    return NewArticle(article, [c for c, _ in pieces], vectors)


# -- what runs on the workers -------------------------------------------------------------------


def _parse_row(row: dict) -> dict:
    result = try_load_article(Path(row["path"]))
    if isinstance(result, Skipped):
        return {"path": row["path"], "skipped": result.reason, "doc_id": None, "title": None,
                "date": None, "source": None, "text": None, "meta": None}
    a = result
    return {"path": row["path"], "skipped": None, "doc_id": a.doc_id, "title": a.title,
            "date": a.date, "source": a.source, "text": a.text, "meta": meta_json(a.meta)}


def _result_of(row: dict) -> Article | Skipped:
    if row["skipped"] is not None:
        return Skipped(row["path"], row["skipped"])
    return article_of(row["doc_id"], row["title"], _text_or_none(row["date"]), row["source"],
                      row["text"], row["meta"])


def _chunk_rows(row: dict, *, size: int, overlap: int) -> list[dict]:
    from rag.ingest.chunking import chunk_article

    article = article_of(row["doc_id"], row["title"], _text_or_none(row["date"]), row["source"],
                         row["text"], row["meta"])  # its pages: chunks never cross one
    return [{**{k: v for k, v in asdict(c).items() if k not in _READ_LATER}, "date": c.date or ""}
            for c in chunk_article(article, size=size, overlap=overlap)]


_READ_LATER = ("url", "page", "group")  # what the store gives chunks from their article's meta


def _embed_batch(batch: dict[str, np.ndarray], *, model: str, batch_size: int) -> dict[str, np.ndarray]:
    batch["vector"] = _embedder(model, batch_size).embed([str(t) for t in batch["text"]])
    return batch


@functools.cache
def _embedder(model: str, batch_size: int) -> Embedder:
    """Loaded once per worker process: Ray reuses its workers from task to task."""
    return Embedder(model, batch_size)


def _text_or_none(value) -> str | None:
    return str(value) if value not in (None, "") else None
