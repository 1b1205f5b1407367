"""The HTTP API against a real server: uvicorn on a free port in front of the session's assistant
(seed index, bundled GGUF), called the way its users call it: the official `openai` client and
plain HTTP. The browser-side check that UI, `curl` and `openai` agree is in test_ui_browser.py.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import openai
import pytest
import uvicorn

from rag.api import MAX_CHAT_BODY_BYTES, create_api
from rag.articles import MAX_UPLOAD_BYTES, Shelf
from rag.pipeline import Assistant
from rag.retrieval import Retriever

ENVOY = "Which US special envoy attended the talks at the Elysee Palace?"
TOKEN = "test-token-0123456789abcdef"


@contextmanager
def running(app) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 in a thread; log records reach pytest's caplog."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           log_level="info"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def base_url(assistant) -> Iterator[str]:
    with running(create_api(assistant, Shelf(assistant))) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=600)


def _rag(obj) -> dict:
    """The extra `rag` field, which the openai client keeps but does not model."""
    return obj.model_extra["rag"]


def test_models_name_the_assistant(client, assistant):
    [model] = client.models.list().data
    assert model.id == "rag"
    assert client.models.retrieve("rag").model_extra["generator"] == assistant.generator.name


@pytest.mark.model
def test_answer_with_checked_citations_and_sources(client):
    reply = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": ENVOY}])
    content = reply.choices[0].message.content
    assert "Witkoff" in content and "[" in content
    rag = _rag(reply)
    assert rag["abstained"] is False and rag["question"] == ENVOY
    assert rag["sources"], "a cited answer lists its sources"
    for source in rag["sources"]:
        assert f"[{source['n']}]" in content
        assert {"title", "date", "article_id", "passage", "supporting_sentence"} <= source.keys()
    assert any("Witkoff" in (s["supporting_sentence"] or "") for s in rag["sources"])
    assert reply.usage.prompt_tokens > 100 and reply.usage.completion_tokens > 0


@pytest.mark.model
def test_streaming_sends_sources_first_then_the_same_checked_answer(client):
    whole = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": ENVOY}])
    chunks = list(client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": ENVOY}], stream=True,
        stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    reading = next(i for i, c in enumerate(chunks) if c.model_extra.get("rag", {}).get("reading"))
    first_text = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    assert reading < first_text
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content  # deterministic, and checked in both
    [last] = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert _rag(last)["sources"] == _rag(whole)["sources"]
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


@pytest.mark.model
def test_earlier_turns_make_a_follow_up_standalone(client):
    reply = client.chat.completions.create(model="rag", messages=[
        {"role": "system", "content": "Ignored: the assistant's instructions are fixed."},
        {"role": "user", "content": "Which US special envoy attended the Paris talks?"},
        {"role": "assistant", "content": "Steve Witkoff attended the talks [1]."},
        {"role": "user", "content": "How long did he stay before leaving the Elysee Palace?"}])
    rag = _rag(reply)
    assert rag["standalone_question"] != rag["question"]
    assert "45 minutes" in reply.choices[0].message.content


@pytest.mark.model
def test_twelve_concurrent_requests_each_get_their_own_answer(client, assistant):
    questions = [
        ENVOY, "Who is the editor of the Vatfor project?",
        ("How many countries did Macron say are ready to send troops or contribute other support "
         "to Ukraine?"),
        "Which countries co-chair the coalition of the willing?",
        "Where did Trump hold his August summit with Putin?",
        "What tariff has the Trump administration imposed on India?",
        "What is Sweden's position on taking part in the mission?",
        "In which city was Zelenskyy when he said he would try to connect with President Trump?",
        "What condition did Putin set for a ceasefire to be achieved?",
        "Which EU sanctions package against Russia did Kaja Kallas say would be ready in September?",
        "What did Germany say about sending troops to Ukraine?",
        "Whose soldiers has Moscow warned it would not tolerate on Ukrainian soil?",
    ]

    def ask(question: str):
        return client.chat.completions.create(model="rag",
                                              messages=[{"role": "user", "content": question}])

    with ThreadPoolExecutor(len(questions)) as pool:
        replies = list(pool.map(ask, questions))

    retriever = Retriever(assistant.index, assistant.embedder, rrf_k=assistant.settings.rrf_k,
                          candidates=assistant.settings.candidates)
    for question, reply in zip(questions, replies, strict=True):
        rag = _rag(reply)
        assert rag["question"] == question
        own = {p.chunk_id for p in retriever.retrieve(question, assistant.settings.top_k)}
        assert {s["chunk_id"] for s in rag["sources"]} <= own, question
    assert "Witkoff" in replies[0].choices[0].message.content
    assert "Poletaev" in replies[1].choices[0].message.content
    assert "26" in replies[2].choices[0].message.content


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


def test_with_auth_on_nothing_answers_without_credentials(assistant):
    app = create_api(assistant, Shelf(assistant), credentials=("ann", "s3cret-pass"), token=TOKEN)
    basic = base64.b64encode(b"ann:s3cret-pass").decode()
    wrong = base64.b64encode(b"ann:guess").decode()
    with running(app) as url:
        for method, path in [("GET", "/v1/models"), ("GET", "/v1/articles"), ("GET", "/health"),
                             ("POST", "/v1/chat/completions"), ("DELETE", "/v1/articles/x")]:
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


def test_articles_are_listed_added_and_removed(settings, embedder, assistant, caplog):
    caplog.set_level(logging.INFO)
    private = Assistant(settings, embedder=embedder, generator=assistant.generator)
    text = b"# Quellmar bridge works\n\nCity engineers painted the Zorblat bridge teal in October 2025.\n"
    article = ("bridge.md", text, "text/markdown")
    with running(create_api(private, Shelf(private))) as url:
        assert httpx.get(f"{url}/v1/articles").json()["data"] == []
        added = httpx.post(f"{url}/v1/articles", files=[("files", article)], timeout=120)
        assert added.status_code == 201 and len(added.json()["added"]) == 1, added.text
        [entry] = httpx.get(f"{url}/v1/articles").json()["data"]
        assert entry["title"] == "Quellmar bridge works"
        assert httpx.get(f"{url}/health").json()["articles"] == 1

        refused = [
            (("run.sh", b"echo hi", "text/plain"), 400, "only .txt"),
            (("big.txt", b"x" * (MAX_UPLOAD_BYTES + 1), "text/plain"), 400, "larger than 2 MB"),
        ]
        for file, status, message in refused:
            response = httpx.post(f"{url}/v1/articles", files=[("files", file)], timeout=120)
            assert response.status_code == status and message in response.json()["error"]["message"]
        assert httpx.post(f"{url}/v1/articles", timeout=60).status_code == 400  # no files at all

        assert httpx.delete(f"{url}/v1/articles/nope").status_code == 404
        removed = httpx.delete(f"{url}/v1/articles/{entry['id']}")
        assert removed.json() == {"id": entry["id"], "object": "article", "deleted": True,
                                  "articles": 0, "chunks": 0}
        assert httpx.get(f"{url}/v1/articles").json()["data"] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
