"""MkDocs hook: docs/settings.md's table of settings, generated from `rag.settings.Settings`.

The page holds a marker; at build time this hook replaces it with one row per field of
`Settings` (its `RAG_*` variable, type, default and description), so the page cannot drift from
the code. A page without the marker, or a field the table cannot describe, fails the build.
"""

from __future__ import annotations

import os
import sys
import types
import typing
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
PAGE = "settings.md"
MARKER = "<!-- settings-table -->"


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"docs/{PAGE} lost its marker {MARKER}: the settings table has no place")
    return markdown.replace(MARKER, settings_table())


def settings_table() -> str:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from rag.settings import PROJECT_ROOT, Settings

    prefix = Settings.model_config.get("env_prefix", "")
    rows = ["| variable | type | default | what it does |", "| --- | --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        variable = f"`{(prefix + name).upper()}`"
        kind = _type_name(field.annotation) + _constraints(field.metadata)
        default = _default_text(_default(field), PROJECT_ROOT)
        rows.append(f"| {variable} | {kind} | {default} | {_cell(field.description or '')} |")
    return "\n".join(rows)


def _default(field):
    if field.default_factory is None:
        return field.default
    # what a user without overrides gets: the home folder's cache, not this build's $XDG_CACHE_HOME
    saved = os.environ.pop("XDG_CACHE_HOME", None)
    try:
        return field.default_factory()
    finally:
        if saved is not None:
            os.environ["XDG_CACHE_HOME"] = saved


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " or ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + (", optional" if len(args) < len(
            typing.get_args(annotation)) else "")
    names = {bool: "true/false", int: "integer", float: "number", str: "text", Path: "path"}
    if annotation not in names:
        raise PluginError(f"settings page: no name for the type {annotation!r}; add it to the hook")
    return names[annotation]


def _constraints(metadata) -> str:
    bounds = []
    for item in metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                bounds.append(f"{sign} {getattr(item, attr)}")
        if getattr(item, "min_length", None) is not None:
            bounds.append(f"{item.min_length}+ characters")
        if getattr(item, "pattern", None) is not None:
            bounds.append(f"matching `{item.pattern}`")
    return f" ({', '.join(bounds)})" if bounds else ""


def _default_text(value, project_root: Path) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        if value.is_absolute() and value.is_relative_to(project_root):
            value = value.relative_to(project_root).as_posix()
        elif value.is_absolute() and value.is_relative_to(Path.home()):
            value = "~/" + value.relative_to(Path.home()).as_posix()
        else:
            value = value.as_posix()
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
