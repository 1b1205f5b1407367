"""Eval sets and thresholds as files: questions, support pairs and conversations in JSON Lines,
minimums and maximums in TOML; each checked as it is read, so a bad row is one line naming it.

Every row carries a split: "dev" is tuned on, "test" is reported and never tuned on.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from rag.errors import BadInput
from rag.jsonl import numbered_rows


@dataclass
class Question:
    id: str
    question: str
    answerable: bool
    answer: str
    must_include: list[str]
    evidence: list[str]
    split: str = "dev"  # "dev": tuned on; "test": reported, never tuned on


@dataclass
class SupportPair:
    """A hand-labelled (sentence, passages) pair: is the sentence stated by the passages taken
    together, as an answer to `question` when one is given? Labels never come from the judge."""
    id: str
    sentence: str
    passages: list[str]
    supported: bool
    kind: str  # "paraphrase", "substitution", "contradiction", "off-question", ...
    split: str = "dev"
    source: str = "seeds"
    question: str | None = None


@dataclass
class Conversation:
    id: str
    turns: list[str]
    standalone_must_include: list[str]
    must_include: list[str]


def _read_jsonl(path: Path, kind: type, required: set[str]) -> list:
    if not path.is_file():
        raise BadInput(f"{path}: no such eval file")
    rows = []
    for number, data in numbered_rows(path):
        missing = required - set(data)
        if missing:
            raise BadInput(f"{path}:{number}: missing {', '.join(sorted(missing))}")
        rows.append(kind(**{k: data[k] for k in kind.__dataclass_fields__ if k in data}))
    if not rows:
        raise BadInput(f"{path}: no questions in this file")
    return rows


SPLITS = ("dev", "test")


def _in_split(rows: list, split: str | None, path: Path) -> list:
    if split is None:
        return rows
    if split not in SPLITS:
        raise BadInput(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
    kept = [r for r in rows if r.split == split]
    if not kept:
        raise BadInput(f"{path}: nothing in the {split!r} split")
    return kept


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    return _in_split(_read_jsonl(path, Question, {"id", "question", "answerable"}), split, path)


def load_pairs(path: Path, split: str | None = None) -> list[SupportPair]:
    return _in_split(_read_jsonl(path, SupportPair, {"id", "sentence", "passages", "supported", "kind"}),
                     split, path)


def load_conversations(path: Path) -> list[Conversation]:
    return _read_jsonl(path, Conversation, {"id", "turns"})


def load_thresholds(path: Path) -> dict[str, float]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: cannot read thresholds ({exc})") from None
    return {k: float(v) for k, v in data.get("minimum", {}).items()} | {
        f"max:{k}": float(v) for k, v in data.get("maximum", {}).items()}
