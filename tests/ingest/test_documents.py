"""PDF and Word files read as articles: real files written by fpdf2 and python-docx, read back by
PDFium and python-docx, and ingested into a real index."""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from pathlib import Path

import docx
import pypdfium2 as pdfium
from fpdf import FPDF
from PIL import Image

from rag.cli import main
from rag.ingest import documents
from rag.ingest.chunking import chunk_article
from rag.ingest.documents import NO_TEXT_LAYER
from rag.ingest.indexer import ingest
from rag.ingest.sources import MAX_DOCUMENT_BYTES, find_article_files, load_article, load_articles
from rag.store.reader import load_index
from rag.types import Skipped

# one distinctive sentence a page, each long enough to wrap over two printed lines
DISTINCT = [
    "The lighthouse keeper Ilse Marten counted forty-two gulls on the northern breakwater while "
    "the tugboats waited outside the harbour mouth for the signal.",
    "Ferry operator Nordlys will add a night crossing to the islands from May, its chief executive "
    "told shareholders gathered in the old customs house on Tuesday.",
    "Councillors approved 3.4 million euros for quay repairs after engineers found cracks in the "
    "granite blocks that had held the western pier since the nineteenth century.",
]
FILLER = [
    ["Fishing boats were the first vessels to leave, carrying crews who had waited on shore since "
     "the closure began and who lost more than a week of catches to the weather.",
     "Harbour master Joan Pellicer said the channel had been surveyed twice before any ship was "
     "allowed to pass, because the storm had moved sand into the approach."],
    ["Traders at the fish market said prices had doubled during the closure, as restaurants along "
     "the promenade bought what little came in by road from the southern ports.",
     "Tourism officials expect the first cruise ship of the season to dock next month, weeks "
     "later than planned, and have asked hotels to keep rooms available."],
    ["The repairs will begin in June and last until the autumn, during which the pier will stay "
     "closed to visitors and anglers who usually crowd its end at sunset.",
     "Opposition members asked why the cracks had not been found during the inspection two years "
     "ago, and the mayor promised to publish the engineers' full report."],
]


class _Gazette(FPDF):
    """A newspaper print-out: a running header and a page number on every page."""

    def header(self) -> None:
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, "Valmora Gazette | Harbour", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 10, f"Page {self.page_no()} of 3", align="C")


def _write_pdf(path: Path, *, title: str | None = None, byline: str | None = "By Ana Ruiz, 2 March 2025",
               created: datetime | None = None) -> Path:
    pdf = _Gazette()
    if title is not None:
        pdf.set_title(title)
    pdf.set_author("Ana Ruiz")
    if created:
        pdf.set_creation_date(created)
    for n in range(3):
        pdf.add_page()
        if n == 0:
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(0, 10, "Harbour of Valmora reopens after storm", new_x="LMARGIN", new_y="NEXT")
            if byline:
                pdf.set_font("Helvetica", size=9)
                pdf.multi_cell(0, 6, byline, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        first, last = FILLER[n]
        for paragraph in (first, f"{DISTINCT[n]} {first.split(',')[0]} again.", last):
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))
    return path


def _write_scanned_pdf(path: Path) -> Path:
    """What a scanner makes: a page that is one picture, with no text layer."""
    pdf = FPDF()
    pdf.add_page()
    pdf.image(Image.new("RGB", (400, 560), "white"), x=10, y=10, w=190)
    pdf.output(str(path))
    return path


def test_each_page_starts_where_its_words_are_in_the_clean_text(tmp_path):
    article = load_article(_write_pdf(tmp_path / "harbour.pdf", title="Harbour of Valmora reopens"))
    assert article.doc_id == "harbour" and article.source == str(tmp_path / "harbour.pdf")
    assert article.title == "Harbour of Valmora reopens"  # the metadata's, not the first line
    assert article.author == "Ana Ruiz"
    assert article.date == "2025-03-02"  # the byline's date, not when the file was made
    assert len(article.pages) == 3 and article.pages[0] == 0
    for page, sentence in enumerate(DISTINCT, start=1):
        assert sentence in article.text  # whole: printed lines joined back into paragraphs
        assert article.page_at(article.text.index(sentence)) == page
        assert article.page_at(article.text.index(sentence) + len(sentence) - 1) == page
    for furniture in ("Valmora Gazette", "Page 2 of 3", "By Ana Ruiz"):
        assert furniture not in article.text  # running header, page numbers, byline


