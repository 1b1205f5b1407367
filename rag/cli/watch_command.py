"""`rag watch FOLDER`: sync a folder into the index, then keep the index in step with it (files
dropped in, changed, deleted) until Ctrl-C. The watching itself is `rag.ingest.watch.Watcher`."""

from __future__ import annotations

import argparse
import sys
import time

from rag.cli.loading import settings_from
from rag.cli.output import print_ingest_warnings, progress_bar, warn
from rag.errors import RagError


def cmd_watch(args: argparse.Namespace) -> int:
    from rag.ingest.watch import Watcher, check_folder
    from rag.models.embedding import Embedder

    folder = check_folder(args.folder)  # before the model loads, so a typo fails at once
    settings = settings_from(args)
    watcher = None
    try:
        embedder = Embedder(settings.embedding_model, settings.embed_batch_size)
        watcher = Watcher(folder, settings, embedder, on_change=_print_change, on_warning=warn)
        with progress_bar("Embedding", unit="chunk") as update:
            report = watcher.start(on_progress=update)
        if report is not None:
            print_ingest_warnings(report, skipped=False)  # the watcher warned of each skipped file
            print(report.summary(), flush=True)
        print(f"Watching {folder} for changes (Ctrl-C to stop) …", file=sys.stderr, flush=True)
        while watcher.running():
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("Stopped watching.", file=sys.stderr)
        return 0
    finally:
        if watcher is not None:
            watcher.stop()
    # the watching ended on its own: that is never success, whatever the reason
    raise watcher.failure or RagError(f"stopped watching {folder} unexpectedly")


def _print_change(report) -> None:
    """One line per kind of change, naming the articles."""
    for kind in ("added", "updated", "removed"):
        if names := getattr(report, kind):
            print(f"{kind}: {', '.join(names)}", flush=True)
    print_ingest_warnings(report, skipped=False)
