"""The `rag` command line: every command, its flags and the function that runs it."""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.cli.answer_commands import cmd_ask, cmd_chat, cmd_serve
from rag.cli.eval_command import cmd_eval
from rag.cli.feed_commands import cmd_feeds
from rag.cli.index_commands import cmd_ingest, cmd_list, cmd_remove
from rag.cli.watch_command import cmd_watch


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", type=Path, help="index folder (default: index/, or $RAG_INDEX)")
    answering = argparse.ArgumentParser(add_help=False)
    answering.add_argument("--model", type=Path, help="a GGUF model file (default: the bundled "
                                                      "Qwen2.5-Coder-1.5B-Instruct, or $RAG_MODEL)")
    answering.add_argument("--top-k", type=int, help="passages shown to the model (default 4)")
    answering.add_argument("--since", help="only articles dated on or after YYYY-MM-DD")
    answering.add_argument("--until", help="only articles dated on or before YYYY-MM-DD")
    answering.add_argument("--article", action="append", metavar="DOC_ID",
                           help="only this article (repeat for more; ids as in: rag list)")

    parser = argparse.ArgumentParser(prog="rag", description="Answer questions about news articles, "
                                     "offline, with checked citations.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", parents=[common], help="add, update or sync articles in the index")
    p.add_argument("paths", nargs="*", metavar="PATH_OR_URL",
                   help="files, folders, or http(s) URLs of web pages and RSS/Atom feeds (a feed "
                        "is followed: see rag feeds) (default: seeds/)")
    p.add_argument("--rebuild", action="store_true", help="start a new index from these articles")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="parse, chunk and embed on Ray: a cluster's address (ray://host:10001, "
                        "auto), or none for a local Ray runtime")
    p.add_argument("--warm", action="store_true",
                   help="then have the model read every passage once and keep its KV state, so "
                        "first questions are fast too (the passage cache)")
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser("watch", parents=[common],
                       help="sync a folder, then keep the index in step with it until Ctrl-C")
    p.add_argument("folder", type=Path, help="the folder to watch (and its subfolders)")
    p.set_defaults(run=cmd_watch)

    p = sub.add_parser("feeds", parents=[common], help="list, update or stop following the "
                                                       "RSS/Atom feeds added by rag ingest URL")
    p.add_argument("action", nargs="?", choices=["list", "update", "remove"], default="list",
                   help="list (default); update: fetch what is new in every feed (exit 1 "
                        "when a feed fails); remove URL: stop following a feed (its articles stay)")
    p.add_argument("url", nargs="?", help="the feed to remove")
    p.add_argument("--json", action="store_true", help="list the feeds as JSON")
    p.set_defaults(run=cmd_feeds)

    p = sub.add_parser("remove", parents=[common], help="remove articles by doc id")
    p.add_argument("doc_ids", nargs="+")
    p.set_defaults(run=cmd_remove)

    p = sub.add_parser("list", parents=[common], help="list the indexed articles")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_list)

    p = sub.add_parser("ask", parents=[common, answering], help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer record as JSON")
    p.set_defaults(run=cmd_ask)

    p = sub.add_parser("chat", parents=[common, answering], help="multi-turn chat in the terminal")
    p.set_defaults(run=cmd_chat)

    p = sub.add_parser("serve", parents=[common, answering], help="start the chat UI in the browser")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this "
                                                       "machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--auth", help="USER:PASSWORD to require a login (or $RAG_AUTH)")
    p.add_argument("--refresh", type=float, metavar="MINUTES",
                   help="fetch the followed feeds at start and every MINUTES while serving, "
                        "adding new entries (or $RAG_FEED_REFRESH_MINUTES; default 0: off)")
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("eval", parents=[common, answering],
                       help="measure retrieval, correctness, abstention and faithfulness")
    p.add_argument("--questions", type=Path, default=Path("eval/questions.jsonl"))
    p.add_argument("--conversations", type=Path, default=Path("eval/conversations.jsonl"),
                   help="two-turn conversations for follow-up rewriting ('' to skip)")
    p.add_argument("--judge-labels", type=Path, default=Path("eval/judge_labels.jsonl"))
    p.add_argument("--pairs", type=Path, default=Path("eval/support_pairs.jsonl"),
                   help="labelled (sentence, passage) pairs the verifier is scored on, per "
                        "class ('' to skip)")
    p.add_argument("--split", choices=["dev", "test"],
                   help="only the questions (and pairs) of this split (default: all)")
    p.add_argument("--rgb", type=Path, metavar="EN_FACT_JSON",
                   help="run the RGB en_fact suite built from this file instead of --questions: "
                        "its snippets are indexed under the report folder")
    p.add_argument("--thresholds", type=Path, default=Path("eval/thresholds.toml"),
                   help="fail (exit 1) when a metric falls below its minimum ('' to skip)")
    p.add_argument("--out", type=Path, help="report folder (default: eval/reports/<timestamp>/)")
    p.set_defaults(run=cmd_eval)
    return parser
