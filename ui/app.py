"""The Gradio chat UI: one shared Assistant (one model in memory) behind Gradio's queue.

Callbacks only compose: they call the same `Assistant.stream` as the CLI and the same article
`Shelf` as the HTTP API, and render the same answer records. Each browser session keeps its own
conversation in `gr.State`; answering runs in one queue slot ("answer"), so requests wait their
turn, each sees its queue position, and every answer goes back to the session that asked.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import gradio as gr

from rag.answer.assistant import Assistant
from rag.answer.events import Final, Sources, Status, Token
from rag.errors import RagError
from rag.serve.shelf import MAX_UPLOAD_BYTES, UPLOAD_TYPES, Shelf, Upload
from rag.store.factory import describe_index
from ui.render import answer_html, answer_text, found_html, inert

MAX_UPLOAD_SIZE = "2mb"  # Gradio refuses larger files before they reach the shelf

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
.rag-support, .rag-quote { background: #fff3b0; }
.rag-evidence { margin: 6px 0 0 0; padding-left: 8px; border-left: 3px solid #f1c40f; color: #555; }
.rag-untrusted { background: #fde2e2; text-decoration: line-through; }
.rag-note, .rag-searched { color: #7f8c8d; font-size: 0.85em; }
"""


class App:
    def __init__(self, assistant: Assistant, shelf: Shelf) -> None:
        self.assistant = assistant
        self.shelf = shelf

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
                    if event.stage == "reading_more":
                        streamed = ""  # the first reading's draft gave way to a second reading
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

    def corpus_view(self) -> tuple[list[list], dict]:
        """The articles table and the remove list, from one read of the index; an index that
        cannot be read shows as empty here, and its error comes with the next question."""
        try:
            entries = self.shelf.articles()
        except RagError:
            entries = []
        rows = [[e.title, e.date or "", e.chunks, e.doc_id] for e in entries]
        return rows, gr.update(choices=[row[3] for row in rows], value=None)

    def add_files(self, files: list | None, progress=gr.Progress()):
        if not files:
            return "Choose one or more .txt, .md or .html files first.", *self.corpus_view()

        def on_progress(done: int, total: int) -> None:
            progress(done / max(total, 1), desc=f"Embedding {done}/{total} chunks")

        try:
            uploads = [_upload(file) for file in files]
            report = self.shelf.add(uploads, on_progress=on_progress)
        except RagError as exc:
            return f"Not added: {exc}", *self.corpus_view()
        notes = [f"{s.path}: {s.reason}" for s in report.skipped]
        message = report.summary() + ("; skipped " + "; ".join(notes) if notes else "")
        return message, *self.corpus_view()

    def remove(self, doc_id: str | None):
        if not doc_id:
            return "Choose an article to remove.", *self.corpus_view()
        try:
            report = self.shelf.remove(doc_id)
        except RagError as exc:
            return f"Not removed: {exc}", *self.corpus_view()
        return f"Removed {doc_id}; {report.summary()}", *self.corpus_view()


def _upload(file) -> Upload:
    """A file Gradio saved, under the name the user gave it; one byte over the limit is enough
    for the shelf to refuse it."""
    source = Path(file if isinstance(file, str) else file.name)
    with source.open("rb") as fh:
        content = fh.read(MAX_UPLOAD_BYTES + 1)
    return Upload(getattr(file, "orig_name", None) or source.name, content)


def build(assistant: Assistant, shelf: Shelf | None = None) -> gr.Blocks:
    app = App(assistant, shelf or Shelf(assistant))
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
                             file_count="multiple", file_types=list(UPLOAD_TYPES), elem_id="upload")
            add = gr.Button("Add to the index", elem_id="add")
            with gr.Row():
                doc = gr.Dropdown(label="Article", choices=[], elem_id="remove-choice")
                remove = gr.Button("Remove article", variant="stop", elem_id="remove")
            corpus_status = gr.Markdown(elem_id="corpus-status")
        with gr.Tab("Settings"):
            top_k = gr.Slider(1, 10, value=settings.top_k, step=1, label="Passages shown to the model (top-k)")
            since = gr.Textbox(label="Only articles dated on or after (YYYY-MM-DD)", elem_id="since")
            until = gr.Textbox(label="Only articles dated on or before (YYYY-MM-DD)", elem_id="until")
            gr.Markdown(f"Model in use: `{assistant.generator.name}` · "
                        f"index: `{describe_index(settings)}`")

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

