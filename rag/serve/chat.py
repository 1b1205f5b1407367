"""OpenAI's chat completions, answered by the assistant: `/v1/models`, `/v1/chat/completions`.

The request is OpenAI's; the reply's text is the assistant's *checked* answer with its `[n]`
markers, and the extra `rag` field carries what OpenAI's format has no place for (the sources with
the sentence in each that supports the answer, whether the assistant declined, the question as it
was searched). A streamed reply sends the passages being read as soon as retrieval ends, then the
answer once it has been checked, as server-sent events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from rag.answer.assistant import Assistant
from rag.answer.events import Event, Final, Sources, Status
from rag.answer.questions import check_date, check_question
from rag.check import claims_by_source, supporting_sentence
from rag.errors import RagError
from rag.serve.errors import ApiError, error_body, from_rag_error
from rag.types import AnswerRecord, Passage

MODEL_ID = "rag"

log = logging.getLogger("rag.api")  # its name before rag/serve/ was split, for log filters


# ---------------------------------------------------------------------------------------------
# requests


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """OpenAI's chat request; `top_k`, `since`, `until` and `articles` are this assistant's own options
    (with the `openai` client: `extra_body={"top_k": 6}`)."""
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    top_k: int | None = Field(None, ge=1, le=20)
    since: str | None = None
    until: str | None = None
    articles: list[str] | None = Field(None, max_length=100, description="article ids to search")


@dataclass
class Conversation:
    question: str
    history: list[tuple[str, str]]


def read_conversation(messages: list[ChatMessage]) -> Conversation:
    """The last user message is the question; earlier user/assistant pairs are the history a
    follow-up is rewritten against. System prompts are not the client's to set here: the
    assistant's instructions are fixed, and ignoring the client's keeps answers checkable."""
    turns = [(m.role, _text(m)) for m in messages if m.role in ("user", "assistant")]
    if not turns:
        raise ApiError(400, "messages holds no user message; send the question as "
                            '{"role": "user", "content": "…"}')
    if turns[-1][0] != "user":
        raise ApiError(400, "the last message must be the user's question")
    history: list[tuple[str, str]] = []
    asked: str | None = None
    for role, text in turns[:-1]:
        if role == "user":
            asked = text
        elif asked is not None:
            history.append((asked, text))
            asked = None
    return Conversation(check_question(turns[-1][1]), history)


def _text(message: ChatMessage) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ApiError(400, f"content part of type {part.get('type')!r} is not supported; "
                                "send text only")
        parts.append(part["text"])
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# responses


def passage_view(passage: Passage) -> dict:
    """A source as a client shows it: where to open it (`url`, or the article by id, at `page`)
    and the other outlets that carried the same story (`also_in`)."""
    return {"n": passage.n, "title": passage.title, "date": passage.date,
            "article_id": passage.doc_id, "chunk_id": passage.chunk_id, "url": passage.url,
            "page": passage.page, "also_in": passage.also_in, "passage": passage.text}


def answer_view(record: AnswerRecord) -> dict:
    """The `rag` field: what a client needs to show and check the answer."""
    claims = claims_by_source(record.sentence_support)
    by_n = {p.n: p for p in record.passages}
    sources = [{**passage_view(by_n[c.n]),
                "supporting_sentence": supporting_sentence(by_n[c.n], claims.get(c.n, [])),
                "quotes": [q.text for q in record.quotes if q.n == c.n]}
               for c in record.citations]
    return {"abstained": record.abstained, "abstain_reason": record.abstain_reason,
            "question": record.question, "standalone_question": record.standalone_question,
            "sources": sources, "unsupported_sentences": record.unsupported_sentences,
            "quotes": [{"n": q.n, "text": q.text, "article_id": q.doc_id, "chunk_id": q.chunk_id,
                        "url": by_n[q.n].url if q.n in by_n else None} for q in record.quotes],
            "answer_path": record.answer_path, "first_try": record.first_try,
            "generator": record.model, "readings": record.readings,
            "timings_ms": record.timings_ms}


def _usage(record: AnswerRecord, count_tokens: Callable[[str], int]) -> dict:
    completion = count_tokens(record.draft_answer) if record.draft_answer else 0
    return {"prompt_tokens": record.prompt_tokens, "completion_tokens": completion,
            "total_tokens": record.prompt_tokens + completion}


class _Reply:
    """The fields every completion and chunk of one reply share."""

    def __init__(self) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def completion(self, record: AnswerRecord, usage: dict) -> dict:
        return {"id": self.id, "object": "chat.completion", "created": self.created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": record.answer}}],
                "usage": usage, "rag": answer_view(record)}

    def chunk(self, delta: dict, *, finish: str | None = None, **extra: Any) -> str:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return _sse(body)


def _sse(body: dict) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


# ---------------------------------------------------------------------------------------------
# answering off the event loop


_END = object()


async def answer_events(assistant: Assistant, conversation: Conversation,
                        options: dict) -> AsyncIterator[Event | RagError | Exception]:
    """`Assistant.stream`, run in a thread of its own and handed over event by event.

    The thread always runs the answer to its end, even when the client goes away, so the model's
    lock is never left held by an abandoned generator; errors arrive as items, not raised.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:
            pass  # the server is shutting down; nobody is listening

    def work() -> None:
        try:
            for event in assistant.stream(conversation.question, conversation.history, **options):
                put(event)
        except RagError as exc:
            put(exc)
        except Exception as exc:  # a bug: logged with its traceback, reported without
            log.exception("answering %r failed", conversation.question)
            put(exc)
        finally:
            put(_END)

    threading.Thread(target=work, name="rag-answer", daemon=True).start()
    while (item := await queue.get()) is not _END:
        yield item


