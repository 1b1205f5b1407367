"""The package's stages import downward only (see `rag/__init__.py`): read from the source, so an
import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rag.settings import PROJECT_ROOT

GROUND = {"types", "settings", "errors", "text", "templates", "jsonl", "untrusted"}
# bottom to top; `ui` (the Gradio app beside rag/) sits above the HTTP API it mounts on and below
# the CLI whose `rag serve` starts it
STAGES = ["models", "store", "ingest", "check", "answer", "evaluate", "serve", "ui", "cli"]
PACKAGE = PROJECT_ROOT / "rag"
MAX_LINES = 300


def _rank(layer: str) -> int:
    return 0 if layer in GROUND else 1 + STAGES.index(layer)


def _layer_of_module(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "ui":
        return "ui"
    return parts[1] if parts[0] == "rag" and len(parts) > 1 else None


def _layer_of_file(path: Path) -> str:
    if path.is_relative_to(PROJECT_ROOT / "ui"):
        return "ui"
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    return [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, (ast.Import, ast.ImportFrom))]


def _imported_modules(path: Path) -> list[str]:
    found = []
    for node in _imports(path):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            if node.module == "rag":  # `from rag import store` names a stage
                found += [f"rag.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def _all_modules() -> list[Path]:
    return [*_modules(), *sorted((PROJECT_ROOT / "ui").glob("*.py"))]


def _name(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def test_every_module_belongs_to_a_known_layer():
    for path in _all_modules():
        assert _layer_of_file(path) in GROUND | set(STAGES), f"{path} is in no layer of rag/__init__.py"


@pytest.mark.parametrize("path", _all_modules(), ids=_name)
def test_no_module_imports_a_layer_above_its_own(path):
    own = _layer_of_file(path)
    upward = []
    for module in _imported_modules(path):
        layer = _layer_of_module(module)
        if layer is None or layer == own or layer not in GROUND | set(STAGES):
            continue
        if _rank(layer) > _rank(own) or (own in GROUND and layer not in GROUND):
            upward.append(module)
    assert not upward, f"{path.name} ({own}) imports upward: {', '.join(sorted(set(upward)))}"


@pytest.mark.parametrize("path", _all_modules(), ids=_name)
def test_imports_are_absolute(path):
    relative = [node.lineno for node in _imports(path)
                if isinstance(node, ast.ImportFrom) and node.level]
    assert not relative, f"{path.name} has relative imports on lines {relative}"


def test_checking_is_entered_by_one_door():
    """Outside rag/check/, answers are checked through the package `rag.check` alone (its
    `Reviewer`), never by reaching for the rules behind it."""
    reaching = {_name(path): sorted(set(m for m in _imported_modules(path)
                                        if m.startswith("rag.check.")))
                for path in _all_modules() if _layer_of_file(path) != "check"}
    assert not {k: v for k, v in reaching.items() if v}


def test_a_stage_is_entered_by_its_package():
    """Each stage of rag/ is a package whose __init__ says what it offers."""
    for stage in (s for s in STAGES if s != "ui"):
        init = PACKAGE / stage / "__init__.py"
        assert init.is_file(), f"rag/{stage}/ is not a package"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} says nothing"


def test_no_module_outgrows_one_job():
    """A module of more than 300 lines is doing more than one thing."""
    long = {_name(p): n for p in _all_modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
