"""Saved llama.cpp KV states of prompt pieces: a memory tier (LRU, capped) over a disk tier
(capped, inside the index folder), so that a passage is read by the model once, not per question.

An entry is only ever used for exactly what made it: its folder is named by a digest of the
model file, the llama.cpp build and the context settings that shape the KV (`namespace`), its
file by a digest of the piece's exact text, and it carries the piece's tokens and a checksum. A
file that is stale, truncated or damaged is deleted and reported missing, so the caller
recomputes it; a disk that is full or read-only costs a warning, never an answer. Entries are
grouped by article (`group`), so that changing or removing an article drops its entries.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import struct
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_MAGIC = b"RAGKV\x00"
_HEADER = struct.Struct("<6sHIQ32s")  # magic, format version, tokens, payload bytes, checksum
KV_FOLDER = "kv"  # inside the index folder
_SUFFIX = ".kv"


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def group_folder(group: str) -> str:
    return digest("group", group)[:24]


@dataclass(frozen=True)
class CacheLimits:
    """Where the disk tier lives (None: memory only) and how large each tier may grow."""
    folder: Path | None
    memory_bytes: int
    disk_bytes: int


@dataclass
class StoreStats:
    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    damaged: int = 0  # entries found stale or damaged, deleted and recomputed
    memory_bytes: int = 0
    disk_bytes: int = 0


class KVStore:
    """Entries of one namespace. Thread-safe; the caller serialises llama.cpp itself."""

    def __init__(self, folder: Path | None, namespace: str, *, memory_bytes: int,
                 disk_bytes: int) -> None:
        self.root = folder / KV_FOLDER if folder is not None and disk_bytes > 0 else None
        self.namespace = namespace
        self.memory_cap = memory_bytes
        self.disk_cap = disk_bytes
        self.stats = StoreStats()
        self._memory: OrderedDict[str, tuple[tuple[int, ...], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._disk_scanned = False
        self._warned = False

    def get(self, key: str, group: str, tokens: Sequence[int]) -> bytes | None:
        """The saved state of the piece `key` whose tokens are `tokens`, or None."""
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None and entry[0] == tuple(tokens):
                self._memory.move_to_end(key)
                self.stats.memory_hits += 1
                return entry[1]
        state = self._read(self._path(key, group), tokens)
        with self._lock:
            if state is None:
                self.stats.misses += 1
                return None
            self.stats.disk_hits += 1
            self._remember(key, tokens, state)
        return state

    def has(self, key: str, group: str) -> bool:
        """Whether an entry is kept (not whether it is sound: `get` checks that)."""
        with self._lock:
            if key in self._memory:
                return True
        path = self._path(key, group)
        return path is not None and path.is_file()

    def put(self, key: str, group: str, tokens: Sequence[int], state: bytes) -> None:
        with self._lock:
            self._remember(key, tokens, state)
        path = self._path(key, group)
        if path is not None:
            self._write(path, tokens, state)

    def forget_memory(self) -> None:
        """Empty the memory tier (the disk tier stays)."""
        with self._lock:
            self._memory.clear()
            self.stats.memory_bytes = 0

    def discard(self, key: str, group: str) -> None:
        """Drop an entry llama.cpp refused, from both tiers."""
        with self._lock:
            old = self._memory.pop(key, None)
            if old is not None:
                self.stats.memory_bytes -= len(old[1])
            self.stats.damaged += 1
        if (path := self._path(key, group)) is not None:
            _unlink(path)

    # -- memory tier ---------------------------------------------------------------------------

    def _remember(self, key: str, tokens: Sequence[int], state: bytes) -> None:
        if len(state) > self.memory_cap:
            return
        old = self._memory.pop(key, None)
        if old is not None:
            self.stats.memory_bytes -= len(old[1])
        self._memory[key] = (tuple(tokens), state)
        self.stats.memory_bytes += len(state)
        while self.stats.memory_bytes > self.memory_cap:
            _, (_, dropped) = self._memory.popitem(last=False)
            self.stats.memory_bytes -= len(dropped)

    # -- disk tier -----------------------------------------------------------------------------

    def _path(self, key: str, group: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / self.namespace / group_folder(group) / (key + _SUFFIX)

    def _read(self, path: Path | None, tokens: Sequence[int]) -> bytes | None:
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        state = _decode(data, tokens)
        if state is None:
            log.warning("recomputing a damaged or stale passage cache entry: %s", path)
            with self._lock:
                self.stats.damaged += 1
            _unlink(path)
            return None
        try:
            os.utime(path)  # recently used: the last to be evicted
        except OSError:
            pass
        return state

    def _write(self, path: Path, tokens: Sequence[int], state: bytes) -> None:
        data = _encode(tokens, state)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._make_room(len(data))
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(temp, path)
            except BaseException:
                _unlink(Path(temp))
                raise
        except OSError as exc:
            if not self._warned:
                log.warning("the passage cache cannot write to %s (%s); answers go on, passages "
                            "are read again after a restart", self.root, exc.strerror or exc)
                self._warned = True
            return
        with self._lock:
            self.stats.disk_bytes += len(data)

    def _make_room(self, incoming: int) -> None:
        """Delete the least recently used entries (all namespaces) until `incoming` fits."""
        assert self.root is not None
        with self._lock:
            if not self._disk_scanned:
                self.stats.disk_bytes = sum(size for _, size, _ in _entries(self.root))
                self._disk_scanned = True
            if self.stats.disk_bytes + incoming <= self.disk_cap:
                return
            for path, size, _ in sorted(_entries(self.root), key=lambda e: e[2]):
                _unlink(path)
                self.stats.disk_bytes -= size
                if self.stats.disk_bytes + incoming <= self.disk_cap:
                    return


def drop_groups(index_folder: Path, groups: Iterable[str]) -> int:
    """Delete every namespace's entries of these articles; how many folders went."""
    root = index_folder / KV_FOLDER
    if not root.is_dir():
        return 0
    names = {group_folder(g) for g in groups}
    dropped = 0
    for namespace in _subfolders(root):
        for name in names:
            folder = namespace / name
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                dropped += 1
    return dropped