async def _stream_reply(events: AsyncIterator, count_tokens: Callable[[str], int],
                        include_usage: bool) -> AsyncIterator[str]:
    reply = _Reply()
    yield reply.chunk({"role": "assistant", "content": ""})
    async for event in events:
        if isinstance(event, Status):
            yield f": {event.message}\n\n"  # an SSE comment: keeps the connection visibly alive
        elif isinstance(event, Sources):
            yield reply.chunk({}, rag={"reading": [passage_view(p) for p in event.passages]})
        elif isinstance(event, Final):
            record = event.record
            yield reply.chunk({"content": record.answer})
            yield reply.chunk({}, finish="stop", rag=answer_view(record))
            if include_usage:
                yield _sse({"id": reply.id, "object": "chat.completion.chunk",
                            "created": reply.created, "model": MODEL_ID, "choices": [],
                            "usage": _usage(record, count_tokens)})
        elif isinstance(event, Exception):
            error = (from_rag_error(event) if isinstance(event, RagError)
                     else ApiError(500, "internal error while answering; see the server log",
                                   kind="server_error"))
            yield _sse(error_body(error.message, error.kind, error.code))
    yield "data: [DONE]\n\n"


# ---------------------------------------------------------------------------------------------
# the routes


def chat_routes(assistant: Assistant) -> APIRouter:
    """The model list and the chat completions, answered by `assistant`."""
    api = APIRouter()

    @api.get("/v1/models", summary="The one model this server answers as")
    def models() -> dict:
        return {"object": "list", "data": [_model_card(assistant)]}

    @api.get("/v1/models/{model_id}", summary="The model, if it is this server's")
    def model(model_id: str) -> dict:
        _check_model(model_id)
        return _model_card(assistant)

    @api.post("/v1/chat/completions", summary="Answer the last user message, with citations")
    async def chat(request: ChatRequest):
        _check_model(request.model)
        if request.n != 1:
            raise ApiError(400, "n must be 1: the assistant gives one checked answer")
        conversation = read_conversation(request.messages)
        options = {"top_k": request.top_k, "since": check_date(request.since, "since"),
                   "until": check_date(request.until, "until"), "articles": request.articles}
        events = answer_events(assistant, conversation, options)
        count_tokens = assistant.generator.count_tokens
        if request.stream:
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return StreamingResponse(_stream_reply(events, count_tokens, include_usage),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        async for event in events:
            if isinstance(event, RagError):
                raise from_rag_error(event)
            if isinstance(event, Exception):
                raise event
            if isinstance(event, Final):
                return _Reply().completion(event.record, _usage(event.record, count_tokens))
        raise ApiError(500, "the answer ended without a record", kind="server_error")

    return api


def _model_card(assistant: Assistant) -> dict:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "rag",
            "generator": assistant.generator.name}


def _check_model(model_id: str) -> None:
    if model_id != MODEL_ID:
        raise ApiError(404, f"model {model_id!r} does not exist; this server answers as "
                            f"{MODEL_ID!r} (GET /v1/models)", code="model_not_found")
