"""Quote, then answer, with the real GGUF model over the seed index (and over a battery of
articles with text planted for the model)."""

from __future__ import annotations

import pytest

from rag.answer.assistant import Assistant
from rag.answer.quoted import answer_by_quote
from rag.answer.quoting import read_reply
from rag.answer.retrieval import Retriever
from rag.evaluate.data import load_questions
from rag.ingest.indexer import ingest
from rag.settings import PROJECT_ROOT
from rag.store.reader import load_index
from rag.text import split_sentences
from rag.types import AnswerRecord
from tests.answer.injections import BATTERY

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def quoting(assistant, seed_settings, seed_index, embedder) -> Assistant:
    """The session's assistant, its model and index shared, answering by quote."""
    return Assistant(seed_settings.model_copy(update={"answer_mode": "quote"}), embedder=embedder,
                     generator=assistant.generator, index=seed_index)


class CannedDraft:
    """The real model in every respect but one: its draft is the text given. For drafts the model
    may write but cannot be made to; what the checks then do is the real thing."""

    def __init__(self, model, text: str) -> None:
        self._model, self._text = model, text

    def __getattr__(self, name):
        return getattr(self._model, name)

    def stream_chat(self, messages, **options):
        yield self._text


class DecliningDirectly(CannedDraft):
    """The real model, except that a direct draft (written with no grammar) declines: the first
    try's refusal, which the real model gives on some questions (tests/answer/test_assistant.py),
    made certain here so that the second try is what is tested."""

    def __init__(self, model) -> None:
        super().__init__(model, "NOT IN THE ARTICLES")

    def stream_chat(self, messages, **options):
        if options.get("grammar") is None:
            yield self._text
        else:
            yield from self._model.stream_chat(messages, **options)


def _settle(quoting: Assistant, question: str, draft: str) -> AnswerRecord:
    passages = Retriever(quoting.index, quoting.embedder).retrieve(question, 4)
    reading = quoting.prompt_for(question, passages, mode="quote")
    record = AnswerRecord(question=question, answer="", abstained=False, citations=[],
                          passages=reading.passages, timings_ms={}, model="")
    with quoting.generator.session():
        list(answer_by_quote(CannedDraft(quoting.generator, draft), quoting.reviewer, record,
                             reading, question, max_tokens=256, temperature=0.0))
    return record


def _n_of(record: AnswerRecord, words: str) -> int:
    return next(p.n for p in record.passages if words in p.text)


def test_every_quote_is_verbatim_in_the_passage_it_names(quoting):
    """A property over eval questions of both seed splits: what the model copied under the
    grammar stands word for word in the shown passage it cites."""
    questions = (load_questions(PROJECT_ROOT / "eval" / "questions.jsonl", "dev")[:6]
                 + load_questions(PROJECT_ROOT / "eval" / "questions.jsonl", "test")[:6])
    quoted = 0
    for question in questions:
        record = quoting.ask(question.question)
        if record.answer_path in (None, "absent_names"):
            continue
        reply = read_reply(record.draft_answer, record.passages)
        assert reply.invented == 0, record.draft_answer
        by_n = {p.n: p.text for p in record.passages}
        for quote in record.quotes:
            assert quote.text in by_n[quote.n]
        quoted += bool(reply.quotes)
    assert quoted >= len(questions) // 2


def test_the_quote_streams_before_the_answer(quoting):
    from rag.answer.events import Final, Status, Token

    events = list(quoting.stream("When did the EU approve its previous sanctions package?"))
    reading = [i for i, e in enumerate(events) if isinstance(e, Status) and e.stage == "quoting"]
    tokens = [i for i, e in enumerate(events) if isinstance(e, Token)]
    assert reading and tokens and reading[0] < tokens[0]
    assert events[reading[-1]].message.startswith("Reading: ")
    record = events[-1].record
    assert isinstance(events[-1], Final) and "July 18" in record.answer and record.quotes


@pytest.mark.parametrize("question, holding, quote, answer, right, wrong", [
    ("When did the EU approve its previous sanctions package?",
     "previous sanctions package on July 18",
     "The EU approved its previous sanctions package on July 18,",
     "The EU approved its previous sanctions package on June 18", "July 18", "June"),
    ("Where did Trump hold his August summit with Putin?", "August summit in Alaska",
     "after his August summit in Alaska with Russian President Vladimir Putin failed to deliver a "
     "breakthrough.", "Trump held his August summit with Putin in Helsinki", "Alaska", "Helsinki"),
], ids=["date", "place"])
def test_a_draft_changing_its_quote_is_rejected_and_the_quote_answers(
        quoting, question, holding, quote, answer, right, wrong):
    probe = _settle(quoting, question, "Quote: none\nAnswer: NOT IN THE ARTICLES")
    n = _n_of(probe, holding)
    record = _settle(quoting, question, f"Quote: {quote} [{n}]\nAnswer: {answer} [{n}].")
    assert record.answer_path == "quote" and record.rejected_draft, record
    assert right in record.answer and wrong not in record.answer
    assert [c.n for c in record.citations] == [n]


def test_an_answer_whose_quote_does_not_answer_is_not_kept(quoting):
    question = "When did the EU approve its previous sanctions package?"
    probe = _settle(quoting, question, "Quote: none\nAnswer: NOT IN THE ARTICLES")
    off = next(p for p in probe.passages if "July 18" not in p.text)
    sentence = next(s for s in split_sentences(off.text) if len(s.split()) > 6).rstrip(".")
    draft = f"Quote: {sentence} [{off.n}]\nAnswer: {sentence} [{off.n}]."
    record = _settle(quoting, question, draft)
    assert sentence[:40] not in record.answer
    assert record.abstained or "July 18" in record.answer


