"""`rag serve`: the chat UI and the HTTP API in one process, over one assistant and one model.

The API routes are FastAPI's; the Gradio app is mounted on the same FastAPI app at `/` (Gradio's
documented way to live beside other routes), so one port serves the browser, OpenAI clients and
the OpenAPI description at `/docs`. Both sides answer through the one `Assistant`, whose model
takes one answer at a time, and change the index through the one `Shelf`.
"""

from __future__ import annotations

import gradio as gr
import uvicorn

from rag.answer.assistant import Assistant
from rag.serve.api import create_api
from rag.serve.shelf import Shelf
from ui.app import CSS, MAX_UPLOAD_SIZE, build


def create_server(assistant: Assistant, *, credentials: tuple[str, str] | None = None,
                  token: str | None = None):
    shelf = Shelf(assistant)
    app = create_api(assistant, shelf, credentials=credentials, token=token)
    demo = build(assistant, shelf)
    demo.queue(default_concurrency_limit=1)
    return gr.mount_gradio_app(app, demo, path="/", auth=credentials, max_file_size=MAX_UPLOAD_SIZE,
                               css=CSS, footer_links=[], show_error=False)


def serve(assistant: Assistant, *, host: str, port: int, credentials: tuple[str, str] | None,
          token: str | None) -> None:
    app = create_server(assistant, credentials=credentials, token=token)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
