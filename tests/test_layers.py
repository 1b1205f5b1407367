"""The package's stages import downward only (see `rag/__init__.py`): read from the source, so an
import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rag.settings import PROJECT_ROOT

GROUND = {"types", "settings", "errors", "text", "templates", "jsonl"}
STAGES = ["models", "store", "ingest", "check", "answer", "evaluate", "serve", "cli"]
PACKAGE = PROJECT_ROOT / "rag"


def _rank(layer: str) -> int:
    return 0 if layer in GROUND else 1 + STAGES.index(layer)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "rag" and len(parts) > 1 else None


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [node.module] + [f"{node.module}.{a.name}" for a in node.names
                                      if node.module == "rag"]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_known_layer():
    for path in _modules():
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts == ("__init__",):
            continue
        assert parts[0] in GROUND | set(STAGES), f"{path} is in no layer of rag/__init__.py"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_module_imports_a_stage_above_its_own(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts == ("__init__",):
        return
    own = parts[0]
    upward = []
    for module in _imports(path):
        layer = _layer(module)
        if layer is None or layer == own or layer not in GROUND | set(STAGES):
            continue
        if _rank(layer) > _rank(own) or (own in GROUND and layer not in GROUND):
            upward.append(module)
    assert not upward, f"{path.name} ({own}) imports upward: {', '.join(sorted(set(upward)))}"


def test_a_stage_is_entered_by_its_package():
    """Each stage is a package whose __init__ says what it offers."""
    for stage in STAGES[:-1]:
        init = PACKAGE / stage / "__init__.py"
        assert init.is_file(), f"rag/{stage}/ is not a package"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} says nothing"


def test_no_module_outgrows_one_job():
    """About 300 lines at most: a longer module is doing more than one thing."""
    long = {str(p.relative_to(PROJECT_ROOT)): n for p in [*_modules(), *(PROJECT_ROOT / "ui").glob("*.py")]
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 320}
    assert not long, f"modules over 320 lines: {long}"
