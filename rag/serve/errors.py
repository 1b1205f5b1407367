"""The API's failures, every one a JSON error in OpenAI's shape with a 4xx/5xx status:
{"error": {"message", "type", "code", "param"}}.

Routes raise `ApiError`; `add_error_handlers` answers it, a `RagError`, a request that fails
validation and Starlette's own HTTP errors (404 for an unknown path…) alike.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import BadInput, IndexBusy, RagError


class ApiError(Exception):
    """An answer in OpenAI's error shape: {"error": {"message", "type", "code", "param"}}."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 kind: str = "invalid_request_error", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind
        self.headers = headers


def error_body(message: str, kind: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


def from_rag_error(exc: RagError) -> ApiError:
    if isinstance(exc, BadInput):
        return ApiError(400, str(exc))
    if isinstance(exc, IndexBusy):
        return ApiError(409, str(exc), code="index_busy")
    return ApiError(503, str(exc), kind="server_error", code="unavailable")


def add_error_handlers(app: FastAPI) -> None:
    """Every failure is a JSON error in OpenAI's shape with a 4xx/5xx status; a user's mistake
    is not logged as a server failure."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.kind, exc.code), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return await api_error(request, from_rag_error(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(_validation_message(exc), "invalid_request_error",
                                       "invalid_request"), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail), "invalid_request_error", None),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return f"the request body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    return f"{where or 'request body'}: {first.get('msg', 'invalid')}"
