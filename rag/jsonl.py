"""JSON Lines files written by hand (eval sets, RGB), read with errors that name the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from rag.errors import BadInput


def numbered_rows(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line; bad JSON is a one-line BadInput."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path}:{number}: not JSON ({exc.msg})") from None
