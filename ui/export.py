"""A conversation taken away: Markdown to read or paste, JSON to process.

The Markdown holds what a reader needs to check each answer later (the question, the answer and
the sources it cites, with title, date, link and page); the JSON holds the answer records
themselves, the same contract as `rag ask --json`, and reads back into `AnswerRecord`s. Text
from articles and the model is untrusted: in the Markdown it is escaped so that no link, image
or HTML in it renders; links are written only for http(s) URLs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from rag.ingest.feeds import now_utc
from rag.types import AnswerRecord, Citation, Passage, Quote, SentenceSupport
from ui.render import web_url

FORMAT = "rag-conversation/1"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~])")


def md_text(text: str) -> str:
    """Text that a Markdown viewer shows as written: every character that could start a link,
    an image, HTML or emphasis is backslash-escaped, and lines stay in their paragraph."""
    return " ".join(_MARKDOWN_SPECIAL.sub(r"\\\1", text).split())


def cited_passages(record: AnswerRecord) -> list[Passage]:
    cited = {c.n for c in record.citations}
    return [p for p in record.passages if p.n in cited]


def conversation_markdown(records: Sequence[AnswerRecord], exported: str | None = None) -> str:
    lines = ["# Ask the news: conversation", "", f"Exported {exported or now_utc()}.", ""]
    for turn, record in enumerate(records, 1):
        lines += [f"## {turn}. {md_text(record.question)}", ""]
        if record.standalone_question and record.standalone_question != record.question:
            lines += [f"*Searched for:* {md_text(record.standalone_question)}", ""]
        answer = md_text(record.answer)
        lines += [f"**Not in the articles.** {answer}" if record.abstained else answer, ""]
        sources = cited_passages(record)
        if sources:
            lines += ["Sources:", ""]
            lines += [_source_line(p) for p in sources]
            lines.append("")
    return "\n".join(lines)


def _source_line(passage: Passage) -> str:
    parts = [f"- \\[{passage.n}\\] **{md_text(passage.title)}**", passage.date or "undated"]
    if passage.page:
        parts.append(f"p. {passage.page}")
    url = web_url(passage.url)
    parts.append(f"<{url}>" if url and not re.search(r"[<>]", url) else f"`{passage.doc_id}`")
    line = ", ".join(parts)
    also = [md_text(str(item.get("title") or item.get("doc_id"))) for item in passage.also_in]
    return line + (f" (also reported by: {'; '.join(also)})" if also else "")


def conversation_json(records: Sequence[AnswerRecord], exported: str | None = None) -> str:
    return json.dumps({"format": FORMAT, "exported": exported or now_utc(),
                       "answers": [r.to_dict() for r in records]}, ensure_ascii=False, indent=2)


def records_from_json(text: str) -> list[AnswerRecord]:
    """The answer records of an exported conversation."""
    return [record_from_dict(item) for item in json.loads(text)["answers"]]


def record_from_dict(data: dict) -> AnswerRecord:
    return AnswerRecord(**{
        **data,
        "citations": [Citation(**c) for c in data["citations"]],
        "passages": [Passage(**p) for p in data["passages"]],
        "sentence_support": [SentenceSupport(**s) for s in data.get("sentence_support", [])],
        "quotes": [Quote(**q) for q in data.get("quotes", [])],
    })


def write_exports(records: Sequence[AnswerRecord], folder: Path) -> tuple[Path, Path]:
    """Both files in `folder` (one per conversation, rewritten as it grows), for download."""
    folder.mkdir(parents=True, exist_ok=True)
    exported = now_utc()
    markdown, data = folder / "conversation.md", folder / "conversation.json"
    markdown.write_text(conversation_markdown(records, exported), encoding="utf-8")
    data.write_text(conversation_json(records, exported), encoding="utf-8")
    return markdown, data

