"""Load articles (.txt, .md, .html) and clean them into text worth indexing.

News pages carry more than the story: icon strips, bylines, photo credits, comment-policy and
podcast footers. The rules here are general (line shape, not site names), so that pages from other
sites clean the same way. The clean text is the reference for every chunk's character span.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dateutil import parser as date_parser

from rag.errors import BadInput
from rag.sentences import split_sentences

SUPPORTED_SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown",
                      ".html": "html", ".htm": "html"}
MAX_FILE_BYTES = 5_000_000


@dataclass(frozen=True)
class Article:
    doc_id: str
    title: str
    date: str | None  # ISO 8601 day, YYYY-MM-DD
    source: str
    text: str

    @property
    def content_hash(self) -> str:
        """Changes whenever anything the index stores about the article changes."""
        payload = "\x1f".join([self.title, self.date or "", self.text])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


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
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise BadInput(f"{path}: no .txt, .md or .html files in this folder")
            files.extend(found)
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path)
        else:
            raise BadInput(f"{path}: unsupported file type {path.suffix or '(none)'}; "
                           "use .txt, .md or .html")
    return files


def load_articles(paths: Iterable[Path]) -> tuple[list[Article], list[Skipped]]:
    """Read and clean every article under `paths`; unreadable files are skipped, not fatal."""
    return collect_articles(try_load_article(file) for file in find_article_files(paths))


def try_load_article(path: Path) -> Article | Skipped:
    try:
        return load_article(path)
    except BadInput as exc:
        return Skipped(str(path), str(exc))


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
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise BadInput(f"larger than {MAX_FILE_BYTES // 1_000_000} MB")
    if not raw.strip():
        raise BadInput("empty file")
    if b"\x00" in raw:
        raise BadInput("binary file")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput("not UTF-8 text") from None
    kind = SUPPORTED_SUFFIXES[path.suffix.lower()]
    article = parse_article(content, kind=kind, doc_id=path.stem, source=str(path))
    if not article.text.strip():
        raise BadInput("no article text left after cleaning")
    return article


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

    lines = clean_lines(content.split("\n"))
    date = date or _date_from_lines(lines)
    lines = [line for line in lines if not _is_dateline(line)]
    title = title or _title_from_lines(lines)
    lines = _drop_repeats(_attach_entry_times(lines))
    text = "\n\n".join(_paragraphs(lines)).strip()
    return Article(doc_id=doc_id, title=title or doc_id, date=date, source=source, text=text)


_DATE_HEADER = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*")


def _split_date_header(content: str) -> tuple[str | None, str]:
    match = _DATE_HEADER.match(content)
    if not match:
        return None, content
    return _iso_date(match.group(1)), content[match.end():]


def _extract_html(html: str) -> tuple[str, str | None, str]:
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                      include_tables=True, favor_recall=True)
    if doc is None:
        return "", None, ""
    title = (doc.title or "").strip()
    date = _iso_date(doc.date) if doc.date else None
    return title, date, doc.text or ""


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


# ---------------------------------------------------------------------------------------------
# boilerplate rules

_BULLET = re.compile(r"^[\s•·▪●◦‣∙\-–—*]+(?=\S)")
_SENTENCE_END = re.compile(r"[.!?…]")
_TIMECODE = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
_ENTRY_TIME = re.compile(r"^\d{1,2}:\d{2}\s*(?:[AP]M\s*)?(?:GMT|UTC|[A-Z]{2,4}T)$", re.I)
_AGENCY_TAG = re.compile(r"^[A-Z]{2,3}$")
_CREDIT = re.compile(r"\b(?:(?:stock )?photo|picture|image|credit)s?\s*:|\bgetty images\b|\bphoto by\b",
                     re.I)
_NAV_LINES = {"all sections", "menu", "home", "search", "share", "advertisement", "skip to content",
              "sign in", "log in", "subscribe", "close", "back to top", "print", "more"}
_FOOTER = re.compile(
    r"comment(ing)? (policy|system)|^dear readers|subscribe to|newsletter|all rights reserved|"
    r"^©|^copyright\b|^podcasts?$|^related (articles|stories|news)$|^read more$|^share this|"
    r"^follow us|cookie (policy|settings)|terms of (use|service)", re.I)


def clean_lines(lines: list[str]) -> list[str]:
    """Drop site furniture, keeping paragraph breaks (empty strings) between story lines."""
    lines = [_BULLET.sub("", line).strip() for line in lines]
    lines = _cut_footer(lines)
    kept = [line if not _is_furniture(line) else "" for line in lines]
    while kept and (not kept[-1] or _is_dangling_label(kept[-1])):
        kept.pop()
    return kept


def _cut_footer(lines: list[str]) -> list[str]:
    """Cut at the first footer-like line in the last 40% of the page, and everything after it."""
    start = int(len(lines) * 0.6)
    for i in range(start, len(lines)):
        if _FOOTER.search(lines[i]):
            return lines[:i]
    return lines


def _is_furniture(line: str) -> bool:
    if not line:
        return False
    words = line.split()
    if len(words) >= 20 and not _SENTENCE_END.search(line) and not re.search(r"[,;\"“”]", line):
        return True  # an icon or menu strip: many words, no sentence
    if _TIMECODE.match(line):
        return True  # media player timecodes
    if _AGENCY_TAG.match(line):
        return True  # a lone source tag ("RT", "AP") left between live-blog entries
    if line.lower().strip(" :|") in _NAV_LINES:
        return True
    if len(words) <= 12 and _CREDIT.search(line):
        return True  # photo credit: "Volodymyr Zelenskyy. Stock photo: Getty Images"
    return False


def _is_dangling_label(line: str) -> bool:
    """A section label with nothing after it, such as a trailing 'Background:'."""
    return line.endswith(":") and len(line.split()) <= 3


def _attach_entry_times(lines: list[str]) -> list[str]:
    """A live blog prints each entry's time on a line of its own; keep it with its entry, so a
    chunk never ends with the next entry's time and every entry carries its own."""
    out: list[str] = []
    pending = ""
    for line in lines:
        if _ENTRY_TIME.match(line):
            pending = line
            continue
        if pending and line:
            out.append(f"{pending} – {line}")
            pending = ""
        else:
            out.append(line)
    return out