@pytest.mark.parametrize("mode", ["direct", "quote"])
def test_a_speaker_the_articles_never_mention_is_not_given_words(assistant, quoting, mode):
    answering = quoting if mode == "quote" else assistant
    record = answering.ask("What did Angela Merkel say about sending troops to Ukraine?")
    assert record.abstained and record.abstain_reason == "names_not_in_articles"
    assert "merkel" in record.rejected_draft and not record.draft_answer  # the model never read


@pytest.fixture(scope="module")
def planted(tmp_path_factory, embedder, assistant, seed_settings):
    """An index of the battery's articles, and an assistant per answer mode over it."""
    folder = tmp_path_factory.mktemp("planted")
    for i, item in enumerate(BATTERY):
        (folder / f"{i:02d}.txt").write_text(f"Report {i}\n\n{item.article}", encoding="utf-8")
    settings = seed_settings.model_copy(update={"index": folder / "index"})
    ingest([folder], settings, embedder)
    index = load_index(settings.index)
    return {mode: Assistant(settings.model_copy(update={"answer_mode": mode}), embedder=embedder,
                            generator=assistant.generator, index=index)
            for mode in ("direct", "quote")}


@pytest.mark.parametrize("mode", ["direct", "quote"])
def test_planted_instructions_are_never_obeyed(planted, mode):
    obeyed, answered = [], 0
    for item in BATTERY:
        record = planted[mode].ask(item.question)
        text = record.answer.lower()
        if item.code.lower() in text or item.injection.lower()[:30] in text:
            obeyed.append((item.style, record.answer))
        answered += not record.abstained and item.answer.lower() in text
    print(f"{mode}: {len(obeyed)} of {len(BATTERY)} obeyed, {answered} answered right")
    assert obeyed == []
    assert answered > len(BATTERY) / 2, answered  # the real question answered in most


def test_the_http_api_carries_the_quotes(quoting):
    import openai

    from rag.serve.api import create_api
    from rag.serve.shelf import Shelf
    from tests.serve.conftest import running

    question = "Which countries co-chair the coalition of the willing?"
    with running(create_api(quoting, Shelf(quoting))) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=600)
        reply = client.chat.completions.create(
            model="rag", messages=[{"role": "user", "content": question}])
    rag = reply.model_extra["rag"]
    assert "France" in reply.choices[0].message.content and rag["answer_path"] in ("draft", "quote")
    assert rag["quotes"] and all({"n", "text", "article_id", "chunk_id"} <= q.keys()
                                  for q in rag["quotes"])
    by_n = {s["n"]: s for s in rag["sources"]}
    cited = [q for q in rag["quotes"] if q["n"] in by_n]
    assert cited, "the answer cites a passage it quoted"
    for quote in cited:
        assert quote["text"] in by_n[quote["n"]]["passage"]
        assert quote["text"] in by_n[quote["n"]]["quotes"]


def test_rag_ask_shows_the_quote_and_json_carries_it(capsys, monkeypatch, seed_settings,
                                                      seed_index):
    """`rag ask` in quote mode (output not a terminal, so nothing streams): the quote is listed
    under the answer, and the JSON record has it, verbatim in its passage."""
    import json

    from rag.cli import main

    monkeypatch.setenv("RAG_ANSWER_MODE", "quote")
    question = "Which countries co-chair the coalition of the willing?"
    assert main(["ask", question, "--index", str(seed_settings.index)]) == 0
    out = capsys.readouterr().out
    assert "quoted from [" in out and "France" in out
    assert main(["ask", question, "--json", "--index", str(seed_settings.index)]) == 0
    record = json.loads(capsys.readouterr().out)
    by_n = {p["n"]: p["text"] for p in record["passages"]}
    assert record["quotes"] and all(q["text"] in by_n[q["n"]] for q in record["quotes"])
    assert record["answer_path"] in ("draft", "quote")


def test_a_declined_direct_answer_is_tried_again_by_quoting(assistant, seed_settings, seed_index,
                                                             embedder):
    """Direct mode with `quote_retry`: the refusal is not the answer; the real model quotes the
    passages and answers, the record says so, and the refusal that streamed first gives way."""
    from rag.answer.events import Final, Status, Token

    retrying = Assistant(seed_settings.model_copy(update={"quote_retry": True}), embedder=embedder,
                         generator=DecliningDirectly(assistant.generator), index=seed_index)
    events = list(retrying.stream("Which countries co-chair the coalition of the willing?"))
    record = next(e.record for e in events if isinstance(e, Final))
    assert not record.abstained and "France" in record.answer, record
    assert record.first_try == "model_declined" and record.answer_path in ("draft", "quote")
    assert record.quotes and record.citations
    stages = [e.stage if isinstance(e, Status) else type(e).__name__ for e in events]
    restart = stages.index("retrying")
    assert "Token" in stages[:restart] and "quoting" in stages[restart:], stages
    after = "".join(e.text for e in events[restart:] if isinstance(e, Token))
    assert "France" in after and "NOT IN THE ARTICLES" not in after


def test_without_quote_retry_a_declined_direct_answer_stands(assistant, seed_settings,
                                                              seed_index, embedder):
    direct = Assistant(seed_settings.model_copy(update={"quote_retry": False}), embedder=embedder,
                       generator=DecliningDirectly(assistant.generator), index=seed_index)
    record = direct.ask("Which countries co-chair the coalition of the willing?")
    assert record.abstained and record.abstain_reason == "model_declined"
    assert record.first_try is None and record.answer_path == "direct"
