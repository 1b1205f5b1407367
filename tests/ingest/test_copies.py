"""The same story from two outlets is linked at ingest, retrieval keeps one of them, and the
passage names the other outlet; different articles on the same events are not linked."""

import shutil

from rag.answer.retrieval import Retriever
from rag.ingest.copies import band_keys, signature, similarity
from rag.ingest.indexer import ingest
from rag.store.reader import load_index
from tests.conftest import SEEDS

ORIGINAL = "002_ae23ea00b4c5bd97"
QUESTION = "Which US special envoy attended the talks at the Elysee Palace?"


def _as_another_outlet(text: str) -> str:
    """The article as a second outlet republishes it: its own furniture and headline, a
    paragraph cut, a line of its own."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    del paragraphs[3]
    return "\n".join(["Menu", "Home", "World", "Sign in",
                      "Allies meet in Paris on guarantees for Kyiv | The Northern Courier",
                      "By Courier staff with agencies", *paragraphs[:2],
                      "This story has been updated with additional reporting.", *paragraphs[2:],
                      "© 2025 The Northern Courier. All rights reserved.", "Related stories"])


def test_signatures_tell_a_republished_story_from_another_article(seed_index):
    original = seed_index.article(ORIGINAL).text
    other = seed_index.article("001_b72cc718d4f6e6c6").text
    copy = _as_another_outlet(original)
    assert similarity(signature(original), signature(copy)) > 0.7
    assert similarity(signature(original), signature(other)) < 0.1
    assert len(band_keys(signature(copy))) == 32
    assert signature("Too short to link.") == ()


def test_a_republished_copy_is_linked_and_retrieval_keeps_one_passage(settings, embedder, tmp_path):
    corpus = tmp_path / "articles"
    shutil.copytree(SEEDS, corpus)
    report = ingest([corpus], settings, embedder)
    assert report.copies == {}  # five different articles on the same events

    raw = (SEEDS / f"{ORIGINAL}.txt").read_text(encoding="utf-8")
    header, body = raw.split("\n", 1)
    (corpus / "courier_paris_talks.txt").write_text(f"{header}\n{_as_another_outlet(body)}",
                                                    encoding="utf-8")
    report = ingest([corpus], settings, embedder)
    assert report.added == ["courier_paris_talks"] and report.copies == {"courier_paris_talks": ORIGINAL}

    index = load_index(settings.index)
    assert [e.doc_id for e in index.group_members([ORIGINAL])[ORIGINAL]] == \
        [ORIGINAL, "courier_paris_talks"]
    passages = Retriever(index, embedder).retrieve(QUESTION, 4)
    story = [p for p in passages if p.doc_id in (ORIGINAL, "courier_paris_talks")]
    assert len({p.doc_id for p in story}) == 1, "one outlet stands for the story"
    other = ({ORIGINAL, "courier_paris_talks"} - {story[0].doc_id}).pop()
    assert story[0].also_in and story[0].also_in[0]["doc_id"] == other
    assert all(p.also_in == [] for p in passages if p not in story)

    (corpus / f"{ORIGINAL}.txt").unlink()
    ingest([corpus], settings, embedder)
    passages = Retriever(load_index(settings.index), embedder).retrieve(QUESTION, 4)
    assert "courier_paris_talks" in {p.doc_id for p in passages}
    assert all(p.also_in == [] for p in passages)


def test_an_original_rewritten_into_another_story_leaves_its_copies_together(settings, embedder,
                                                                            tmp_path):
    corpus = tmp_path / "articles"
    corpus.mkdir()
    original = (SEEDS / f"{ORIGINAL}.txt").read_text(encoding="utf-8")
    header, body = original.split("\n", 1)
    (corpus / "a_original.txt").write_text(original, encoding="utf-8")
    (corpus / "b_courier.txt").write_text(f"{header}\n{_as_another_outlet(body)}", encoding="utf-8")
    (corpus / "c_ledger.txt").write_text(f"{header}\n{_as_another_outlet(body)}\nEnd of report.",
                                         encoding="utf-8")
    report = ingest([corpus], settings, embedder)
    assert set(report.copies) == {"b_courier", "c_ledger"}  # each linked to its closest copy
    index = load_index(settings.index)
    assert [e.doc_id for e in index.group_members(["a_original"])["a_original"]] == \
        ["a_original", "b_courier", "c_ledger"]

    (corpus / "a_original.txt").write_text((SEEDS / "001_b72cc718d4f6e6c6.txt").read_text(
        encoding="utf-8"), encoding="utf-8")
    report = ingest([corpus], settings, embedder)
    assert report.updated == ["a_original"] and report.copies == {}
    index = load_index(settings.index)
    assert index.article("a_original").group.startswith("a_original~")
    assert [e.doc_id for e in index.group_members(["a_original"])["a_original"]] == \
        ["b_courier", "c_ledger"], "the copies still tell the same story; the original does not"
    passages = Retriever(index, embedder).retrieve(QUESTION, 4)
    assert len({p.doc_id for p in passages} & {"b_courier", "c_ledger"}) == 1
