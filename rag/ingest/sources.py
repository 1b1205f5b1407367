"""Find article files (.txt, .md, .html, .pdf, .docx) and read each into an `Article`.

Each format gives what it knows (an HTML page its metadata through trafilatura, Markdown its top
heading, a text file a ` date YYYY-MM-DD` header, a PDF or Word file its properties and, for a
PDF, its pages: `rag.ingest.documents`); `rag.ingest.cleaning` does the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from rag.errors import BadInput
from rag.ingest.cleaning import clean, iso_date
from rag.ingest.documents import load_docx, load_pdf
from rag.types import Article, Skipped

SUPPORTED_SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown",
                      ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx"}
SUPPORTED_NAMES = ".txt, .md, .html, .pdf or .docx"
MAX_FILE_BYTES = 5_000_000
# binary documents, read by `rag.ingest.documents`: bigger files for the same words (fonts, images)
DOCUMENT_READERS = {"pdf": load_pdf, "docx": load_docx}
MAX_DOCUMENT_BYTES = 50_000_000


# ---------------------------------------------------------------------------------------------
# finding and reading files


def find_article_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into their supported files; a missing path or a folder with none is an error."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise BadInput(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                           and not p.name.startswith("~$")  # Word's lock file beside an open one
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise BadInput(f"{path}: no {SUPPORTED_NAMES} files in this folder")
            files.extend(found)
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path)
        else:
            raise BadInput(f"{path}: unsupported file type {path.suffix or '(none)'}; "
                           f"use {SUPPORTED_NAMES}")
    return files


def load_articles(paths: Iterable[Path]) -> tuple[list[Article], list[Skipped]]:
    """Read and clean every article under `paths`; unreadable files are skipped, not fatal."""
    return collect_articles(try_load_article(file) for file in find_article_files(paths))


def try_load_article(path: Path) -> Article | Skipped:
    """The article, or why the file is skipped. A file can go, or lose its read permission,
    between being listed (or settling, for `rag watch`) and being read: that skips it too."""
    try:
        return load_article(path)
    except BadInput as exc:
        return Skipped(str(path), str(exc))
    except OSError as exc:
        return Skipped(str(path), f"cannot read: {exc.strerror or exc}")


def collect_articles(results: Iterable[Article | Skipped]) -> tuple[list[Article], list[Skipped]]:
    """Articles and skipped files in file order; a doc id seen before skips the later file."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    for result in results:
        if isinstance(result, Skipped):
            skipped.append(result)
        elif result.doc_id in seen:
            skipped.append(Skipped(result.source, f"same name as {seen[result.doc_id]}; "
                                                  "doc ids come from file names and must be unique"))
        else:
            seen[result.doc_id] = result.source
            articles.append(result)
    return articles, skipped


def load_article(path: Path) -> Article:
    kind = SUPPORTED_SUFFIXES[path.suffix.lower()]
    size = path.stat().st_size
    if kind in DOCUMENT_READERS:
        if size > MAX_DOCUMENT_BYTES:
            raise BadInput(f"larger than {MAX_DOCUMENT_BYTES // 1_000_000} MB, the limit for "
                           f"{path.suffix.lower()} files; split it into smaller files")
        if not size:
            raise BadInput("empty file")
        article = DOCUMENT_READERS[kind](path)
    else:
        if size > MAX_FILE_BYTES:
            raise BadInput(f"larger than {MAX_FILE_BYTES // 1_000_000} MB")
        article = parse_article(_read_text(path), kind=kind, doc_id=path.stem, source=str(path))
    if not article.text.strip():
        raise BadInput("no article text left after cleaning")
    return article


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise BadInput("empty file")
    if b"\x00" in raw:
        raise BadInput("binary file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput("not UTF-8 text") from None


# ---------------------------------------------------------------------------------------------
# parsing


def parse_article(content: str, *, kind: str, doc_id: str, source: str) -> Article:
    """Turn one file's content into an Article: clean text, title and date."""
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    header_date, content = _split_date_header(content)
    title = ""
    date = header_date
    if kind == "html":
        title, html_date, content = _extract_html(content)
        date = date or html_date
    elif kind == "markdown":
        title, content = _markdown_to_text(content)

    text, title, date = clean(content, title=title, date=date)
    return Article(doc_id=doc_id, title=title or doc_id, date=date, source=source, text=text)


_DATE_HEADER = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*")


def _split_date_header(content: str) -> tuple[str | None, str]:
    match = _DATE_HEADER.match(content)
    if not match:
        return None, content
    return iso_date(match.group(1)), content[match.end():]


def _extract_html(html: str) -> tuple[str, str | None, str]:
    """A file's HTML is read as a fetched page's is (`rag.ingest.web`); a file keeps only title,
    date and text, so its content hash stays what it was before pages had URLs and authors."""
    from rag.ingest.web import read_html

    page = read_html(html)
    return page.title, page.date, page.text


_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)


def _markdown_to_text(content: str) -> tuple[str, str]:
    """Keep the words of a Markdown article; its first top heading is the title."""
    content = _MD_FRONT_MATTER.sub("", content)
    title = ""
    out = []
    for line in content.split("\n"):
        heading = _MD_HEADING.match(line)
        if heading:
            line = heading.group(2)
            if not title and len(heading.group(1)) == 1:
                title = line
        line = _MD_IMAGE.sub(r"\1", line)
        line = _MD_LINK.sub(r"\1", line)
        line = re.sub(r"(\*\*|__|`)", "", line)
        line = re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", line)
        line = re.sub(r"^\s*>\s?", "", line)
        out.append(line)
    return title, "\n".join(out)
