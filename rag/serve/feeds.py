"""The web over HTTP: add pages and feeds by URL, list the feeds followed, refresh them now."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from rag.ingest.feed_registry import Feed
from rag.serve.articles import ingest_view
from rag.serve.shelf import MAX_URLS, FeedRefresh, Shelf


class UrlsRequest(BaseModel):
    urls: list[str] = Field(..., min_length=1, max_length=MAX_URLS,
                            description="http(s) addresses of web pages or RSS/Atom feeds")


def feed_routes(shelf: Shelf) -> APIRouter:
    """`/v1/articles/urls`, `/v1/feeds` and `/v1/feeds/refresh`, over `shelf`."""
    api = APIRouter()

    @api.post("/v1/articles/urls", status_code=201,
              summary="Add web pages, or feeds (each entry added, the feed followed), by URL")
    async def add_urls(request: UrlsRequest) -> dict:
        report = await run_in_threadpool(shelf.add_urls, request.urls)
        return ingest_view(report)

    @api.get("/v1/feeds", summary="The feeds followed, and how the last refresh went")
    def feeds() -> dict:
        return {"object": "list", "data": [feed_view(f) for f in shelf.feeds()],
                "last_refresh": refresh_view(shelf.last_feed_refresh)}

    @api.post("/v1/feeds/refresh", summary="Fetch every followed feed now and add new entries")
    async def refresh() -> dict:
        update = await run_in_threadpool(shelf.update_feeds)
        return {"feeds": [feed_view(f) for f in shelf.feeds()], "failed": update.failed,
                **ingest_view(update.report), "last_refresh": refresh_view(shelf.last_feed_refresh)}

    return api


def feed_view(feed: Feed) -> dict:
    return {"url": feed.url, "object": "feed", "title": feed.title,
            "last_checked": feed.last_checked, "last_status": feed.last_status,
            "entries": feed.entries}


def refresh_view(last: FeedRefresh | None) -> dict | None:
    return asdict(last) if last is not None else None

