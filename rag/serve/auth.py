"""Who may call the API: the bearer token (`RAG_API_TOKEN`) or the UI's `--auth` credentials."""

from __future__ import annotations

import base64
import binascii
import secrets

from fastapi import Request

from rag.serve.errors import ApiError


def authorisation(credentials: tuple[str, str] | None, token: str | None):
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
