"""Read PDF and Word (.docx) files into `Article`s, cleaned like every other source except that
no web-page footer is cut (a document's last pages are text, not a site's footer).

PDF: the text layer, page by page, through PDFium (pypdfium2). Printed lines are joined back into
paragraphs, and the running headers and page numbers repeated on every page are dropped, before
`rag.ingest.cleaning` sees the words. `Article.pages` says where each page starts in the clean
text, so a chunk can cite its page: the document is cleaned whole with a marker paragraph between
pages, and the page starts are read off where the markers land.

Word: paragraphs, headings and table rows in reading order. A .docx has no pages (Word lays them
out only when it renders: fonts, printer, margins), so `Article.pages` stays empty.

A file these readers cannot use (no text layer, a password, damage, a zip bomb) raises `BadInput`
with one line that says what to do, which `rag.ingest.sources` turns into a skipped file.
"""

from __future__ import annotations

import re
import threading
import zipfile
from collections import Counter
from datetime import date as Date
from datetime import datetime
from pathlib import Path

from rag.errors import BadInput
from rag.ingest.cleaning import clean, meaningful_title
from rag.types import Article

PAGE_BREAK = "\ue000"  # a paragraph between pages; private use, removed from the PDF's own text
_PDFIUM = threading.Lock()  # PDFium is not thread-safe, even across documents (uploads, watcher)
NO_TEXT_LAYER = ("no text layer (a scanned PDF?); run OCR on it first "
                 "(for example with ocrmypdf), then ingest the OCR'd copy")


# ---------------------------------------------------------------------------------------------
# PDF


def load_pdf(path: Path) -> Article:
    pages, meta = _read_pdf(path)
    hyphenated = {word.casefold() for page in pages for word in re.findall(r"\w+-\w+", page)}
    lines = _drop_running_lines([_page_lines(page, hyphenated) for page in pages])
    if not any(lines):
        raise BadInput(NO_TEXT_LAYER)
    width = _full_line(lines)
    marked = f"\n{PAGE_BREAK}\n".join("\n".join(_reflow(page, width)) for page in lines)
    meta_title = meaningful_title(meta.get("Title", ""), path)
    text, title, date = clean(marked, title=meta_title, cut_footer=False)
    if PAGE_BREAK in title:  # the first pages had no words, so cleaning took a marker for one
        title = clean(marked.replace(PAGE_BREAK, ""), cut_footer=False)[1]
    text, starts = _split_pages(text)
    # The text's own date (a dateline or byline) wins: CreationDate is when this file was made,
    # which for a saved web page or an exported report can be weeks after the story, and ModDate
    # changes whenever the file is saved again, so it is the last resort.
    date = date or _pdf_date(meta.get("CreationDate", "")) or _pdf_date(meta.get("ModDate", ""))
    return Article(doc_id=path.stem, title=title or path.stem, date=date, source=str(path),
                   text=text, author=_one_line(meta.get("Author", "")) or None, pages=starts)


def _read_pdf(path: Path) -> tuple[list[str], dict[str, str]]:
    """Each page's text layer, and the document's metadata."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        pdf = _open_pdf(path)
        try:
            meta = pdf.get_metadata_dict(skip_empty=True)
            pages = []
            for page in pdf:
                textpage = page.get_textpage()
                pages.append(textpage.get_text_bounded())
                textpage.close()
                page.close()
            return pages, meta
        except pdfium.PdfiumError:
            raise BadInput("damaged PDF: PDFium could not read its pages; export or download it "
                           "again") from None
        finally:
            pdf.close()


def _open_pdf(path: Path):
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise BadInput("encrypted: the PDF needs a password to open; save a copy without the "
                           "password (for example: qpdf --decrypt --password=... in.pdf out.pdf) "
                           "and ingest that") from None
        if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise BadInput("encrypted with a scheme PDFium cannot open; save an unencrypted copy "
                           "and ingest that") from None
        raise BadInput("damaged or not a PDF (PDFium cannot read it); export or download it "
                       "again") from None


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# soft hyphens, private-use glyphs (symbol fonts mapped to nothing readable), non-characters
_UNREADABLE = re.compile("[\xad\ue000-\uf8ff\U000f0000-\U0010ffff\ufffd-\uffff]")


def _page_lines(text: str, hyphenated: set[str]) -> list[str]:
    """A page's printed lines, readable characters only."""
    text = _dehyphenate(text, hyphenated)
    lines = (" ".join(_CONTROL.sub(" ", _UNREADABLE.sub("", raw)).split())
             for raw in re.split(r"\r\n|\r|\n", text))
    return [line for line in lines if line]


