"""`rag eval`: measure the assistant on a question set (or the RGB suite) and write a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag.cli.loading import load_assistant, settings_from
from rag.cli.output import progress_bar


def cmd_eval(args: argparse.Namespace) -> int:
    from datetime import datetime

    from rag.evaluate.data import load_conversations, load_pairs, load_questions, load_thresholds
    from rag.evaluate.report import summary_table, write_report
    from rag.evaluate.run import run_eval
    from rag.evaluate.scoring import check_thresholds

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
    assistant = load_assistant(args)
    with progress_bar("Evaluating", unit="item") as update:
        result = run_eval(assistant, questions, conversations, top_k=args.top_k,
                          on_progress=update, judge_labels=labels, pairs=pairs)
    failures = check_thresholds(result.metrics, thresholds)
    if args.rgb:
        from rag.evaluate.rgb import paper_comparison

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
    from rag.evaluate.rgb import build_rgb_suite
    from rag.ingest.indexer import ingest
    from rag.models.embedding import Embedder

    suite = build_rgb_suite(args.rgb, out / "rgb")
    args.index = out / "rgb" / "index"
    settings = settings_from(args)
    embedder = Embedder(settings.embedding_model, settings.embed_batch_size)
    print(f"RGB: {suite.snippets} snippets, {suite.answerable} answerable and "
          f"{suite.unanswerable} unanswerable queries; indexing…", file=sys.stderr)
    with progress_bar("Embedding", unit="chunk") as update:
        ingest([suite.corpus], settings, embedder, rebuild=True, on_progress=update)
    return suite.questions, [f"RGB suite: {suite.snippets} snippets indexed as one corpus; "
                             f"{suite.answerable} answerable queries, {suite.unanswerable} whose "
                             "answer-bearing snippets were removed (`rag/evaluate/rgb.py`)."]
