"""A client's mistakes get OpenAI-shaped 4xx errors (413 for a body over the limit), not tracebacks."""

from __future__ import annotations

import logging

import httpx

from rag.serve.limits import MAX_CHAT_BODY_BYTES
from tests.serve.conftest import ENVOY


def test_bad_requests_get_clear_4xx_answers_and_no_traceback(base_url, caplog):
    caplog.set_level(logging.INFO)
    chat = f"{base_url}/v1/chat/completions"
    user = [{"role": "user", "content": ENVOY}]
    cases = [
        (dict(content=b'{"model": "rag", "messages": [', headers={"content-type": "application/json"}),
         400, "not valid JSON"),
        (dict(json={"model": "rag", "messages": []}), 400, "no user message"),
        (dict(json={"model": "rag"}), 400, "messages: Field required"),
        (dict(json={"model": "rag", "messages": [{"role": "user", "content": "   "}]}), 400,
         "the question is empty"),
        (dict(json={"model": "rag", "messages": user + [{"role": "assistant", "content": "x"}]}),
         400, "last message must be the user's"),
        (dict(json={"model": "rag", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]}), 400, "send text only"),
        (dict(json={"model": "rag", "messages": user, "n": 3}), 400, "n must be 1"),
        (dict(json={"model": "rag", "messages": user, "since": "last week"}), 400, "YYYY-MM-DD"),
        (dict(json={"model": "gpt-4o", "messages": user}), 404, "does not exist"),
        (dict(json={"model": "rag", "messages": [{"role": "user", "content": "x" * MAX_CHAT_BODY_BYTES}]}),
         413, "larger than"),
        (dict(content=(b"x" * 65536 for _ in range(20)), headers={"content-type": "application/json"}),
         413, "larger than"),  # a chunked body that never says its length
    ]
    for kwargs, status, message in cases:
        response = httpx.post(chat, timeout=60, **kwargs)
        assert response.status_code == status, (kwargs.get("json"), response.text)
        error = response.json()["error"]
        assert message in error["message"], error
    assert httpx.get(f"{base_url}/v1/models/gpt-4o").status_code == 404
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
