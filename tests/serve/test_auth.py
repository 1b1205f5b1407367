"""With credentials or a token set, no API route answers without them."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest

from rag.serve.api import create_api
from rag.serve.shelf import Shelf
from tests.serve.conftest import ENVOY, running

TOKEN = "test-token-0123456789abcdef"


def test_with_auth_on_nothing_answers_without_credentials(assistant):
    app = create_api(assistant, Shelf(assistant), credentials=("ann", "s3cret-pass"), token=TOKEN)
    basic = base64.b64encode(b"ann:s3cret-pass").decode()
    wrong = base64.b64encode(b"ann:guess").decode()
    with running(app) as url:
        for method, path in [("GET", "/v1/models"), ("GET", "/v1/articles"), ("GET", "/health"),
                             ("POST", "/v1/chat/completions"), ("DELETE", "/v1/articles/x"),
                             ("GET", "/v1/articles/x"), ("POST", "/v1/articles/urls"),
                             ("GET", "/v1/feeds"), ("POST", "/v1/feeds/refresh")]:
            for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {wrong}"}]:
                response = httpx.request(method, url + path, headers=headers,
                                         json={"model": "rag", "messages": [{"role": "user", "content": ENVOY}]})
                assert response.status_code == 401, (method, path, headers)
                assert set(response.json()) == {"error"}
        for headers in [{"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"Basic {basic}"}]:
            assert httpx.get(f"{url}/health", headers=headers).json()["articles"] == 5
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()
        assert openai.OpenAI(base_url=f"{url}/v1", api_key=TOKEN).models.list().data[0].id == "rag"
        assert httpx.get(f"{url}/openapi.json").json()["paths"]["/v1/chat/completions"]
