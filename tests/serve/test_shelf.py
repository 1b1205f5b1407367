"""The article shelf behind the UI's and the API's uploads: real ingest, real FAISS, real MiniLM."""

from __future__ import annotations

import pytest

from rag.answer.assistant import Assistant
from rag.errors import BadInput, RagError
from rag.serve.shelf import Shelf
from rag.serve.uploads import (MAX_BATCH_BYTES, MAX_DOCUMENT_BYTES, MAX_TEXT_BYTES, Upload,
                               safe_upload_name)

ARTICLE = (b"# Quellmar bridge works\n\nCity engineers painted the Zorblat bridge in Quellmar teal "
           b"in October 2025, the city engineer Ilsa Varn said.\n")


def test_upload_names_cannot_escape_the_folder():
    assert safe_upload_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_upload_name("..\\..\\x.md") == "x.md"
    assert safe_upload_name("my report (final).HTML") == "my_report_final.html"
    assert safe_upload_name(".hidden.txt") == "hidden.txt"
    assert safe_upload_name("Annual Report.PDF") == "Annual_Report.pdf"
    assert safe_upload_name("notes.docx") == "notes.docx"
    with pytest.raises(RagError, match="only"):
        safe_upload_name("run.sh")


@pytest.fixture
def shelf(settings, embedder) -> Shelf:
    return Shelf(Assistant(settings, embedder=embedder))


def test_add_then_remove_an_upload(shelf):
    assert shelf.articles() == []  # no index yet: an empty shelf, not an error
    assert shelf.article("anything") is None
    report = shelf.add([Upload("../bridge (draft).md", ARTICLE)])
    assert len(report.added) == 1 and report.articles == 1
    [entry] = shelf.articles()
    assert entry.title == "Quellmar bridge works"
    saved = shelf.uploads / "bridge_draft.md"
    assert saved.read_bytes() == ARTICLE
    assert shelf.assistant.index.article_entries().keys() == {entry.doc_id}  # picked up at once
    assert "Ilsa Varn" in shelf.article(entry.doc_id).text

    shelf.remove(entry.doc_id)
    assert shelf.articles() == [] and not saved.exists()


def test_a_bad_file_in_a_batch_adds_nothing(shelf):
    with pytest.raises(BadInput, match="only .txt"):
        shelf.add([Upload("good.md", ARTICLE), Upload("evil.exe", b"MZ")])
    with pytest.raises(BadInput, match="larger than 2 MB"):
        shelf.add([Upload("good.md", ARTICLE), Upload("big.txt", b"x" * (MAX_TEXT_BYTES + 1))])
    with pytest.raises(BadInput, match="larger than 20 MB"):
        shelf.add([Upload("big.pdf", b"%PDF" + b"x" * MAX_DOCUMENT_BYTES)])
    nearly_full = b"%PDF" + b"x" * (MAX_DOCUMENT_BYTES - 10)
    with pytest.raises(BadInput, match="a batch"):
        shelf.add([Upload(f"part{i}.pdf", nearly_full)
                   for i in range(MAX_BATCH_BYTES // MAX_DOCUMENT_BYTES + 1)])
    with pytest.raises(BadInput, match="empty"):
        shelf.add([Upload("blank.txt", b"  \n")])
    assert shelf.articles() == [] and not shelf.uploads.exists()


def test_a_failed_upload_leaves_the_earlier_file_and_index(shelf):
    shelf.add([Upload("bridge.md", ARTICLE)])
    [before] = shelf.articles()
    with pytest.raises(BadInput, match="no readable article among the uploads: bridge.md: "):
        shelf.add([Upload("bridge.md", b"\x00\x01\x02 binary"), Upload("new.md", b"\x00\xff")])
    assert (shelf.uploads / "bridge.md").read_bytes() == ARTICLE
    assert not (shelf.uploads / "new.md").exists()
    assert shelf.articles() == [before]


def test_an_unreadable_file_beside_a_good_one_comes_back_by_name(shelf):
    report = shelf.add([Upload("bridge.md", ARTICLE), Upload("noise.txt", b"\x00\x01 binary")])
    assert len(report.added) == 1
    [skipped] = report.skipped
    assert skipped.path == "noise.txt" and skipped.reason  # its name, not the server's path
