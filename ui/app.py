"""The Gradio chat UI: one shared Assistant (one model in memory) behind Gradio's queue.

Callbacks only compose: they call the same `Assistant.stream`, `ingest` and `remove_articles` as
the CLI, and render the same answer records. Each browser session keeps its own conversation in
`gr.State`; answering runs in one queue slot ("answer"), so requests wait their turn, each sees its
queue position, and every answer goes back to the session that asked.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import gradio as gr

from rag.errors import RagError
from rag.ingest import ingest, remove_articles
from rag.pipeline import Assistant, Final, Sources, Status, Token
from rag.store import load_index
from ui.render import answer_html, answer_text, found_html, inert

UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm"]
MAX_UPLOAD_BYTES = 2_000_000
MAX_UPLOAD_SIZE = "2mb"

CSS = """
.rag-answer { line-height: 1.5; }
.rag-unsupported { background: #fdecea; border-bottom: 2px dotted #c0392b; }
.rag-unsupported sup { color: #c0392b; font-size: 0.7em; margin-left: 2px; }
.rag-abstained { background: #f4f6f7; border-left: 4px solid #7f8c8d; padding: 6px 10px; }
.rag-sources, .rag-found { margin-top: 8px; font-size: 0.92em; }
.rag-found .rag-source { border-left-color: #bdc3c7; color: #566573; }
.rag-source { margin: 6px 0; padding: 6px 8px; border-left: 3px solid #2e86c1; }
.rag-source:target { background: #eaf2f8; }
.rag-date { color: #7f8c8d; margin-left: 4px; }
.rag-passage { margin-top: 4px; }
.rag-support { background: #fff3b0; }
.rag-note, .rag-searched { color: #7f8c8d; font-size: 0.85em; }
"""


def safe_upload_name(name: str) -> str:
    """A plain file name inside the upload folder: no folders, no dot files, known suffixes only."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise RagError(f"{base}: only {', '.join(UPLOAD_TYPES)} files can be added")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "article"
    return f"{stem[:80]}{suffix}"


class App:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.uploads = assistant.settings.index / "uploads"

    # -- chat ----------------------------------------------------------------------------------

    def respond(self, message: str, chat: list[dict], history: list[list[str]], top_k: int,
                since: str, until: str):
        """Stream one answer into this session's chat; `history` holds (question, answer) pairs."""
        message = (message or "").strip()
        if not message:
            yield chat, history, "", gr.update()
            return
        chat = chat + [{"role": "user", "content": inert(message)},
                       {"role": "assistant", "content": "<em>Searching the articles…</em>"}]
        yield chat, history, "", ""
        streamed = ""
        searched = ""
        found = ""
        try:
            for event in self.assistant.stream(message, [tuple(h) for h in history],
                                               top_k=int(top_k), since=since or None,
                                               until=until or None):
                if isinstance(event, Status):
                    if not streamed:
                        chat[-1] = {"role": "assistant",
                                    "content": f"<em>{inert(event.message)}</em>" + found}
                        yield chat, history, "", gr.update()
                elif isinstance(event, Sources):
                    found = found_html(event.passages)
                elif isinstance(event, Token):
                    streamed += event.text
                    chat[-1] = {"role": "assistant", "content": inert(streamed) + " ▍" + found}
                    yield chat, history, "", gr.update()
                elif isinstance(event, Final):
                    record = event.record
                    if record.standalone_question != record.question:
                        searched = (f'<div class="rag-searched">Searched for: '
                                    f"{inert(record.standalone_question)}</div>")
                    answer_id = uuid.uuid4().hex[:8]
                    chat[-1] = {"role": "assistant", "content": searched + answer_html(record, answer_id)}
                    history = history + [[message, record.answer]]
                    yield chat, history, answer_text(record), gr.update()
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": f"<strong>Error:</strong> {inert(str(exc))}"}
            yield chat, history, "", gr.update()

    # -- corpus --------------------------------------------------------------------------------

    def articles_table(self) -> list[list]:
        try:
            index = load_index(self.assistant.settings.index)
        except RagError:
            return []
        entries = sorted(index.manifest.articles.values(), key=lambda e: (e.date or "", e.doc_id),
                         reverse=True)
        return [[e.title, e.date or "", e.chunks, e.doc_id] for e in entries]

    def corpus_view(self) -> tuple[list[list], dict]:
        """The articles table and the remove list, from one read of the index."""
        rows = self.articles_table()
        return rows, gr.update(choices=[row[3] for row in rows], value=None)

    def add_files(self, files: list | None, progress=gr.Progress()):
        if not files:
            return "Choose one or more .txt, .md or .html files first.", *self.corpus_view()
        self.uploads.mkdir(parents=True, exist_ok=True)
        saved = []
        try:
            for file in files:
                source = Path(file if isinstance(file, str) else file.name)
                original = getattr(file, "orig_name", None) or source.name
                if source.stat().st_size > MAX_UPLOAD_BYTES:
                    raise RagError(f"{Path(original).name}: larger than {MAX_UPLOAD_BYTES // 1_000_000} MB")
                target = self.uploads / safe_upload_name(original)
                shutil.copyfile(source, target)
                saved.append(target)

            def on_progress(done: int, total: int) -> None:
                progress(done / max(total, 1), desc=f"Embedding {done}/{total} chunks")

            report = ingest(saved, self.assistant.settings, self.assistant.embedder,
                            on_progress=on_progress)
        except RagError as exc:
            return f"Not added: {exc}", *self.corpus_view()
        self.assistant.reload_index()
        notes = [f"{s.path}: {s.reason}" for s in report.skipped]
        message = report.summary() + ("; skipped " + "; ".join(notes) if notes else "")
        return message, *self.corpus_view()

    def remove(self, doc_id: str | None):
        if not doc_id:
            return "Choose an article to remove.", *self.corpus_view()
        try:
            index = load_index(self.assistant.settings.index)
            entry = index.manifest.articles.get(doc_id)
            report = remove_articles([doc_id], self.assistant.settings)
        except RagError as exc:
            return f"Not removed: {exc}", *self.corpus_view()
        if entry is not None:
            source = Path(entry.source).resolve()
            if source.parent == self.uploads.resolve():
                source.unlink(missing_ok=True)  # else the next upload would bring it back
        self.assistant.reload_index()
        return f"Removed {doc_id}; {report.summary()}", *self.corpus_view()


def build(assistant: Assistant) -> gr.Blocks:
    app = App(assistant)
    settings = assistant.settings
    with gr.Blocks(title="Ask the news") as demo:
        gr.Markdown("## Ask the news\nAnswers come from the indexed articles only; every claim "
                    "cites its source [n]. Sentences no cited passage supports are marked.")
        history = gr.State([])
        with gr.Tab("Chat"):
            chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="chat",
                                 sanitize_html=True, render_markdown=True, buttons=["copy"],
                                 feedback_options=None)
            with gr.Row():
                question = gr.Textbox(placeholder="Ask about the articles…", show_label=False,
                                      scale=8, elem_id="question", autofocus=True)
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                new_chat = gr.Button("New chat", scale=1, elem_id="new-chat")
            copy_box = gr.Textbox(label="Last answer with its sources, as text", lines=4,
                                  buttons=["copy"], interactive=False, elem_id="answer-text")
        with gr.Tab("Articles"):
            table = gr.Dataframe(headers=["title", "date", "chunks", "doc id"],
                                 interactive=False, elem_id="articles", wrap=True)
            upload = gr.File(label="Add articles (.txt, .md, .html; up to 2 MB each)",
                             file_count="multiple", file_types=UPLOAD_TYPES, elem_id="upload")
            add = gr.Button("Add to the index", elem_id="add")
            with gr.Row():
                doc = gr.Dropdown(label="Article", choices=[], elem_id="remove-choice")
                remove = gr.Button("Remove article", variant="stop", elem_id="remove")
            corpus_status = gr.Markdown(elem_id="corpus-status")
        with gr.Tab("Settings"):
            top_k = gr.Slider(1, 10, value=settings.top_k, step=1, label="Passages shown to the model (top-k)")
            since = gr.Textbox(label="Only articles dated on or after (YYYY-MM-DD)", elem_id="since")
            until = gr.Textbox(label="Only articles dated on or before (YYYY-MM-DD)", elem_id="until")
            gr.Markdown(f"Model in use: `{assistant.generator.name}` · index: `{settings.index}`")

        inputs = [question, chatbot, history, top_k, since, until]
        outputs = [chatbot, history, copy_box, question]
        for trigger in (question.submit, send.click):
            trigger(app.respond, inputs, outputs, concurrency_id="answer", concurrency_limit=1)
        new_chat.click(lambda: ([], [], ""), None, [chatbot, history, copy_box], queue=False)
        add.click(app.add_files, upload, [corpus_status, table, doc], concurrency_id="index",
                  concurrency_limit=1).then(lambda: None, None, upload, queue=False)
        remove.click(app.remove, doc, [corpus_status, table, doc], concurrency_id="index",
                     concurrency_limit=1)
        demo.load(app.corpus_view, None, [table, doc])
    return demo


def launch(assistant: Assistant, *, host: str, port: int, auth: tuple[str, str] | None) -> None:
    demo = build(assistant)
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=host, server_port=port, auth=auth, max_file_size=MAX_UPLOAD_SIZE,
                css=CSS, footer_links=[], show_error=False, quiet=True)