def _drop_repeats(lines: list[str]) -> list[str]:
    """Pages often print the headline twice; keep the first copy of any repeated line."""
    seen: set[str] = set()
    out = []
    for line in lines:
        key = line.casefold()
        if line and len(line.split()) >= 3 and key in seen:
            continue
        seen.add(key)
        out.append(line)
    return out


def _paragraphs(lines: list[str]) -> list[str]:
    """Each non-empty line is a paragraph: news text has one paragraph a line."""
    return [line for line in lines if line]


# ---------------------------------------------------------------------------------------------
# title and date

_MONTH = (r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?")
_DATE_PATTERNS = [
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}\b", re.I),
    re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b", re.I),
]
_HEAD_LINES = 15


def _find_date(text: str) -> str | None:
    for pattern in _DATE_PATTERNS:
        match = pattern.search(text)
        if match:
            iso = _iso_date(match.group(0))
            if iso:
                return iso
    return None


def _iso_date(value: str) -> str | None:
    try:
        return date_parser.parse(value, fuzzy=True, default=None).date().isoformat()
    except (ValueError, OverflowError, TypeError, AttributeError):
        return None


def _date_from_lines(lines: list[str]) -> str | None:
    """The page's own date: the first full date near the top (a dateline or byline)."""
    head = [line for line in lines if line][:_HEAD_LINES]
    for line in head:
        found = _find_date(line)
        if found:
            return found
    return None


def _is_dateline(line: str) -> bool:
    """A short line that only carries a date (and maybe an author or time): metadata, not story."""
    return (bool(line) and len(line.split()) <= 10 and _find_date(line) is not None
            and not _SENTENCE_END.search(line.rstrip(".")))


def _title_from_lines(lines: list[str]) -> str:
    """A headline printed twice, else a short first line, else the first sentence, shortened."""
    nonempty = [line for line in lines if line]
    if not nonempty:
        return ""
    counts: dict[str, int] = {}
    for line in nonempty[:_HEAD_LINES]:
        counts[line] = counts.get(line, 0) + 1
    for line in nonempty[:_HEAD_LINES]:
        if counts[line] > 1 and 3 <= len(line.split()) <= 25:
            return line
    first = nonempty[0]
    if len(first.split()) <= 16 and not first.rstrip().endswith((".", "!", "?")) and len(nonempty) > 1:
        return first
    sentence = split_sentences(first)[0]
    sentence = re.sub(r"^[A-Z][A-Z .'-]{2,}:\s+", "", sentence)  # a dateline such as "WASHINGTON:"
    return _shorten(sentence, 90)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text.rstrip(".")
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
