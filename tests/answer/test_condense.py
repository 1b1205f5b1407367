"""Context economy over the real seed index and the real MiniLM model."""

from __future__ import annotations

import pytest

from rag.answer.assistant import Assistant
from rag.answer.condense import condense
from rag.answer.retrieval import Retriever
from rag.text import split_sentences

QUESTION = "How long after the conference started did Witkoff leave the Elysee Palace?"


def _passages(seed_index, embedder, question: str):
    return Retriever(seed_index, embedder).retrieve(question, 4)


def test_the_answer_survives_and_the_rest_shrinks(seed_index, embedder):
    whole = _passages(seed_index, embedder, QUESTION)
    condensed = condense(whole, QUESTION, embedder, budget=700)
    assert "45 minutes" in " ".join(p.text for p in condensed)
    assert sum(len(p.text) for p in condensed) < 0.8 * sum(len(p.text) for p in whole)
    assert [p.n for p in condensed] == list(range(1, len(condensed) + 1))
    by_chunk = {p.chunk_id: p for p in whole}
    for passage in condensed:
        original = by_chunk[passage.chunk_id].text
        for piece in passage.text.replace("…", "\n").split("\n"):
            assert not piece.strip() or piece.strip() in original  # only the article's own words
    sentences = [s for p in condensed for s in split_sentences(p.text.replace("…", ""))]
    assert len(sentences) == len(set(sentences))


def test_a_budget_larger_than_the_passages_keeps_every_sentence(seed_index, embedder):
    whole = _passages(seed_index, embedder, QUESTION)
    kept = condense(whole, QUESTION, embedder, budget=100_000)
    assert [" ".join(p.text.split()) for p in kept] == [" ".join(p.text.split()) for p in whole]
    assert "…" not in " ".join(p.text for p in kept)


@pytest.mark.model
def test_a_condensed_answer_is_checked_against_what_the_model_read(assistant, seed_index, embedder):
    settings = assistant.settings.model_copy(update={"passage_budget": 700})
    condensed = Assistant(settings, embedder=embedder, index=seed_index,
                          generator=assistant.generator)
    record = condensed.ask(QUESTION)
    whole = _passages(seed_index, embedder, QUESTION)
    assert sum(len(p.text) for p in record.passages) < sum(len(p.text) for p in whole)
    assert "45 minutes" in record.answer and not record.abstained
    cited = {c.n for c in record.citations}
    assert all(s.supported for s in record.sentence_support)
    assert any("45 minutes" in p.text for p in record.passages if p.n in cited)