def drop_all(index_folder: Path) -> None:
    shutil.rmtree(index_folder / KV_FOLDER, ignore_errors=True)


def disk_usage(index_folder: Path) -> tuple[int, int]:
    """(entries, bytes) kept on disk for this index, all namespaces."""
    root = index_folder / KV_FOLDER
    found = list(_entries(root)) if root.is_dir() else []
    return len(found), sum(size for _, size, _ in found)


def _encode(tokens: Sequence[int], state: bytes) -> bytes:
    token_bytes = struct.pack(f"<{len(tokens)}i", *tokens)
    checksum = hashlib.blake2b(token_bytes + state, digest_size=32).digest()
    header = _HEADER.pack(_MAGIC, FORMAT_VERSION, len(tokens), len(state), checksum)
    return header + token_bytes + state


def _decode(data: bytes, tokens: Sequence[int]) -> bytes | None:
    if len(data) < _HEADER.size:
        return None
    magic, version, n_tokens, n_state, checksum = _HEADER.unpack_from(data)
    body = data[_HEADER.size:]
    if (magic != _MAGIC or version != FORMAT_VERSION or n_tokens != len(tokens)
            or len(body) != 4 * n_tokens + n_state):
        return None
    if hashlib.blake2b(body, digest_size=32).digest() != checksum:
        return None
    if list(struct.unpack_from(f"<{n_tokens}i", body)) != list(tokens):
        return None
    return body[4 * n_tokens:]


def _entries(root: Path) -> Iterable[tuple[Path, int, float]]:
    for namespace in _subfolders(root):
        for group in _subfolders(namespace):
            try:
                with os.scandir(group) as found:
                    for entry in found:
                        if entry.name.endswith(_SUFFIX) and entry.is_file():
                            info = entry.stat()
                            yield Path(entry.path), info.st_size, info.st_mtime
            except OSError:
                continue


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