_LINE_END_HYPHEN = re.compile(r"(\w+)\x02(\w*)")


def _dehyphenate(text: str, hyphenated: set[str]) -> str:
    """PDFium turns a hyphen that ends a line into \\x02 and joins the two halves. A word split to
    fit the line ("recon-struction") loses the hyphen; a compound keeps it: one the document spells
    with a hyphen elsewhere ("well-known"), or whose second half is no lower-case word ("1990-1991",
    "Russia-Ukraine")."""
    def join(match: re.Match) -> str:
        first, second = match.groups()
        compound = f"{first}-{second}"
        return compound if not second[:1].islower() or compound.casefold() in hyphenated \
            else first + second
    return _LINE_END_HYPHEN.sub(join, text).replace("\x02", "-")


_PAGE_NUMBER = re.compile(r"^(?:page|p\.|seite|página|pagina)?\s*[-–—(\[]?\s*\d{1,4}\s*[-–—)\]]?"
                          r"(?:\s*(?:/|of|de|von|di)\s*\d{1,4})?$", re.I)
_EDGE = 2  # lines at the top and at the bottom of a page where running heads and feet sit


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Drop page numbers and the running headers and footers (a publication's name, a title, a
    date, "Page 3 of 7") that repeat at the top or bottom of at least half the pages: left in, they
    would split every sentence that crosses a page and be indexed once per page."""
    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.casefold())

    def edges(lines: list[str]) -> set[int]:
        return {*range(min(_EDGE, len(lines))), *range(max(0, len(lines) - _EDGE), len(lines))}

    seen = Counter(k for lines in pages for k in {key(lines[i]) for i in edges(lines)})
    running = {k for k, n in seen.items() if n >= 2 and 2 * n >= len(pages)}
    return [[line for i, line in enumerate(lines)
             if i not in edges(lines) or not (key(line) in running or _PAGE_NUMBER.match(line))]
            for lines in pages]


_MIN_FULL = 25  # characters; below this lines are list items or table cells, not wrapped prose


def _full_line(pages: list[list[str]]) -> int:
    """How long a line is when it runs to the margin: most of the document's long lines."""
    lengths = sorted(len(line) for lines in pages for line in lines)
    if not lengths:
        return 0
    return max(_MIN_FULL, int(0.8 * lengths[int(0.9 * (len(lengths) - 1))]))


_ENDS_SENTENCE = (".", "!", "?", "…", ":", "\"", "”", "’", ")")


def _reflow(lines: list[str], full: int) -> list[str]:
    """Paragraphs from printed lines: a line that runs to the margin without ending a sentence
    wrapped, so the next line continues it; a short line (a heading, a paragraph's last line)
    ends its paragraph. (A paragraph split where a sentence ends a full line does no harm.)"""
    out: list[str] = []
    wraps = False
    for line in lines:
        if out and wraps and (not out[-1].endswith(_ENDS_SENTENCE) or line[:1].islower()):
            out[-1] += " " + line
        else:
            out.append(line)
        wraps = len(line) >= full
    return out