def test_chunks_carry_the_page_their_words_come_from(tmp_path):
    path = _write_pdf(tmp_path / "harbour.pdf")
    article = load_article(path)
    with pdfium.PdfDocument(str(path)) as pdf:
        printed = [" ".join(pdf[i].get_textpage().get_text_bounded().split()) for i in range(3)]
    chunks = chunk_article(article, size=220, overlap=40)
    pages = [article.page_at(chunk.start) for chunk in chunks]
    assert set(pages) == {1, 2, 3} and pages == sorted(pages)
    for chunk, page in zip(chunks, pages):
        opening = " ".join(chunk.text.split()[:4])
        assert opening in printed[page - 1], (page, chunk.text)
        assert all(opening not in other for i, other in enumerate(printed) if i != page - 1)


def test_placeholder_title_and_no_dated_text_fall_back(tmp_path):
    made = datetime(2025, 4, 7, 9, 30, tzinfo=timezone.utc)
    article = load_article(_write_pdf(tmp_path / "draft.pdf", title="Microsoft Word - draft3.docx",
                                      byline=None, created=made))
    assert article.title == "Harbour of Valmora reopens after storm"  # cleaning's: the headline
    assert article.date == "2025-04-07"  # no date in the text, so the file's CreationDate


def test_scanned_pdf_is_skipped_with_what_to_do(tmp_path):
    scanned = _write_scanned_pdf(tmp_path / "scan.pdf")
    articles, skipped = load_articles([scanned])
    assert articles == [] and skipped == [Skipped(str(scanned), NO_TEXT_LAYER)]
    assert "ocrmypdf" in NO_TEXT_LAYER


