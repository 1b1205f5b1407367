"""How large an API request body may be: 1 MB for chat and URLs, a batch's upload limit (plus
multipart framing) for `POST /v1/articles`; anything larger is refused with 413 before it is
parsed."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.serve.errors import error_body
from rag.serve.uploads import MAX_BATCH_BYTES, MAX_UPLOAD_FILES

MAX_CHAT_BODY_BYTES = 1_000_000
MAX_UPLOAD_BODY_BYTES = MAX_BATCH_BYTES + MAX_UPLOAD_FILES * 1_000 + 256_000  # multipart framing


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
    return JSONResponse(error_body(f"the request body is larger than {limit:,} bytes",
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
