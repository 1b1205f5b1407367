"""The index folder's file-level guarantees: one writer at a time (an advisory lock), and data
that reaches the disk before a pointer names it (fsync of files and folders)."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import BadInput, IndexBusy
from rag.store.layout import make_folder


@contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """One writer at a time; readers never need the lock."""
    make_folder(root)
    try:
        if not os.access(root, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        lock = (root / "LOCK").open("a")
    except OSError as exc:
        raise unwritable(root, exc) from None
    with lock as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"another process is writing the index in {root}; "
                            "wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def unwritable(root: Path, exc: OSError) -> BadInput:
    return BadInput(f"cannot write in the index folder {root} ({exc.strerror or exc}); give "
                    "--index (or RAG_INDEX) a folder this user may write")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        fsync_file(path)
