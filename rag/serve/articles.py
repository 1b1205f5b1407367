"""The index over HTTP: list, read, upload and remove articles (through the one `Shelf`), and
`/health`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.concurrency import run_in_threadpool

from rag.answer.assistant import Assistant
from rag.ingest.indexer import IngestReport
from rag.serve.chat import MODEL_ID
from rag.serve.errors import ApiError
from rag.serve.shelf import Shelf
from rag.serve.uploads import Upload, upload_limit
from rag.types import Article, ArticleEntry, Skipped, is_web_source


def article_routes(assistant: Assistant, shelf: Shelf) -> APIRouter:
    """`/v1/articles` (GET, POST, DELETE), `/v1/articles/{id}` and `/health`, over `shelf`."""
    api = APIRouter()

    @api.get("/v1/articles", summary="The indexed articles, newest first")
    def articles() -> dict:
        return {"object": "list", "data": [_entry_view(e) for e in shelf.articles()]}

    @api.get("/v1/articles/{article_id}", summary="One article, whole: its text, URL and pages")
    def article(article_id: str) -> dict:
        found = shelf.article(article_id)
        if found is None:
            raise _not_found(article_id)
        return article_view(found)

    @api.post("/v1/articles", status_code=201,
              summary="Add or update articles (.txt, .md, .html: 2 MB each; .pdf, .docx: 20 MB "
                      "each; 20 files and 40 MB at once)")
    async def add_articles(files: Annotated[list[UploadFile], File()]) -> dict:
        uploads = []
        for f in files:
            name = f.filename or ""
            uploads.append(Upload(name, await f.read(upload_limit(name) + 1)))
        report = await run_in_threadpool(shelf.add, uploads)
        return ingest_view(report)

    @api.delete("/v1/articles/{article_id}", summary="Remove an article from the index")
    async def remove_article(article_id: str) -> dict:
        if article_id not in {e.doc_id for e in shelf.articles()}:
            raise _not_found(article_id)
        report = await run_in_threadpool(shelf.remove, article_id)
        return {"id": article_id, "object": "article", "deleted": True, **_size(report)}

    @api.get("/health", summary="Liveness, index size and model")
    def health() -> dict:
        entries = shelf.articles()
        return {"status": "ok", "model": MODEL_ID, "generator": assistant.generator.name,
                "articles": len(entries), "chunks": sum(e.chunks for e in entries)}

    return api


def _not_found(article_id: str) -> ApiError:
    return ApiError(404, f"no article {article_id!r} in the index (GET /v1/articles lists them)",
                    code="article_not_found")


def _entry_view(entry: ArticleEntry) -> dict:
    return {"id": entry.doc_id, "object": "article", "title": entry.title, "date": entry.date,
            "url": entry.url, "chunks": entry.chunks}


def article_view(article: Article) -> dict:
    """Everything a client needs to open the article; `pages` are the offsets in `text` where
    page 1, 2, ... start (empty: the article has no pages)."""
    return {"id": article.doc_id, "object": "article", "title": article.title,
            "date": article.date, "url": article.url, "author": article.author,
            "text": article.text, "pages": list(article.pages)}


def _size(report: IngestReport) -> dict:
    return {"articles": report.articles, "chunks": report.chunks}


def skipped_view(skipped: Skipped) -> dict:
    """A web page or feed entry by its URL, an uploaded file by its name (never a server path)."""
    if is_web_source(skipped.path):
        return {"url": skipped.path, "reason": skipped.reason}
    return {"file": Path(skipped.path).name, "reason": skipped.reason}


def ingest_view(report: IngestReport) -> dict:
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "skipped": [skipped_view(s) for s in report.skipped], **_size(report)}
