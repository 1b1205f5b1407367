"""`rag ingest | remove | list | ask | chat | serve | eval`: parse, call one library function, print.

Every user-facing failure is a `RagError`; `main` turns it into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import BadInput, IndexMissing, IndexOutdated, RagError

EXIT_BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------------------------
# argument parsing


def _parser() -> argparse.ArgumentParser:
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
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: seeds/)")
    p.add_argument("--rebuild", action="store_true", help="start a new index from these articles")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="parse, chunk and embed on Ray: a cluster's address (ray://host:10001, "
                        "auto), or none for a local Ray runtime")
    p.set_defaults(run=cmd_ingest)

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


def _settings(args: argparse.Namespace):
    """Settings from defaults, RAG_* variables and the flags given, in rising priority."""
    from pydantic import ValidationError

    from rag.settings import Settings

    overrides = {name: getattr(args, name) for name in ("index", "model", "top_k", "auth")
                 if getattr(args, name, None) is not None}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise BadInput(f"setting {field}: {first['msg']} (check the flag or RAG_{field.upper()})") from None


# ---------------------------------------------------------------------------------------------
# progress


@contextmanager
def progress_bar(desc: str, unit: str = "it", unit_scale: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar driven by (done, total) callbacks, which is what the library layers report."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=sys.stderr,
                       leave=False, dynamic_ncols=True)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


# ---------------------------------------------------------------------------------------------
# commands


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.embedding import Embedder
    from rag.ingest import ingest

    settings = _settings(args)
    if args.ray and args.ray != "auto" and ":" not in args.ray and Path(args.ray).exists():
        args.paths.insert(0, Path(args.ray))  # `--ray FOLDER`: a path, not an address
        args.ray = ""
    paths = args.paths or [settings.seeds]
    embedder = Embedder(settings.embedding_model, settings.embed_batch_size)
    with _workers(args, settings) as workers, progress_bar("Embedding", unit="chunk") as update:
        report = ingest(paths, settings, embedder, rebuild=args.rebuild, on_progress=update,
                        workers=workers)
    for skipped in report.skipped:
        print(f"rag: warning: skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    rate = (f" ({report.chunks_embedded / report.embed_seconds:.0f} chunks/s)"
            if report.chunks_embedded and report.embed_seconds else "")
    print(f"{report.summary()}; embedded {report.chunks_embedded} chunks{rate}")
    return 0


@contextmanager
def _workers(args: argparse.Namespace, settings):
    """Ray workers for --ray, else None (ingest parses and embeds in this process)."""
    if args.ray is None:
        yield None
        return
    from rag.ray_ingest import RayWorkers

    where = f"the Ray cluster at {args.ray}" if args.ray else "a local Ray runtime"
    print(f"Parsing, chunking and embedding on {where} …", file=sys.stderr)
    workers = RayWorkers(settings, args.ray or None)
    try:
        yield workers
    finally:
        workers.close()


def cmd_remove(args: argparse.Namespace) -> int:
    from rag.ingest import remove_articles

    report = remove_articles(args.doc_ids, _settings(args))
    print(report.summary())
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rag.backends import read_listing

    manifest = read_listing(_settings(args))
    entries = sorted(manifest.articles.values(), key=lambda e: e.doc_id)
    if args.json:
        print(json.dumps([vars(e) for e in entries], indent=2, ensure_ascii=False))
        return 0
    for entry in entries:
        print(f"{entry.doc_id}  {entry.date or 'undated':10}  {entry.chunks:3} chunks  {entry.title}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.pipeline import check_date, check_question

    check_question(args.question)  # before minutes of loading, not after
    check_date(args.since, "--since")
    check_date(args.until, "--until")
    assistant = _assistant(args)
    record, shown = _stream_answer(assistant, args.question, [], args,
                                   echo=not args.json and sys.stdout.isatty())
    if args.json:
        print(json.dumps(record.to_dict(), ensure_ascii=False, indent=2))
        return 0
    _print_answer(record, shown)
    return 0


def _stream_answer(assistant, question: str, history: list[tuple[str, str]],
                   args: argparse.Namespace, *, echo: bool, prefix: str = ""):
    """Run one question, echoing tokens as they come; returns the record and the echoed text."""
    from rag.pipeline import Final, Sources, Status, Token

    shown: list[str] = []
    record = None
    for event in assistant.stream(question, history, top_k=args.top_k, since=args.since,
                                  until=args.until, articles=args.article):
        if isinstance(event, Status) and event.stage == "rewriting" and echo:
            print(f"({event.message})", file=sys.stderr)
        elif isinstance(event, Status) and event.stage == "reading_more" and echo and shown:
            print(f"\n({event.message})", file=sys.stderr)  # what streamed was not the answer
            shown = []
        elif isinstance(event, Sources) and echo:
            print("Reading:")
            _print_passages(event.passages)
            print()
        elif isinstance(event, Token) and echo:
            if not shown:
                print(prefix, end="")
            shown.append(event.text)
            print(event.text, end="", flush=True)
        elif isinstance(event, Final):
            record = event.record
    return record, "".join(shown)


def cmd_chat(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
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
        _print_answer(record, shown)
        history.append((question, record.answer))


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    credentials = None
    if settings.auth:
        user, sep, password = settings.auth.partition(":")
        if not sep or not user or not password:
            raise BadInput("--auth takes USER:PASSWORD")
        credentials = (user, password)
    if not 0 < args.port < 65536:
        raise BadInput(f"--port {args.port} is not a port number")
    assistant = _assistant(args)
    from ui.server import serve

    base = f"http://{args.host}:{args.port}"
    print(f"Serving the chat UI on {base}/ and the API on {base}/v1 (OpenAPI: {base}/docs); "
          "Ctrl-C to stop", file=sys.stderr, flush=True)
    serve(assistant, host=args.host, port=args.port, credentials=credentials,
          token=settings.api_token)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from datetime import datetime

    from rag.evaluation import (check_thresholds, load_conversations, load_pairs, load_questions,
                                load_thresholds, run_eval)
    from rag.report import summary_table, write_report

    out = args.out or Path("eval/reports") / datetime.now().strftime("%Y%m%d-%H%M%S")
    thresholds = load_thresholds(args.thresholds) if _given(args.thresholds) else {}
    extra: list[str] = []
    if args.rgb:
        questions_file, extra = _prepare_rgb(args, out)
        conversations, labels, pairs = [], None, None
    else:
        questions_file = args.questions
        conversations = (load_conversations(args.conversations)
                         if _given(args.conversations) else [])
        labels = args.judge_labels if _given(args.judge_labels) else None
        pairs = load_pairs(args.pairs, args.split) if _given(args.pairs) else None
    questions = load_questions(questions_file, args.split)
    assistant = _assistant(args)
    with progress_bar("Evaluating", unit="item") as update:
        result = run_eval(assistant, questions, conversations, top_k=args.top_k,
                          on_progress=update, judge_labels=labels, pairs=pairs)
    failures = check_thresholds(result.metrics, thresholds)
    if args.rgb:
        from rag.rgb import paper_comparison

        extra.append(paper_comparison(result.metrics))
    label = f"{questions_file}" + (f", {args.split} split" if args.split else "")
    write_report(out, result, thresholds=thresholds, failures=failures, questions_file=label,
                 extra_sections=extra)
    print(summary_table(result.metrics, thresholds))
    print(f"report: {out / 'report.md'}")
    for failure in failures:
        print(f"rag: gate failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _given(path: Path) -> bool:
    """Eval file options take '' to mean: skip this part."""
    return str(path) not in ("", ".")


def _prepare_rgb(args: argparse.Namespace, out: Path) -> tuple[Path, list[str]]:
    """Build the RGB suite under the report folder and index its snippets there."""
    from rag.embedding import Embedder
    from rag.ingest import ingest
    from rag.rgb import build_rgb_suite

    suite = build_rgb_suite(args.rgb, out / "rgb")
    args.index = out / "rgb" / "index"
    settings = _settings(args)
    embedder = Embedder(settings.embedding_model, settings.embed_batch_size)
    print(f"RGB: {suite.snippets} snippets, {suite.answerable} answerable and "
          f"{suite.unanswerable} unanswerable queries; indexing…", file=sys.stderr)
    with progress_bar("Embedding", unit="chunk") as update:
        ingest([suite.corpus], settings, embedder, rebuild=True, on_progress=update)
    return suite.questions, [f"RGB suite: {suite.snippets} snippets indexed as one corpus; "
                             f"{suite.answerable} answerable queries, {suite.unanswerable} whose "
                             "answer-bearing snippets were removed (`rag/rgb.py`)."]


def _assistant(args: argparse.Namespace):
    """An Assistant with model, embedder and index loaded, so the first answer is not slow; a
    missing index is built from the seed articles, so every command works on a fresh machine."""
    from rag.pipeline import Assistant

    settings = _settings(args)
    with progress_bar("Assembling the model (once)", unit="B", unit_scale=True) as update:
        assistant = Assistant(settings, model_progress=update)
        _ = assistant.generator  # loads (and on first use assembles) the model
    try:
        _ = assistant.index
    except IndexOutdated:
        from rag.backends import upgrade

        print(f"Converting the index in {settings.index} to this release's format …", file=sys.stderr)
        upgrade(settings)
    except IndexMissing:
        from rag.backends import describe_index
        from rag.ingest import ingest

        print(f"No index in {describe_index(settings)}: building it from {settings.seeds} …",
              file=sys.stderr)
        with progress_bar("Embedding", unit="chunk") as on_progress:
            report = ingest([settings.seeds], settings, assistant.embedder, on_progress=on_progress)
        print(report.summary(), file=sys.stderr)
    _ = assistant.embedder
    return assistant


def _print_answer(record, streamed: str) -> None:
    """After streaming, show the checked answer if it differs, then the sources it cites."""
    if streamed.strip() != record.answer.strip():
        # the checks changed what streamed (a marker moved, or the draft was not supported)
        print(("\n↳ checked: " if streamed else "") + record.answer)
    else:
        print()
    cited = {c.n for c in record.citations}
    _print_passages([p for p in record.passages if p.n in cited])
    if record.removed_markers:
        print(f"  ({record.removed_markers} citation marker(s) pointing at no source were removed)")


def _print_passages(passages) -> None:
    for passage in passages:
        print(f"  [{passage.n}] {passage.title} ({passage.date or 'undated'}) · {passage.chunk_id}")


if __name__ == "__main__":
    sys.exit(main())
