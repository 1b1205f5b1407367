"""The HTTP API beside the chat UI: OpenAI-compatible chat with citations, articles, health.

Any OpenAI client (the `openai` package, Open WebUI, an editor plugin, `curl`) can talk to the
assistant: `POST /v1/chat/completions` takes the usual request, and the reply's text is the
assistant's *checked* answer with its `[n]` markers. What OpenAI's format has no place for (the
sources with the sentence in each that supports the answer, whether the assistant declined, the
question as it was searched) rides in an extra `rag` field, which OpenAI clients ignore.

A streamed reply sends the passages being read as soon as retrieval ends, then the answer once it
has been checked: a draft sentence may still be withdrawn or its marker moved, and a client
cannot take back text it was already sent. Sampling options (temperature, top_p, seed…) are
accepted and ignored: the same question on the same index always gets the same answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.articles import MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES, Shelf, Upload
from rag.errors import BadInput, IndexBusy, RagError
from rag.ingest import IngestReport
from rag.pipeline import (
    AnswerRecord,
    Assistant,
    Event,
    Final,
    Sources,
    Status,
    check_date,
    check_question,
)
from rag.retrieval import Passage
from rag.support import claims_by_source, supporting_sentence

MODEL_ID = "rag"
MAX_CHAT_BODY_BYTES = 1_000_000
MAX_UPLOAD_BODY_BYTES = MAX_UPLOAD_FILES * MAX_UPLOAD_BYTES + 256_000  # multipart framing too

log = logging.getLogger("rag.api")


class ApiError(Exception):
    """An answer in OpenAI's error shape: {"error": {"message", "type", "code", "param"}}."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 kind: str = "invalid_request_error", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind
        self.headers = headers


def _error_body(message: str, kind: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


def _from_rag_error(exc: RagError) -> ApiError:
    if isinstance(exc, BadInput):
        return ApiError(400, str(exc))
    if isinstance(exc, IndexBusy):
        return ApiError(409, str(exc), code="index_busy")
    return ApiError(503, str(exc), kind="server_error", code="unavailable")


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
    return {"n": passage.n, "title": passage.title, "date": passage.date,
            "article_id": passage.doc_id, "chunk_id": passage.chunk_id, "passage": passage.text}


def answer_view(record: AnswerRecord) -> dict:
    """The `rag` field: what a client needs to show and check the answer."""
    claims = claims_by_source(record.sentence_support)
    by_n = {p.n: p for p in record.passages}
    sources = [{**passage_view(by_n[c.n]),
                "supporting_sentence": supporting_sentence(by_n[c.n], claims.get(c.n, []))}
               for c in record.citations]
    return {"abstained": record.abstained, "abstain_reason": record.abstain_reason,
            "question": record.question, "standalone_question": record.standalone_question,
            "sources": sources, "unsupported_sentences": record.unsupported_sentences,
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
            error = (_from_rag_error(event) if isinstance(event, RagError)
                     else ApiError(500, "internal error while answering; see the server log",
                                   kind="server_error"))
            yield _sse(_error_body(error.message, error.kind, error.code))
    yield "data: [DONE]\n\n"


# ---------------------------------------------------------------------------------------------
# the app


def create_api(assistant: Assistant, shelf: Shelf, *, credentials: tuple[str, str] | None = None,
               token: str | None = None) -> FastAPI:
    """The API as a FastAPI app; the UI is mounted on it by `ui.server`. With `credentials` or
    `token` set, every API route asks for them; the OpenAPI description stays readable."""
    app = FastAPI(title="rag: ask the news", version="1",
                  description="Answers from the indexed news articles only, each claim cited "
                              "[n] and checked against its source.")
    _add_error_handlers(app)
    app.add_middleware(BodyLimit)
    authorised = Depends(_authorisation(credentials, token))
    api = APIRouter(dependencies=[authorised])

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
                raise _from_rag_error(event)
            if isinstance(event, Exception):
                raise event
            if isinstance(event, Final):
                return _Reply().completion(event.record, _usage(event.record, count_tokens))
        raise ApiError(500, "the answer ended without a record", kind="server_error")

    @api.get("/v1/articles", summary="The indexed articles, newest first")
    def articles() -> dict:
        return {"object": "list", "data": [_article(e) for e in shelf.articles()]}

    @api.post("/v1/articles", status_code=201,
              summary="Add or update articles (.txt, .md, .html; 2 MB each, 20 at once)")
    async def add_articles(files: Annotated[list[UploadFile], File()]) -> dict:
        uploads = [Upload(f.filename or "", await f.read(MAX_UPLOAD_BYTES + 1)) for f in files]
        report = await run_in_threadpool(shelf.add, uploads)
        return _ingest_view(report)

    @api.delete("/v1/articles/{article_id}", summary="Remove an article from the index")
    async def remove_article(article_id: str) -> dict:
        if article_id not in {e.doc_id for e in shelf.articles()}:
            raise ApiError(404, f"no article {article_id!r} in the index (GET /v1/articles lists "
                                "them)", code="article_not_found")
        report = await run_in_threadpool(shelf.remove, article_id)
        return {"id": article_id, "object": "article", "deleted": True, **_size(report)}

    @api.get("/health", summary="Liveness, index size and model")
    def health() -> dict:
        entries = shelf.articles()
        return {"status": "ok", "model": MODEL_ID, "generator": assistant.generator.name,
                "articles": len(entries), "chunks": sum(e.chunks for e in entries)}

    app.include_router(api)
    return app


def _model_card(assistant: Assistant) -> dict:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "rag",
            "generator": assistant.generator.name}


def _check_model(model_id: str) -> None:
    if model_id != MODEL_ID:
        raise ApiError(404, f"model {model_id!r} does not exist; this server answers as "
                            f"{MODEL_ID!r} (GET /v1/models)", code="model_not_found")


def _article(entry) -> dict:
    return {"id": entry.doc_id, "object": "article", "title": entry.title, "date": entry.date,
            "chunks": entry.chunks}


def _size(report: IngestReport) -> dict:
    return {"articles": report.articles, "chunks": report.chunks}


def _ingest_view(report: IngestReport) -> dict:
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "skipped": [{"file": s.path.name, "reason": s.reason} for s in report.skipped],
            **_size(report)}


