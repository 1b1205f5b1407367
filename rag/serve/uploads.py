"""What an uploaded file must be before the shelf saves it: a known type, a safe name, a size.

A text file's cap is small (a news article is a few kilobytes), a PDF's or a Word file's larger,
since images and fonts travel in the same file as the words; a batch has its own cap, so a
request never makes the server hold more than that in memory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import BadInput

TEXT_TYPES = (".txt", ".md", ".markdown", ".html", ".htm")
DOCUMENT_TYPES = (".pdf", ".docx")
UPLOAD_TYPES = TEXT_TYPES + DOCUMENT_TYPES
MAX_TEXT_BYTES = 2_000_000
MAX_DOCUMENT_BYTES = 20_000_000
MAX_UPLOAD_BYTES = MAX_DOCUMENT_BYTES  # the largest file of any type: read this much, plus a byte
MAX_UPLOAD_FILES = 20
MAX_BATCH_BYTES = 40_000_000


@dataclass
class Upload:
    name: str  # the name the user gave the file; only its sanitised last part is kept
    content: bytes


def upload_limit(name: str) -> int:
    """The most bytes a file of this name may hold."""
    return MAX_DOCUMENT_BYTES if Path(name).suffix.lower() in DOCUMENT_TYPES else MAX_TEXT_BYTES


def safe_upload_name(name: str) -> str:
    """A plain file name inside the upload folder: no folders, no dot files, known suffixes only."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise BadInput(f"{base or 'a file without a name'}: only {', '.join(UPLOAD_TYPES)} files "
                       "can be added")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "article"
    return f"{stem[:80]}{suffix}"


def checked_names(files: Sequence[Upload]) -> list[str]:
    """The names the files are saved under, once every file has passed; one bad file refuses
    the batch, so a batch is added whole or not at all."""
    if not files:
        raise BadInput(f"no files given; add one or more {', '.join(UPLOAD_TYPES)} files")
    if len(files) > MAX_UPLOAD_FILES:
        raise BadInput(f"{len(files)} files at once; the limit is {MAX_UPLOAD_FILES}")
    names = []
    for file in files:
        name = safe_upload_name(file.name)
        limit = upload_limit(name)
        if len(file.content) > limit:
            raise BadInput(f"{name}: larger than {limit // 1_000_000} MB")
        if not file.content.strip():
            raise BadInput(f"{name}: the file is empty")
        names.append(name)
    total = sum(len(f.content) for f in files)
    if total > MAX_BATCH_BYTES:
        raise BadInput(f"{total // 1_000_000} MB at once; the limit is "
                       f"{MAX_BATCH_BYTES // 1_000_000} MB a batch: add the files in turns")
    return names
