"""The Gradio chat UI: one shared Assistant (one model in memory) behind Gradio's queue.

Callbacks only compose: they call the same `Assistant.stream` as the CLI and the same article
`Shelf` as the HTTP API, and render the same answer records. Each browser session keeps its own
conversation (its answer records) in `gr.State`: the follow-ups' history, the sources a reader
may open whole (`ui.reader`) and the exports (`ui.export`) all come from it. Answering runs in one
queue slot ("answer"), so requests wait their turn, each sees its queue position, and every
answer goes back to the session that asked. The Articles tab is `ui.articles`.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import gradio as gr

from rag.answer.assistant import Assistant
from rag.answer.events import Final, Sources, Status, Token
from rag.errors import RagError
from rag.serve.shelf import Shelf
from rag.serve.uploads import MAX_UPLOAD_BYTES
from rag.store.factory import describe_index
from rag.types import AnswerRecord
from ui.articles import ArticlesTab
from ui.export import write_exports
from ui.reader import CLICK_JS, SCROLL_JS, read_source
from ui.render import answer_html, answer_text, found_html, inert

# Gradio refuses larger files before they reach the shelf, which holds each type to its own cap
MAX_UPLOAD_SIZE = f"{MAX_UPLOAD_BYTES // 1_000_000}mb"

Answers = dict[str, AnswerRecord]  # this session's answers by answer id, oldest first

CSS = """
.rag-answer { line-height: 1.5; }
.rag-unsupported { background: #fdecea; border-bottom: 2px dotted #c0392b; }
.rag-unsupported sup { color: #c0392b; font-size: 0.7em; margin-left: 2px; }
.rag-abstained { background: #f4f6f7; border-left: 4px solid #7f8c8d; padding: 6px 10px; }
.rag-sources, .rag-found { margin-top: 8px; font-size: 0.92em; }
.rag-found .rag-source { border-left-color: #bdc3c7; color: #566573; }
.rag-source { margin: 6px 0; padding: 6px 8px; border-left: 3px solid #2e86c1; }
.rag-source:target { background: #eaf2f8; }
.rag-date { margin-left: 4px; }
.rag-date, .rag-page, .rag-site { color: #7f8c8d; }
.rag-read { font-size: 0.9em; }
.rag-also { margin-top: 4px; font-size: 0.9em; color: #566573; }
.rag-passage { margin-top: 4px; }
.rag-support, .rag-quote { background: #fff3b0; }
.rag-evidence { margin: 6px 0 0 0; padding-left: 8px; border-left: 3px solid #f1c40f; color: #555; }
.rag-untrusted { background: #fde2e2; text-decoration: line-through; }
.rag-note, .rag-searched { color: #7f8c8d; font-size: 0.85em; }
#article-panel { position: fixed; top: 4vh; left: 50%; transform: translateX(-50%); z-index: 1000;
  width: min(900px, 94vw); max-height: 92vh; overflow-y: auto; padding: 12px 18px;
  background: var(--background-fill-primary, #fff); border-radius: 8px;
  box-shadow: 0 8px 40px rgba(0, 0, 0, 0.35), 0 0 0 100vmax rgba(0, 0, 0, 0.3); }
#article-close { position: sticky; top: 0; z-index: 1; }
.rag-article-meta { color: #7f8c8d; font-size: 0.9em; margin-bottom: 8px; }
.rag-article-text { white-space: pre-wrap; line-height: 1.55; }
.rag-cited { background: #fff3b0; outline: 2px solid #f1c40f; }
.rag-page-start { display: inline-block; margin: 4px 0; padding: 0 6px; font-size: 0.8em;
  color: #566573; border: 1px solid #bdc3c7; border-radius: 8px; }
.rag-hidden { display: none !important; }
"""


class App:
    def __init__(self, assistant: Assistant, shelf: Shelf | None,
                 exports: Path | None = None) -> None:
        self.assistant = assistant
        self.shelf = shelf
        self._exports = exports

    @property
    def exports(self) -> Path:
        """Where conversations are written for download: one folder per conversation."""
        if self._exports is None:
            # removed with its files when the server stops (a finalizer of the object)
            self._scratch = tempfile.TemporaryDirectory(prefix="rag-export-")
            self._exports = Path(self._scratch.name)
        return self._exports

    # -- chat ----------------------------------------------------------------------------------

    def respond(self, message: str, chat: list[dict], answers: Answers, top_k: int,
                since: str, until: str):
        """Stream one answer into this session's chat; the session's earlier answers are the
        conversation the follow-up is read in, and what the export buttons offer."""
        message = (message or "").strip()
        if not message:
            yield chat, answers, "", gr.update(), gr.update(), gr.update()
            return
        history = [(r.question, r.answer) for r in answers.values()]
        chat = chat + [{"role": "user", "content": inert(message)},
                       {"role": "assistant", "content": "<em>Searching the articles…</em>"}]
        same = (gr.update(), gr.update(), gr.update())
        yield chat, answers, "", "", gr.update(), gr.update()
        streamed = ""
        searched = ""
        found = ""
        try:
            for event in self.assistant.stream(message, history, top_k=int(top_k),
                                               since=since or None, until=until or None):
                if isinstance(event, Status):
                    if event.restarts:
                        streamed = ""  # the first draft gave way to a second reading or try
                    if not streamed:
                        chat[-1] = {"role": "assistant",
                                    "content": f"<em>{inert(event.message)}</em>" + found}
                        yield chat, answers, "", *same
                elif isinstance(event, Sources):
                    found = found_html(event.passages)
                elif isinstance(event, Token):
                    streamed += event.text
                    chat[-1] = {"role": "assistant", "content": inert(streamed) + " ▍" + found}
                    yield chat, answers, "", *same
                elif isinstance(event, Final):
                    record = event.record
                    if record.standalone_question != record.question:
                        searched = (f'<div class="rag-searched">Searched for: '
                                    f"{inert(record.standalone_question)}</div>")
                    answer_id = uuid.uuid4().hex[:8]
                    chat[-1] = {"role": "assistant", "content": searched + answer_html(record, answer_id)}
                    answers = {**answers, answer_id: record}
                    yield chat, answers, answer_text(record), gr.update(), *self.export(answers)
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": f"<strong>Error:</strong> {inert(str(exc))}"}
            yield chat, answers, "", *same

    def export(self, answers: Answers) -> tuple[dict, dict]:
        """The download buttons, offering the conversation so far; a file that cannot be written
        leaves them as they were rather than losing the answer."""
        try:
            markdown, data = write_exports(list(answers.values()), self.exports / next(iter(answers)))
        except OSError:
            return gr.update(), gr.update()
        return (gr.update(value=str(markdown), interactive=True),
                gr.update(value=str(data), interactive=True))

    def read(self, key: str, answers: Answers) -> tuple[dict, str]:
        """Open the reader on the source a "Read the article" link names."""
        return gr.update(visible=True), read_source(answers, (key or "").strip(), self.shelf.article)


def _new_chat() -> tuple:
    no_export = gr.update(value=None, interactive=False)
    return [], {}, "", no_export, dict(no_export), gr.update(visible=False)


def build(assistant: Assistant, shelf: Shelf | None = None) -> gr.Blocks:
    shelf = shelf or Shelf(assistant)
    app, articles = App(assistant, shelf), ArticlesTab(shelf)
    settings = assistant.settings
    with gr.Blocks(title="Ask the news") as demo:
        gr.Markdown("## Ask the news\nAnswers come from the indexed articles only; every claim "
                    "cites its source [n]. Sentences no cited passage supports are marked.")
        answers = gr.State({})
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
            with gr.Row():
                export_md = gr.DownloadButton("Export the conversation (Markdown)", size="sm",
                                              interactive=False, elem_id="export-md")
                export_json = gr.DownloadButton("Export the conversation (JSON)", size="sm",
                                                interactive=False, elem_id="export-json")
            with gr.Column(visible=False, elem_id="article-panel") as panel:
                close = gr.Button("Close the article", size="sm", elem_id="article-close")
                article = gr.HTML(elem_id="article-view")
            key = gr.Textbox(elem_id="article-key", elem_classes="rag-hidden", container=False)
            read = gr.Button(elem_id="article-open", elem_classes="rag-hidden")
        with gr.Tab("Articles"):
            corpus = articles.build()
        with gr.Tab("Settings"):
            top_k = gr.Slider(1, 10, value=settings.top_k, step=1, label="Passages shown to the model (top-k)")
            since = gr.Textbox(label="Only articles dated on or after (YYYY-MM-DD)", elem_id="since")
            until = gr.Textbox(label="Only articles dated on or before (YYYY-MM-DD)", elem_id="until")
            gr.Markdown(f"Model in use: `{assistant.generator.name}` · "
                        f"index: `{describe_index(settings)}`")

        inputs = [question, chatbot, answers, top_k, since, until]
        outputs = [chatbot, answers, copy_box, question, export_md, export_json]
        for trigger in (question.submit, send.click):
            trigger(app.respond, inputs, outputs, concurrency_id="answer", concurrency_limit=1)
        new_chat.click(_new_chat, None, [chatbot, answers, copy_box, export_md, export_json, panel],
                       queue=False)
        read.click(app.read, [key, answers], [panel, article], queue=False).then(None, js=SCROLL_JS)
        close.click(lambda: gr.update(visible=False), None, panel, queue=False)
        demo.load(articles.corpus_view, None, corpus)
        demo.load(None, js=CLICK_JS)
    return demo