def test_ingesting_only_a_scanned_pdf_is_one_line_and_exit_2(tmp_path, capsys):
    scanned = _write_scanned_pdf(tmp_path / "scan.pdf")
    code = main(["ingest", str(scanned), "--index", str(tmp_path / "idx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("rag: error: "), err
    assert "no text layer" in err[0] and str(scanned) in err[0]


def test_encrypted_damaged_and_oversized_pdfs_say_so(tmp_path):
    locked = FPDF()
    locked.add_page()
    locked.set_font("Helvetica", size=12)
    locked.cell(text="Words behind a password.")
    locked.set_encryption(owner_password="owner", user_password="reader")
    locked.output(str(tmp_path / "locked.pdf"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a PDF body\n")
    whole = _write_pdf(tmp_path / "whole.pdf").read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(whole[: len(whole) // 2])
    with open(tmp_path / "huge.pdf", "wb") as huge:  # sparse: no 50 MB written
        huge.truncate(MAX_DOCUMENT_BYTES + 1)
    articles, skipped = load_articles([tmp_path])
    assert [a.doc_id for a in articles] == ["whole"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["locked.pdf"].startswith("encrypted: the PDF needs a password")
    assert reasons["broken.pdf"].startswith("damaged or not a PDF")
    assert reasons["truncated.pdf"].startswith("damaged or not a PDF")
    assert reasons["huge.pdf"].startswith("larger than 50 MB")
    assert all("\n" not in reason for reason in reasons.values())


def test_a_report_mentioning_a_newsletter_late_on_keeps_its_last_pages(tmp_path):
    """The web-page footer cut (everything after "newsletter" in the last 40%) is not for
    documents: here it would drop the end of page 3 and all of page 4."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for n, paragraphs in enumerate(FILLER + [["The council will vote on the final budget for the "
                                              "quay repairs at its meeting on 12 June."]]):
        pdf.add_page()
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
        if n == 2:
            pdf.multi_cell(0, 6, "Subscribe to our newsletter to follow the harbour works.",
                           new_x="LMARGIN", new_y="NEXT")
            pdf.multi_cell(0, 6, "The engineers' report runs to ninety pages.",
                           new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "report.pdf"))
    article = load_article(tmp_path / "report.pdf")
    assert len(article.pages) == 4
    for page, words in ((3, "Subscribe to our newsletter"), (3, "ninety pages"),
                        (4, "vote on the final budget")):
        at = article.text.index(words)
        assert article.pages[page - 1] <= at < (article.pages + (len(article.text),))[page]


def test_a_pdf_with_only_an_owner_password_is_read(tmp_path):
    """Permissions without a user password: anyone may open it, so it is no obstacle."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="The harbour reopened on Thursday, the port authority said.")
    pdf.set_encryption(owner_password="owner")
    pdf.output(str(tmp_path / "restricted.pdf"))
    assert "port authority said" in load_article(tmp_path / "restricted.pdf").text


def _write_docx(path: Path, *, title: str = "", author: str = "") -> Path:
    document = docx.Document()
    if title:
        document.core_properties.title = title
    if author:
        document.core_properties.author = author
    document.add_paragraph("Ferry crossings resume", style="Title")
    document.add_paragraph("The ferry to the islands sailed again on Friday, 14 March 2025, after "
                           "the harbour reopened, the operator said.")
    document.add_heading("Timetable", level=2)
    document.add_paragraph("Crossings leave every two hours from the old customs pier.")
    table = document.add_table(rows=3, cols=2)
    for row, (route, departures) in zip(table.rows, [("Route", "Departures"),
                                                      ("Valmora to Isla Mayor", "8"),
                                                      ("Valmora to Isla Menor", "5")]):
        row.cells[0].text, row.cells[1].text = route, departures
    merged = table.add_row()
    merged.cells[0].merge(merged.cells[1]).text = "Night crossings start in May."
    document.add_paragraph("Tickets are sold on board and at the pier kiosk.")
    document.save(str(path))
    return path


def test_word_document_keeps_order_headings_and_tables(tmp_path):
    article = load_article(_write_docx(tmp_path / "ferry.docx", title="Ferries return to Valmora",
                                       author="Marta Vidal"))
    assert article.doc_id == "ferry" and article.source == str(tmp_path / "ferry.docx")
    assert article.title == "Ferries return to Valmora"  # core properties win
    assert article.author == "Marta Vidal"
    assert article.date == "2025-03-14"
    assert article.pages == ()  # Word lays out pages only when it renders
    paragraphs = article.text.split("\n\n")
    assert paragraphs[paragraphs.index("Timetable") + 1].startswith("Crossings leave")
    assert "Valmora to Isla Mayor | 8" in paragraphs
    assert "Night crossings start in May." in paragraphs  # a merged cell, once
    assert article.text.index("Valmora to Isla Menor | 5") < article.text.index("Tickets are sold")


def test_word_title_falls_back_to_the_title_paragraph(tmp_path):
    article = load_article(_write_docx(tmp_path / "ferry.docx"))
    assert article.title == "Ferry crossings resume"
    assert article.author is None  # python-docx's template says "python-docx": not an author


def test_unreadable_word_files_say_why(tmp_path):
    (tmp_path / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "notes.docx").write_text("plain text saved under a .docx name")
    _write_docx(tmp_path / "~$ferry.docx")  # Word's lock file beside an open document
    _write_docx(tmp_path / "ferry.docx")
    assert [p.name for p in find_article_files([tmp_path])] == ["broken.docx", "ferry.docx",
                                                                "locked.docx", "notes.docx"]
    articles, skipped = load_articles([tmp_path])
    assert [a.doc_id for a in articles] == ["ferry"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["locked.docx"].startswith("encrypted (password-protected)")
    assert reasons["broken.docx"] == reasons["notes.docx"] == documents.DAMAGED_DOCX


def test_a_word_file_that_unpacks_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    """A zip bomb: python-docx would unpack every part into memory. The limit is lowered so that
    a 2 MB part (a few KB packed) stands for a 200 MB one."""
    bomb = _write_docx(tmp_path / "bomb.docx")
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("word/media/zeros.bin", bytes(2_000_000))
    assert bomb.stat().st_size < 100_000
    assert load_article(bomb).title == "Ferry crossings resume"  # a valid file under the default
    monkeypatch.setattr(documents, "MAX_DOCX_UNPACKED_BYTES", 1_000_000)
    articles, skipped = load_articles([bomb])
    assert not articles
    assert skipped[0].reason.startswith("unpacks to 2 MB, over the 1 MB limit for .docx files")
    assert "\n" not in skipped[0].reason


def test_a_folder_ingests_the_good_pdf_and_reports_the_scan(tmp_path, settings, embedder):
    folder = tmp_path / "articles"
    folder.mkdir()
    good = load_article(_write_pdf(folder / "harbour.pdf", title="Harbour of Valmora reopens"))
    scanned = _write_scanned_pdf(folder / "scan.pdf")
    report = ingest([folder], settings, embedder)
    assert report.added == ["harbour"]
    assert report.skipped == [Skipped(str(scanned), NO_TEXT_LAYER)]
    stored = load_index(settings.index).article("harbour")
    assert stored.text == good.text and stored.title == "Harbour of Valmora reopens"
    assert all(sentence in stored.text for sentence in DISTINCT)
    assert len(good.pages) == 3  # the store's copy of pages is the lead's to round-trip
