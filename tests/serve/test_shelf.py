"""The article shelf behind the UI's and the API's uploads: real ingest, real FAISS, real MiniLM."""

from __future__ import annotations

import pytest

from rag.answer.assistant import Assistant
from rag.errors import BadInput, RagError
from rag.serve.shelf import MAX_UPLOAD_BYTES, Shelf, Upload, safe_upload_name

ARTICLE = (b"# Quellmar bridge works\n\nCity engineers painted the Zorblat bridge in Quellmar teal "
           b"in October 2025, the city engineer Ilsa Varn said.\n")


def test_upload_names_cannot_escape_the_folder():
    assert safe_upload_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_upload_name("..\\..\\x.md") == "x.md"
    assert safe_upload_name("my report (final).HTML") == "my_report_final.html"
    assert safe_upload_name(".hidden.txt") == "hidden.txt"
    with pytest.raises(RagError, match="only"):
        safe_upload_name("run.sh")


@pytest.fixture
def shelf(settings, embedder) -> Shelf:
    return Shelf(Assistant(settings, embedder=embedder))


def test_add_then_remove_an_upload(shelf):
    assert shelf.articles() == []  # no index yet: an empty shelf, not an error
    report = shelf.add([Upload("../bridge (draft).md", ARTICLE)])
    assert len(report.added) == 1 and report.articles == 1
    [entry] = shelf.articles()
    assert entry.title == "Quellmar bridge works"
    saved = shelf.uploads / "bridge_draft.md"
    assert saved.read_bytes() == ARTICLE
    assert shelf.assistant.index.article_entries().keys() == {entry.doc_id}  # picked up at once

    shelf.remove(entry.doc_id)
    assert shelf.articles() == [] and not saved.exists()


def test_a_bad_file_in_a_batch_adds_nothing(shelf):
    with pytest.raises(BadInput, match="only .txt"):
        shelf.add([Upload("good.md", ARTICLE), Upload("evil.exe", b"MZ")])
    with pytest.raises(BadInput, match="larger than 2 MB"):
        shelf.add([Upload("good.md", ARTICLE), Upload("big.txt", b"x" * (MAX_UPLOAD_BYTES + 1))])
    with pytest.raises(BadInput, match="empty"):
        shelf.add([Upload("blank.txt", b"  \n")])
    assert shelf.articles() == [] and not shelf.uploads.exists()


def test_a_failed_upload_leaves_the_earlier_file_and_index(shelf):
    shelf.add([Upload("bridge.md", ARTICLE)])
    [before] = shelf.articles()
    with pytest.raises(BadInput, match="no readable article"):
        shelf.add([Upload("bridge.md", b"\x00\x01\x02 binary"), Upload("new.md", b"\x00\xff")])
    assert (shelf.uploads / "bridge.md").read_bytes() == ARTICLE
    assert not (shelf.uploads / "new.md").exists()
    assert shelf.articles() == [before]