def _split_pages(marked: str) -> tuple[str, tuple[int, ...]]:
    """The clean text without its page markers, and where each page starts in it. Cleaning puts
    each marker in a paragraph of its own, so a page starts where the next paragraph does; a
    page left empty starts where the next one does."""
    kept: list[str] = []
    starts = [0]
    length = 0
    for paragraph in marked.split("\n\n"):
        if PAGE_BREAK in paragraph:
            starts += [length] * paragraph.count(PAGE_BREAK)
            paragraph = paragraph.replace(PAGE_BREAK, "").strip(" –")
        if paragraph:
            kept.append(paragraph)
            length += len(paragraph) + 2
    text = "\n\n".join(kept)
    return text, tuple(min(start, len(text)) for start in starts)


def _pdf_date(value: str) -> str | None:
    """A PDF date string (D:YYYYMMDDHHmmSS+hh'mm') as YYYY-MM-DD, when it has a whole day."""
    match = re.match(r"(?:D:)?(\d{4})(\d{2})(\d{2})", value.strip())
    try:
        return Date(*map(int, match.groups())).isoformat() if match else None
    except ValueError:
        return None


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())


# ---------------------------------------------------------------------------------------------
# Word


# what python-docx's blank template says about every file written with it unless set: not facts
_TEMPLATE_AUTHOR = "python-docx"
_TEMPLATE_CREATED = datetime(2013, 12, 23, 23, 15)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a password-protected .docx, or an old .doc
DAMAGED_DOCX = "damaged or not a Word .docx file; open it in Word and save it again as .docx"
MAX_DOCX_UNPACKED_BYTES = 200_000_000  # what a .docx's parts may add up to, unpacked


def load_docx(path: Path) -> Article:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    _check_package(path)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError):
        raise BadInput(DAMAGED_DOCX) from None
    lines, heading = _docx_lines(document)
    props = document.core_properties
    title = meaningful_title(props.title or "", path) or heading
    text, title, date = clean("\n".join(lines), title=title, cut_footer=False)
    # as for PDFs, the text's own date wins over when the file was created
    created = props.created
    if not date and created and created.replace(tzinfo=None) != _TEMPLATE_CREATED:
        date = created.date().isoformat()
    author = _one_line(props.author)
    return Article(doc_id=path.stem, title=title or path.stem, date=date, source=str(path),
                   text=text, author=author if author and author != _TEMPLATE_AUTHOR else None)


def _check_package(path: Path) -> None:
    """python-docx unpacks every part of the zip into memory, and a 20 MB zip bomb can unpack to
    20 GB; zipfile stops each part at its declared size, so the declared sizes bound it."""
    with path.open("rb") as head:
        if head.read(len(_OLE_MAGIC)) == _OLE_MAGIC:
            raise BadInput("encrypted (password-protected) or an old binary Word file; open it "
                           "in Word, remove the password and save it as .docx, then ingest it")
    try:
        with zipfile.ZipFile(path) as package:
            unpacked = sum(part.file_size for part in package.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):  # OSError: a seek its directory asks for
        raise BadInput(DAMAGED_DOCX) from None
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        limit = MAX_DOCX_UNPACKED_BYTES // 1_000_000
        raise BadInput(f"unpacks to {unpacked // 1_000_000} MB, over the {limit} MB limit for "
                       ".docx files (a zip bomb, or much embedded media); save a copy with "
                       "smaller pictures")


_TITLE_STYLES = ("Title", "Heading 1")


def _docx_lines(document) -> tuple[list[str], str]:
    """The body's lines in reading order (a paragraph a line, a table row a line with its cells
    between bars), and the first Title paragraph, else the first Heading 1."""
    from docx.table import Table

    lines: list[str] = []
    headings: dict[str, str] = {}
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines += _table_rows(block)
            continue
        text = block.text.strip()
        style = block.style.name if block.style is not None else ""
        if text and style in _TITLE_STYLES:
            headings.setdefault(style, _one_line(text))
        lines += text.split("\n")
    return lines, next((headings[s] for s in _TITLE_STYLES if s in headings), "")


def _table_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells = row.cells  # a cell spanning several columns comes once per column: keep one
        texts = [_one_line(c.text) for before, c in zip((None, *cells), cells) if c is not before]
        if any(texts):
            rows.append(" | ".join(texts))
    return rows
