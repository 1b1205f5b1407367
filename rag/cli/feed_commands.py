"""`rag feeds [list | update | remove URL]`: the RSS/Atom feeds `rag ingest URL` follows.

`rag feeds update` prints a line per feed and a summary on stdout; a feed that could not be
updated is a warning on stderr (`rag: warning: FEED: reason`) and makes the exit code 1."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from rag.cli.loading import settings_from
from rag.cli.output import fetch_counter, progress_bar
from rag.errors import BadInput


def cmd_feeds(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.action != "remove" and args.url:
        raise BadInput(f"rag feeds {args.action} takes no URL (to stop following one: "
                       "rag feeds remove URL)")
    if args.action == "update":
        return _update(settings)
    if args.action == "remove":
        return _remove(settings, args.url)
    return _list(settings, as_json=args.json)


def _list(settings, *, as_json: bool) -> int:
    from rag.ingest.feed_registry import followed_feeds

    feeds = followed_feeds(settings)
    if as_json:
        shown = [{**{k: v for k, v in asdict(f).items() if k not in ("seen", "pending")},
                  "pending": sorted(f.pending)} for f in feeds]
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 0
    if not feeds:
        print("no feeds followed (follow one with: rag ingest FEED_URL)")
    for feed in feeds:
        print(f"{feed.url}  {feed.title or '(untitled)'}  {feed.entries} entries  "
              f"checked {feed.last_checked or 'never'}  {feed.last_status}")
    return 0


def _update(settings) -> int:
    """Exit 1 when a feed could not be updated, so a scheduled run shows up as failed."""
    from rag.cli.index_commands import LazyEmbedder
    from rag.ingest.by_url import update_feeds
    from rag.ingest.feed_registry import followed_feeds

    if not followed_feeds(settings):
        print("no feeds followed (follow one with: rag ingest FEED_URL)")
        return 0
    embedder = LazyEmbedder(settings)  # a feed not modified needs no model
    with progress_bar("Embedding", unit="chunk") as update, fetch_counter() as fetching:
        # the machine's own user may fetch from its own network
        result = update_feeds(settings, embedder, allow_private=True, on_progress=update,
                              on_page=fetching)
    for skipped in result.report.skipped:
        print(f"rag: warning: {skipped.path}: {skipped.reason}", file=sys.stderr)
    for url, reason in result.failures.items():
        print(f"rag: warning: {url}: {reason}", file=sys.stderr)
    for url, status in result.statuses.items():
        if url not in result.failures:
            print(f"{url}: {status}")
    report = result.report
    print(f"{report.summary()}; embedded {report.chunks_embedded} chunks")
    return 1 if result.failed else 0


def _remove(settings, url: str | None) -> int:
    from rag.ingest.feed_registry import remove_feed

    if not url:
        raise BadInput("name the feed to stop following: rag feeds remove URL (see: rag feeds)")
    feed = remove_feed(settings, url)
    print(f"no longer following {feed.url}; its articles stay in the index "
          "(remove them with: rag remove DOC_ID)")
    return 0
