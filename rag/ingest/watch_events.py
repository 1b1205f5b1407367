"""The file-system side of `rag.ingest.watch`: which folder can be watched, which names in it are
never articles, watchdog's events turned into `Watcher.note` calls, and the (size, mtime) stamp
that tells whether a file has settled.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from rag.errors import BadInput

if TYPE_CHECKING:
    from rag.ingest.watch import Watcher

TEMPORARY_PREFIXES = (".", "~$")

Stat = tuple[int, int] | None  # (size, mtime in ns); None: the path is gone


def check_folder(folder: Path) -> Path:
    """The folder, absolute; what cannot be watched is a `BadInput` before any model loads."""
    if not folder.exists():
        raise BadInput(f"{folder}: no such folder")
    if not folder.is_dir():
        raise BadInput(f"{folder}: not a folder; rag watch watches a folder "
                       "(to add one file: rag ingest FILE)")
    return folder.resolve()


def cannot_watch(folder: Path, exc: OSError) -> BadInput:
    """Linux allows each user so many inotify watches (one a folder) and so many watchers."""
    why = f"{folder}: cannot watch it ({exc.strerror or exc})"
    limit = {errno.ENOSPC: "max_user_watches=524288", errno.EMFILE: "max_user_instances=1024"}
    return BadInput(f"{why}; raise the system's limit: sudo sysctl fs.inotify.{limit[exc.errno]} "
                    "(and in /etc/sysctl.conf)" if exc.errno in limit else why)


def file_stat(path: Path) -> Stat:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


class WatchEvents(FileSystemEventHandler):
    """watchdog's events, turned into `Watcher.note` calls."""

    def __init__(self, watcher: Watcher) -> None:
        super().__init__()
        self.watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write"):
            return
        if kind == "events_lost":
            self.watcher.note(self.watcher.folder)  # rescan everything
            return
        if event.is_directory and kind in ("modified", "attrib", "closed"):
            return  # something inside changed; its own event says what
        paths = [event.src_path] + ([event.dest_path] if kind == "moved" else [])
        for raw in paths:
            path = Path(os.fsdecode(raw))
            if self.watcher.watches(path, directory=event.is_directory):
                self.watcher.note(path)
