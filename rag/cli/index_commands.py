"""`rag ingest`, `rag remove`, `rag list`: change or show what is in the index."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path

from rag.cli.loading import settings_from
from rag.cli.output import fetch_counter, print_ingest_warnings, progress_bar


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.ingest.fetching import is_url
    from rag.ingest.indexer import ingest

    settings = settings_from(args)
    if args.ray and args.ray != "auto" and ":" not in args.ray and Path(args.ray).exists():
        args.paths.insert(0, args.ray)  # `--ray FOLDER`: a path, not an address
        args.ray = ""
    urls = [a for a in args.paths if is_url(a)]
    paths = [Path(a) for a in args.paths if not is_url(a)] or ([] if urls else [settings.seeds])
    embedder = LazyEmbedder(settings)
    with _workers(args, settings) as workers, progress_bar("Embedding", unit="chunk") as update, \
            fetch_counter() as fetching:
        if urls:
            from rag.ingest.by_url import ingest_sources

            # the machine's own user may fetch from its own network
            report, feeds = ingest_sources(paths, urls, settings, embedder, allow_private=True,
                                           rebuild=args.rebuild, on_progress=update,
                                           on_page=fetching, workers=workers)
        else:
            report = ingest(paths, settings, embedder, rebuild=args.rebuild, on_progress=update,
                            workers=workers)
            feeds = []
    print_ingest_warnings(report)
    for doc_id, original in report.copies.items():
        print(f"{doc_id} carries the same story as {original}: linked, so answers cite one and "
              "name the other")
    rate = (f" ({report.chunks_embedded / report.embed_seconds:.0f} chunks/s)"
            if report.chunks_embedded and report.embed_seconds else "")
    print(f"{report.summary()}; embedded {report.chunks_embedded} chunks{rate}")
    for feed in feeds:
        print(f"following the feed {feed.url} ({feed.title or 'untitled'}, {feed.entries} "
              "entries); `rag feeds update` fetches what it adds")
    if args.warm:
        _warm(settings)
    return 0


class LazyEmbedder:
    """The embedding model, loaded (seconds) when first used: a URL that fails to fetch, or a
    feed update that finds nothing new, should not wait for it."""

    def __init__(self, settings) -> None:
        self._settings = settings
        self._model = None

    def __getattr__(self, name: str):
        if self._model is None:
            from rag.models.embedding import Embedder

            self._model = Embedder(self._settings.embedding_model, self._settings.embed_batch_size)
        return getattr(self._model, name)


def _warm(settings) -> None:
    """Fill the passage cache for the whole index, with a progress bar."""
    from rag.answer.warming import warm_passages
    from rag.models.factory import make_generator
    from rag.models.kv_store import disk_usage
    from rag.store.factory import open_index

    index = open_index(settings)
    with progress_bar("Assembling the model (once)", unit="B", unit_scale=True) as update:
        generator = make_generator(settings, update)
    with progress_bar("Reading passages", unit="passage") as update:
        report = warm_passages(generator, index, settings, on_progress=update)
    if not report.cached:
        print("rag: warning: --warm: this model has no passage cache (RAG_PASSAGE_CACHE is off, "
              "or the model runs on a server)", file=sys.stderr)
        return
    entries, size = disk_usage(settings.index)
    print(f"passage cache: {report.blocks} passages, {report.computed} read now; "
          f"{entries} saved states, {size / 2**20:.0f} MiB in {settings.index / 'kv'}")


@contextmanager
def _workers(args: argparse.Namespace, settings):
    """Ray workers for --ray, else None (ingest parses and embeds in this process)."""
    if args.ray is None:
        yield None
        return
    from rag.ingest.ray_workers import RayWorkers

    where = f"the Ray cluster at {args.ray}" if args.ray else "a local Ray runtime"
    print(f"Parsing, chunking and embedding on {where} …", file=sys.stderr)
    workers = RayWorkers(settings, args.ray or None)
    try:
        yield workers
    finally:
        workers.close()


def cmd_remove(args: argparse.Namespace) -> int:
    from rag.ingest.indexer import remove_articles

    report = remove_articles(args.doc_ids, settings_from(args))
    print(report.summary())
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rag.store.factory import read_listing

    manifest = read_listing(settings_from(args))
    entries = sorted(manifest.articles.values(), key=lambda e: e.doc_id)
    if args.json:
        print(json.dumps([vars(e) for e in entries], indent=2, ensure_ascii=False))
        return 0
    for entry in entries:
        where = f"  {entry.url}" if entry.url else ""
        print(f"{entry.doc_id}  {entry.date or 'undated':10}  {entry.chunks:3} chunks  "
              f"{entry.title}{where}")
    return 0
