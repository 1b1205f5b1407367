"""What every command starts from: the settings, and (to answer) an assistant ready to answer."""

from __future__ import annotations

import argparse
import sys

from rag.cli.output import progress_bar
from rag.errors import BadInput, IndexMissing, IndexOutdated


def settings_from(args: argparse.Namespace):
    """Settings from defaults, RAG_* variables and the flags given, in rising priority."""
    from pydantic import ValidationError

    from rag.settings import Settings

    flags = {"index": "index", "model": "model", "top_k": "top_k", "auth": "auth",
             "refresh": "feed_refresh_minutes"}
    overrides = {setting: getattr(args, flag) for flag, setting in flags.items()
                 if getattr(args, flag, None) is not None}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise BadInput(f"setting {field}: {first['msg']} (check the flag or RAG_{field.upper()})") from None


def load_assistant(args: argparse.Namespace):
    """An Assistant with index, embedder and model loaded, so the first answer is not slow; a
    missing index is built from the seed articles, so every command works on a fresh machine.

    The index is opened first, so a bad one fails before a minute of loading the model; one that
    is only missing or outdated is built or converted after the model loads, so a model that
    cannot load fails before that work."""
    from rag.answer.assistant import Assistant

    settings = settings_from(args)
    with progress_bar("Assembling the model (once)", unit="B", unit_scale=True) as update:
        assistant = Assistant(settings, model_progress=update)
        problem = _open_index(assistant)
        _ = assistant.generator  # loads (and on first use assembles) the model
    if problem is not None:
        _mend_index(assistant, problem)
    _ = assistant.embedder
    return assistant


def _open_index(assistant) -> IndexMissing | IndexOutdated | None:
    """What stands between the assistant and its index, when ingest can mend it."""
    try:
        _ = assistant.index
    except (IndexMissing, IndexOutdated) as problem:
        return problem
    return None


def _mend_index(assistant, problem: IndexMissing | IndexOutdated) -> None:
    settings = assistant.settings
    if isinstance(problem, IndexOutdated):
        from rag.store.factory import upgrade

        print(f"Converting the index in {settings.index} to this release's format …", file=sys.stderr)
        upgrade(settings)
        return
    from rag.ingest.indexer import ingest
    from rag.store.factory import describe_index

    print(f"No index in {describe_index(settings)}: building it from {settings.seeds} …",
          file=sys.stderr)
    with progress_bar("Embedding", unit="chunk") as on_progress:
        report = ingest([settings.seeds], settings, assistant.embedder, on_progress=on_progress)
    print(report.summary(), file=sys.stderr)
