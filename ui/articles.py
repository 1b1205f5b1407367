"""The Articles tab: what the index holds, and the ways news gets in or out of it.

Files (text, HTML, PDF, Word), web pages and feeds all go through the server's one `Shelf`, the
same as the HTTP API's, so they get the same checks and limits either way and writers take
turns. Every outcome is one line: the ingest's summary with the reasons for anything skipped,
or the `RagError`'s message, which says what to do.
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from rag.errors import RagError
from rag.ingest.indexer import IngestReport
from rag.serve.shelf import Shelf
from rag.serve.uploads import (DOCUMENT_TYPES, MAX_DOCUMENT_BYTES, MAX_TEXT_BYTES,
                               MAX_UPLOAD_BYTES, TEXT_TYPES, UPLOAD_TYPES, Upload)
from rag.types import ProgressFn
from ui.render import inert, link

UPLOAD_LABEL = (f"Add articles ({', '.join(TEXT_TYPES)} up to {MAX_TEXT_BYTES // 1_000_000} MB; "
                f"{', '.join(DOCUMENT_TYPES)} up to {MAX_DOCUMENT_BYTES // 1_000_000} MB each)")


class ArticlesTab:
    def __init__(self, shelf: Shelf) -> None:
        self.shelf = shelf

    def corpus_view(self) -> tuple[list[list], dict, str]:
        """The articles table, the remove list and the feeds, from one read of the index each;
        an index that cannot be read shows as empty here, and its error comes with the next
        question."""
        try:
            entries = self.shelf.articles()
        except RagError:
            entries = []
        rows = [[e.title, e.date or "", e.chunks, e.url or "", e.doc_id] for e in entries]
        return rows, gr.update(choices=[row[4] for row in rows], value=None), self.feeds_html()

    def feeds_html(self) -> str:
        try:
            feeds = self.shelf.feeds()
        except RagError as exc:
            return f'<p class="rag-note">The followed feeds cannot be read: {html.escape(str(exc))}</p>'
        last = self.shelf.last_feed_refresh
        when = (f"{html.escape(last.at)} ({html.escape(last.line)})" if last else "never")
        items = "".join(
            f"<li>{link(f.url, html.escape(f.title or f.url))} "
            f'<span class="rag-note">{f.entries} entries'
            + (f", last checked {html.escape(f.last_checked)}" if f.last_checked else "")
            + (f", {html.escape(str(f.last_status))}" if f.last_status else "")
            + "</span></li>" for f in feeds)
        listing = (f"<ul>{items}</ul>" if feeds
                   else "<p>No feeds followed yet: add a feed's URL above.</p>")
        return (f'<div class="rag-feeds"><strong>Feeds followed ({len(feeds)})</strong>{listing}'
                f'<p id="feeds-refreshed">Feeds last refreshed: {when}</p></div>')

    def add_files(self, files: list | None, progress=gr.Progress()):
        if not files:
            return f"Choose one or more {', '.join(UPLOAD_TYPES)} files first.", *self.corpus_view()
        try:
            uploads = [_upload(file) for file in files]
            report = self.shelf.add(uploads, on_progress=_progress(progress))
        except RagError as exc:
            return _line(f"Not added: {exc}"), *self.corpus_view()
        return _result(report), *self.corpus_view()

    def add_urls(self, text: str, progress=gr.Progress()):
        """Add what the addresses name; they stay in the box when nothing was added, to mend."""
        urls = (text or "").split()
        if not urls:
            return ("Paste the http(s) address of a web page or an RSS/Atom feed first.",
                    *self.corpus_view(), text)
        try:
            report = self.shelf.add_urls(urls, on_progress=_progress(progress))
        except RagError as exc:
            return _line(f"Not added: {exc}"), *self.corpus_view(), text
        return _result(report), *self.corpus_view(), ""

    def refresh_feeds(self, progress=gr.Progress()):
        try:
            self.shelf.update_feeds(on_progress=_progress(progress))
        except RagError as exc:
            return _line(f"Feeds not refreshed: {exc}"), *self.corpus_view()
        last = self.shelf.last_feed_refresh
        return _line(f"Feeds refreshed: {last.line if last else 'done'}"), *self.corpus_view()

    def remove(self, doc_id: str | None):
        if not doc_id:
            return "Choose an article to remove.", *self.corpus_view()
        try:
            report = self.shelf.remove(doc_id)
        except RagError as exc:
            return _line(f"Not removed: {exc}"), *self.corpus_view()
        return _line(f"Removed {doc_id}; {report.summary()}"), *self.corpus_view()

    def build(self) -> list[gr.components.Component]:
        """The tab's components and events, inside the caller's `gr.Tab`; returns what
        `corpus_view` fills, for the page's load event."""
        table = gr.Dataframe(headers=["title", "date", "chunks", "url", "doc id"],
                             interactive=False, elem_id="articles", wrap=True)
        upload = gr.File(label=UPLOAD_LABEL, file_count="multiple", file_types=list(UPLOAD_TYPES),
                         elem_id="upload")
        add = gr.Button("Add to the index", elem_id="add")
        with gr.Row():
            urls = gr.Textbox(label="Add a web page or an RSS/Atom feed (one URL a line; a feed "
                                    "is followed and its new entries added on every refresh)",
                              placeholder="https://…", lines=1, max_lines=5, scale=6,
                              elem_id="add-url")
            add_url = gr.Button("Add from the web", scale=1, elem_id="add-url-button")
        status = gr.Markdown(elem_id="corpus-status")
        with gr.Row():
            doc = gr.Dropdown(label="Article", choices=[], elem_id="remove-choice")
            remove = gr.Button("Remove article", variant="stop", elem_id="remove")
        feeds = gr.HTML(elem_id="feeds")
        refresh = gr.Button("Refresh feeds now", size="sm", elem_id="refresh-feeds")

        shown = [status, table, doc, feeds]
        writes = {"concurrency_id": "index", "concurrency_limit": 1}
        add.click(self.add_files, upload, shown, **writes).then(lambda: None, None, upload,
                                                                 queue=False)
        for trigger in (add_url.click, urls.submit):
            trigger(self.add_urls, urls, [*shown, urls], **writes)
        refresh.click(self.refresh_feeds, None, shown, **writes)
        remove.click(self.remove, doc, shown, **writes)
        return [table, doc, feeds]


def _result(report: IngestReport) -> str:
    """The ingest's summary and, for anything skipped or read another way, its reason, on one
    line."""
    skipped = [f"{s.path}: {s.reason}" for s in report.skipped if not s.kept]
    noted = [f"{s.path}: {s.reason}" for s in report.skipped if s.kept]
    return _line(report.summary() + ("; skipped " + "; ".join(skipped) if skipped else "")
                 + ("; note: " + "; ".join(noted) if noted else ""))


def _line(text: str) -> str:
    """A status line, shown as written: addresses and reasons can come from a hostile feed."""
    return inert(" ".join(text.split()))


def _progress(progress: gr.Progress) -> ProgressFn:
    def on_progress(done: int, total: int) -> None:
        progress(done / max(total, 1), desc=f"Embedding {done}/{total} chunks")
    return on_progress


def _upload(file) -> Upload:
    """A file Gradio saved, under the name the user gave it; one byte over the limit is enough
    for the shelf to refuse it."""
    source = Path(file if isinstance(file, str) else file.name)
    with source.open("rb") as fh:
        content = fh.read(MAX_UPLOAD_BYTES + 1)
    return Upload(getattr(file, "orig_name", None) or source.name, content)
