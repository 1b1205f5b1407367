"""The index over HTTP: list, upload and remove articles (through the one `Shelf`), and `/health`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.concurrency import run_in_threadpool

from rag.answer.assistant import Assistant
from rag.ingest.indexer import IngestReport
from rag.serve.chat import MODEL_ID
from rag.serve.errors import ApiError
from rag.serve.shelf import MAX_UPLOAD_BYTES, Shelf, Upload


def article_routes(assistant: Assistant, shelf: Shelf) -> APIRouter:
    """`/v1/articles` (GET, POST, DELETE) and `/health`, over `shelf`."""
    api = APIRouter()

    @api.get("/v1/articles", summary="The indexed articles, newest first")
    def articles() -> dict:
        return {"object": "list", "data": [_article(e) for e in shelf.articles()]}

    @api.post("/v1/articles", status_code=201,
              summary="Add or update articles (.txt, .md, .html; 2 MB each, 20 at once)")
    async def add_articles(files: Annotated[list[UploadFile], File()]) -> dict:
        uploads = [Upload(f.filename or "", await f.read(MAX_UPLOAD_BYTES + 1)) for f in files]
        report = await run_in_threadpool(shelf.add, uploads)
        return _ingest_view(report)

    @api.delete("/v1/articles/{article_id}", summary="Remove an article from the index")
    async def remove_article(article_id: str) -> dict:
        if article_id not in {e.doc_id for e in shelf.articles()}:
            raise ApiError(404, f"no article {article_id!r} in the index (GET /v1/articles lists "
                                "them)", code="article_not_found")
        report = await run_in_threadpool(shelf.remove, article_id)
        return {"id": article_id, "object": "article", "deleted": True, **_size(report)}

    @api.get("/health", summary="Liveness, index size and model")
    def health() -> dict:
        entries = shelf.articles()
        return {"status": "ok", "model": MODEL_ID, "generator": assistant.generator.name,
                "articles": len(entries), "chunks": sum(e.chunks for e in entries)}

    return api


def _article(entry) -> dict:
    return {"id": entry.doc_id, "object": "article", "title": entry.title, "date": entry.date,
            "chunks": entry.chunks}


def _size(report: IngestReport) -> dict:
    return {"articles": report.articles, "chunks": report.chunks}


def _ingest_view(report: IngestReport) -> dict:
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "skipped": [{"file": s.path.name, "reason": s.reason} for s in report.skipped],
            **_size(report)}