# ---------------------------------------------------------------------------------------------
# access, limits, errors


def _authorisation(credentials: tuple[str, str] | None, token: str | None):
    """A dependency that lets a request through with the bearer token or the UI's credentials
    (HTTP Basic); without either configured, everyone is let through (the server binds
    127.0.0.1 unless told otherwise)."""

    def check(request: Request) -> None:
        if credentials is None and token is None:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and token and secrets.compare_digest(value, token):
            return
        if scheme.lower() == "basic" and credentials and _basic_matches(value, credentials):
            return
        raise ApiError(401, "authentication required: send 'Authorization: Bearer <RAG_API_TOKEN>'"
                            " or the server's --auth credentials", kind="authentication_error",
                       code="invalid_api_key", headers={"WWW-Authenticate": 'Bearer, Basic realm="rag"'})

    return check


def _basic_matches(value: str, credentials: tuple[str, str]) -> bool:
    try:
        user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    same_user = secrets.compare_digest(user.encode(), credentials[0].encode())
    same_password = secrets.compare_digest(password.encode(), credentials[1].encode())
    return same_user and same_password


class BodyLimit:
    """Refuses an API request body over its limit with 413 before anything parses it, whether
    the client announced its length or streamed it in chunks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith("/v1/") or path == "/health"):
            await self.app(scope, receive, send)
            return
        limit = MAX_UPLOAD_BODY_BYTES if path == "/v1/articles" else MAX_CHAT_BODY_BYTES
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        body, more = [], True
        size = 0
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            body.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(body), receive), send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(_error_body(f"the request body is larger than {limit:,} bytes",
                                    "invalid_request_error", "request_too_large"), status_code=413)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as servers do

    return replay


def _add_error_handlers(app: FastAPI) -> None:
    """Every failure is a JSON error in OpenAI's shape with a 4xx/5xx status; a user's mistake
    is not logged as a server failure."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_error_body(exc.message, exc.kind, exc.code), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return await api_error(request, _from_rag_error(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_error_body(_validation_message(exc), "invalid_request_error",
                                        "invalid_request"), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_error_body(str(exc.detail), "invalid_request_error", None),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return f"the request body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    return f"{where or 'request body'}: {first.get('msg', 'invalid')}"

