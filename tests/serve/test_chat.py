"""`/v1/models` and `/v1/chat/completions` through the official `openai` client."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from rag.answer.retrieval import Retriever
from rag.serve.chat import answer_view
from rag.types import AnswerRecord, Citation, Passage
from tests.serve.conftest import ENVOY


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


def test_a_source_says_where_to_open_it_and_who_else_carried_it():
    copy = {"doc_id": "wire-2", "title": "Ferry gets a deck", "url": "https://other.example/f"}
    passage = Passage(n=1, doc_id="report", chunk_id="report#3", title="Harbour report",
                      date="2025-10-06", text="The Velmora ferry will get a second deck.",
                      score=0.9, start=1200, end=1241, url="https://port.example/report",
                      page=2, also_in=[copy])
    record = AnswerRecord(question="q", answer="It gets a second deck [1].", abstained=False,
                          citations=[Citation(1, "report", "report#3")], passages=[passage],
                          timings_ms={}, model="m")
    [source] = answer_view(record)["sources"]
    assert source["url"] == "https://port.example/report" and source["page"] == 2
    assert source["also_in"] == [copy] and source["article_id"] == "report"


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
