"""What a question and its filters must be before any work starts: checked at every entry point
(CLI, API, the assistant itself), so a bad one fails in one line before minutes of loading."""

from __future__ import annotations

from datetime import date as Date

from rag.errors import BadInput

MAX_QUESTION_CHARS = 50_000  # a guard before tokenising; the real limit is the context


def check_question(question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise BadInput("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadInput(f"the question is {len(question)} characters long; the limit is "
                       f"{MAX_QUESTION_CHARS}")
    return question


def check_date(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return Date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadInput(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None
