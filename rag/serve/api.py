"""The HTTP API beside the chat UI: OpenAI-compatible chat with citations, articles, health.

Any OpenAI client (the `openai` package, Open WebUI, an editor plugin, `curl`) can talk to the
assistant: `POST /v1/chat/completions` takes the usual request, and the reply's text is the
assistant's *checked* answer with its `[n]` markers. What OpenAI's format has no place for (the
sources with the sentence in each that supports the answer, whether the assistant declined, the
question as it was searched) rides in an extra `rag` field, which OpenAI clients ignore.

A streamed reply sends the passages being read as soon as retrieval ends, then the answer once it
has been checked: a draft sentence may still be withdrawn or its marker moved, and a client
cannot take back text it was already sent. Sampling options (temperature, top_p, seed…) are
accepted and ignored: the same question on the same index always gets the same answer.

This module composes the app; the routes are in `chat`, `articles` and `feeds`, access in `auth`,
the body size limit in `limits`, and the OpenAI-shaped errors in `errors`. With feed refreshing on
(`RAG_FEED_REFRESH_MINUTES`), the app's lifespan starts the refresher and stops it on shutdown;
Gradio's mount keeps that lifespan, so `rag serve` needs nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from rag.answer.assistant import Assistant
from rag.serve.articles import article_routes
from rag.serve.auth import authorisation
from rag.serve.chat import chat_routes
from rag.serve.errors import add_error_handlers
from rag.serve.feeds import feed_routes
from rag.serve.limits import BodyLimit
from rag.serve.refresh import Refresher
from rag.serve.shelf import Shelf


def create_api(assistant: Assistant, shelf: Shelf, *, credentials: tuple[str, str] | None = None,
               token: str | None = None, refresh_minutes: float | None = None) -> FastAPI:
    """The API as a FastAPI app; the UI is mounted on it by `ui.server`. With `credentials` or
    `token` set, every API route asks for them; the OpenAPI description stays readable. Feeds
    are refreshed every `refresh_minutes` (default: the settings'; 0: never) while it serves."""
    minutes = assistant.settings.feed_refresh_minutes if refresh_minutes is None else refresh_minutes

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        refresher = Refresher.every(shelf, minutes) if minutes > 0 else None
        if refresher is not None:
            refresher.start()
        try:
            yield
        finally:
            if refresher is not None:
                await asyncio.to_thread(refresher.stop)  # a refresh under way ends first

    app = FastAPI(title="rag: ask the news", version="1", lifespan=lifespan,
                  description="Answers from the indexed news articles only, each claim cited "
                              "[n] and checked against its source.")
    add_error_handlers(app)
    app.add_middleware(BodyLimit)
    authorised = Depends(authorisation(credentials, token))
    api = APIRouter(dependencies=[authorised])
    api.include_router(chat_routes(assistant))
    api.include_router(article_routes(assistant, shelf))
    api.include_router(feed_routes(shelf))
    app.include_router(api)
    return app
