"""The factory: the scaled-out backends' client libraries are optional, and a missing one is one
line that says how to install it (each backend's real path is tested in its own test file)."""

import sys

import pytest

from rag.errors import BadInput
from rag.ingest.ray_workers import RayWorkers
from rag.models.factory import make_generator
from rag.settings import Settings
from rag.store.factory import open_index


@pytest.mark.parametrize("module, extra", [("pymilvus", "milvus"), ("openai", "remote"),
                                           ("ray", "ray")])
def test_a_missing_client_library_names_its_install(monkeypatch, tmp_path, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # what `import` sees when it is not installed
    settings = Settings(index=tmp_path / "index", index_backend="milvus",
                        llm_url="http://127.0.0.1:9/v1")
    use = {"pymilvus": open_index, "openai": make_generator, "ray": RayWorkers}[module]
    with pytest.raises(BadInput, match=rf"pip install -e '\.\[{extra}\]'"):
        use(settings)


def test_the_embedded_defaults_import_no_client_library(tmp_path):
    """`make run` must not need Milvus, Ray or the OpenAI client."""
    import subprocess

    code = ("import sys; from rag.settings import Settings; from rag.store.factory import open_index; "
            "from rag.errors import IndexMissing\n"
            f"try: open_index(Settings(index={str(tmp_path)!r}))\n"
            "except IndexMissing: pass\n"
            "print(sorted(m for m in ('pymilvus', 'ray', 'openai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr
