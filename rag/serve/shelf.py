"""The article shelf a running server manages: list, add uploaded files, remove.

The browser UI and the HTTP API both change the index through one `Shelf`, so an upload gets the
same limits and file-name sanitising whichever way it came, in-process writers take turns instead
of failing on the index's write lock, and the assistant picks up each new generation at once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.errors import BadInput, IndexMissing
from rag.ingest.indexer import IngestReport, ingest, remove_articles
from rag.store.factory import read_listing
from rag.types import ArticleEntry, ProgressFn

UPLOAD_TYPES = (".txt", ".md", ".markdown", ".html", ".htm")
MAX_UPLOAD_BYTES = 2_000_000
MAX_UPLOAD_FILES = 20


@dataclass
class Upload:
    name: str  # the name the user gave the file; only its sanitised last part is kept
    content: bytes


def safe_upload_name(name: str) -> str:
    """A plain file name inside the upload folder: no folders, no dot files, known suffixes only."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise BadInput(f"{base or 'a file without a name'}: only {', '.join(UPLOAD_TYPES)} files "
                       "can be added")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "article"
    return f"{stem[:80]}{suffix}"


class Shelf:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.uploads = assistant.settings.index / "uploads"
        self._writing = threading.Lock()

    def articles(self) -> list[ArticleEntry]:
        """Newest first; an index not built yet holds nothing."""
        try:
            manifest = read_listing(self.assistant.settings)
        except IndexMissing:
            return []
        return sorted(manifest.articles.values(), key=lambda e: (e.date or "", e.doc_id),
                      reverse=True)

    def add(self, files: Sequence[Upload], on_progress: ProgressFn | None = None) -> IngestReport:
        """Check every file before any is saved, so a bad one in a batch adds nothing; a batch
        the ingest refuses leaves the upload folder as it was."""
        if not files:
            raise BadInput("no files given; add one or more .txt, .md or .html files")
        if len(files) > MAX_UPLOAD_FILES:
            raise BadInput(f"{len(files)} files at once; the limit is {MAX_UPLOAD_FILES}")
        targets = []
        for file in files:
            target = self.uploads / safe_upload_name(file.name)
            if len(file.content) > MAX_UPLOAD_BYTES:
                raise BadInput(f"{target.name}: larger than {MAX_UPLOAD_BYTES // 1_000_000} MB")
            if not file.content.strip():
                raise BadInput(f"{target.name}: the file is empty")
            targets.append(target)
        with self._writing:
            self.uploads.mkdir(parents=True, exist_ok=True)
            earlier = {t: t.read_bytes() for t in targets if t.is_file()}
            try:
                for file, target in zip(files, targets):
                    target.write_bytes(file.content)
                report = ingest(targets, self.assistant.settings, self.assistant.embedder,
                                on_progress=on_progress)
            except BaseException:
                _restore(targets, earlier)  # the files on disk stay those the index was built from
                raise
            self.assistant.reload_index()
        return report

    def remove(self, doc_id: str) -> IngestReport:
        """Drop an article; an uploaded one loses its file too, else the next upload would bring
        it back."""
        with self._writing:
            entry = next((e for e in self.articles() if e.doc_id == doc_id), None)
            report = remove_articles([doc_id], self.assistant.settings)
            if entry is not None:
                source = Path(entry.source).resolve()
                if source.parent == self.uploads.resolve():
                    source.unlink(missing_ok=True)
            self.assistant.reload_index()
        return report


def _restore(targets: Sequence[Path], earlier: dict[Path, bytes]) -> None:
    for target in targets:
        if target in earlier:
            target.write_bytes(earlier[target])
        else:
            target.unlink(missing_ok=True)
