"""Clean a news page's words into the text worth indexing, with its title and date.

News pages carry more than the story: icon strips, bylines, photo credits, comment-policy and
podcast footers. The rules here are general (line shape, not site names), so that pages from
other sites clean the same way. The clean text is the reference for every chunk's character span.
PDF and Word files are cleaned here too, without the footer cut meant for web pages, and their
metadata titles are checked here for the placeholders authoring tools write.
"""

from __future__ import annotations

import re
from pathlib import Path

from dateutil import parser as date_parser

from rag.text import split_sentences


def clean(content: str, *, title: str = "", date: str | None = None,
          cut_footer: bool = True) -> tuple[str, str, str | None]:
    """(text, title, date) of a page's words: site furniture dropped, the dateline read and
    removed, the title found when the format gave none, repeated headlines dropped.

    `cut_footer` drops everything from the first footer-like line ("newsletter", "©", "read
    more" ...) in the last 40% of the text: right for a web page, whose story ends where the site's
    footer begins. A PDF or Word document has no site footer, and its last 40% can be pages of
    report that mention a newsletter or a copyright, so `rag.ingest.documents` turns it off."""
    lines = clean_lines(content.split("\n"), cut_footer=cut_footer)
    date = date or _date_from_lines(lines)
    lines = [line for line in lines if not _is_dateline(line)]
    title = title or _title_from_lines(lines)
    lines = _drop_repeats(_attach_entry_times(lines))
    return "\n\n".join(_paragraphs(lines)).strip(), title, date


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


def clean_lines(lines: list[str], *, cut_footer: bool = True) -> list[str]:
    """Drop site furniture, keeping paragraph breaks (empty strings) between story lines."""
    lines = [_BULLET.sub("", line).strip() for line in lines]
    if cut_footer:
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
            iso = iso_date(match.group(0))
            if iso:
                return iso
    return None


def iso_date(value: str) -> str | None:
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


_PLACEHOLDER_TITLES = {"untitled", "untitled document", "document", "title", "no title", "none",
                       "slide 1", "presentation", "print", "pdf"}


def meaningful_title(value: str, path: Path) -> str:
    """A metadata title worth showing: not empty, not a placeholder, not a file name (as in
    'Microsoft Word - draft3.docx', which authoring tools write when nobody set a title)."""
    title = " ".join(value.split())
    folded = title.casefold()
    placeholder = (folded in {*_PLACEHOLDER_TITLES, path.name.casefold(), path.stem.casefold()}
                   or re.search(r"\.(pdf|docx?|odt|rtf|txt|html?|indd|qxd|pages|tex|ps)$", folded)
                   or re.match(r"microsoft (word|powerpoint|excel)\b", folded))
    return "" if placeholder or not re.search(r"[^\W\d_]{2}", title) else title


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text.rstrip(".")
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
