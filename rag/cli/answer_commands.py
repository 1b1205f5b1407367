"""`rag ask`, `rag chat`, `rag serve`: answer questions, once, in a conversation, or in the browser."""

from __future__ import annotations

import argparse
import json
import sys

from rag.cli.loading import load_assistant, settings_from
from rag.cli.output import print_answer, print_passages
from rag.errors import BadInput


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.answer.questions import check_date, check_question

    check_question(args.question)  # before minutes of loading, not after
    check_date(args.since, "--since")
    check_date(args.until, "--until")
    assistant = load_assistant(args)
    record, shown = _stream_answer(assistant, args.question, [], args,
                                   echo=not args.json and sys.stdout.isatty())
    if args.json:
        print(json.dumps(record.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print_answer(record, shown)
    return 0


def _stream_answer(assistant, question: str, history: list[tuple[str, str]],
                   args: argparse.Namespace, *, echo: bool, prefix: str = ""):
    """Run one question, echoing tokens as they come; returns the record and the echoed text."""
    from rag.answer.events import Final, Sources, Status, Token

    shown: list[str] = []
    quoted = ""
    record = None
    for event in assistant.stream(question, history, top_k=args.top_k, since=args.since,
                                  until=args.until, articles=args.article):
        if isinstance(event, Status) and event.stage == "quoting" and echo:
            quoted = _echo_quote(quoted, event.message.removeprefix("Reading: "))
        elif isinstance(event, Status) and event.stage == "rewriting" and echo:
            print(f"({event.message})", file=sys.stderr)
        elif isinstance(event, Status) and event.restarts and echo and shown:
            print(f"\n({event.message})", file=sys.stderr)  # what streamed was not the answer
            shown = []
        elif isinstance(event, Sources) and echo:
            print("Reading:")
            print_passages(event.passages)
            print()
        elif isinstance(event, Token) and echo:
            if not shown:
                print("\n" if quoted else "", end="", file=sys.stderr, flush=True)
                print(prefix, end="")
            shown.append(event.text)
            print(event.text, end="", flush=True)
        elif isinstance(event, Final):
            record = event.record
    return record, "".join(shown)


def _echo_quote(shown: str, quote: str) -> str:
    """The quote being copied, streamed to stderr; a quote that is not the last one grown is a
    new one, on its own line."""
    if shown and quote.startswith(shown):
        print(quote[len(shown):], end="", file=sys.stderr, flush=True)
    else:
        print(f"{chr(10) if shown else ''}Quote: {quote}", end="", file=sys.stderr, flush=True)
    return quote


def cmd_chat(args: argparse.Namespace) -> int:
    assistant = load_assistant(args)
    history: list[tuple[str, str]] = []
    print("Ask about the articles. Empty line or Ctrl-D to quit; /new starts a new conversation.")
    while True:
        try:
            question = input("\nyou> ").strip()
        except EOFError:
            print()
            return 0
        if not question:
            return 0
        if question == "/new":
            history.clear()
            print("(new conversation)")
            continue
        try:
            record, shown = _stream_answer(assistant, question, history, args, echo=True,
                                           prefix="rag> ")
        except BadInput as exc:
            print(f"rag: {exc}", file=sys.stderr)
            continue
        if record.standalone_question != question:
            print(f"\n(searched for: {record.standalone_question})", end="")
        print_answer(record, shown)
        history.append((question, record.answer))


def _warmed(report) -> None:
    if report.cached and report.computed:
        print(f"passage cache: read {report.computed} of {report.blocks} passages ahead of "
              "questions", file=sys.stderr, flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    credentials = None
    if settings.auth:
        user, sep, password = settings.auth.partition(":")
        if not sep or not user or not password:
            raise BadInput("--auth takes USER:PASSWORD")
        credentials = (user, password)
    if not 0 < args.port < 65536:
        raise BadInput(f"--port {args.port} is not a port number")
    refresh = settings.feed_refresh_minutes  # the app's lifespan starts the refresher from it
    assistant = load_assistant(args)
    from rag.answer.warming import warm_in_background
    from ui.server import serve

    warm_in_background(assistant.generator, assistant.index, settings, on_done=_warmed)
    base = f"http://{args.host}:{args.port}"
    print(f"Serving the chat UI on {base}/ and the API on {base}/v1 (OpenAPI: {base}/docs); "
          "Ctrl-C to stop", file=sys.stderr, flush=True)
    if refresh:
        print(f"Refreshing the followed feeds now and every {refresh:g} minutes", file=sys.stderr,
              flush=True)
    serve(assistant, host=args.host, port=args.port, credentials=credentials,
          token=settings.api_token)
    return 0
