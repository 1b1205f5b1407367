"""`rag watch FOLDER`: sync a folder into the index, then keep the index in step with it (files
dropped in, changed, deleted) until Ctrl-C. The watching itself is `rag.ingest.watch.Watcher`."""

from __future__ import annotations

import argparse
import sys
import time

from rag.cli.loading import settings_from
from rag.cli.output import progress_bar


def cmd_watch(args: argparse.Namespace) -> int:
    from rag.ingest.watch import Watcher, check_folder
    from rag.models.embedding import Embedder

    folder = check_folder(args.folder)  # before the model loads, so a typo fails at once
    settings = settings_from(args)
    watcher = None
    try:
        embedder = Embedder(settings.embedding_model, settings.embed_batch_size)
        watcher = Watcher(folder, settings, embedder, on_change=_print_change, on_warning=_warn)
        with progress_bar("Embedding", unit="chunk") as update:
            report = watcher.start(on_progress=update)
        if report is not None:
            _warn_addressed(report)
            print(report.summary(), flush=True)
        print(f"Watching {folder} for changes (Ctrl-C to stop) …", file=sys.stderr, flush=True)
        while watcher.running():
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("Stopped watching.", file=sys.stderr)
    finally:
        if watcher is not None:
            watcher.stop()
    if watcher is not None and watcher.failure is not None:
        raise watcher.failure
    return 0


def _print_change(report) -> None:
    """One line per kind of change, naming the articles."""
    for kind in ("added", "updated", "removed"):
        if names := getattr(report, kind):
            print(f"{kind}: {', '.join(names)}", flush=True)
    _warn_addressed(report)


def _warn(message: str) -> None:
    print(f"rag: warning: {message}", file=sys.stderr, flush=True)


def _warn_addressed(report) -> None:
    for doc_id, sentences in report.addressed.items():
        _warn(f"{doc_id}: {sentences} sentence{'s' if sentences > 1 else ''} addressed to AI "
              "assistants (kept as text; never shown to the model or quoted)")
