"""Write an eval run to disk: records, metrics, a Markdown report and a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path

from rag.evaluate.run import EvalResult

DEFINITIONS = {
    "evidence_recall": "share of an answerable question's evidence quotes that lie inside a passage "
                       "shown to the model (recall@k), averaged over answerable questions",
    "mrr": "mean reciprocal rank of the first shown passage holding any evidence quote",
    "correctness": "answerable questions answered (not abstained) with every must_include entry",
    "abstention": "unanswerable questions the assistant declined",
    "false_abstention": "answerable questions the assistant declined",
    "citation_validity": "answer markers that point at a passage the model was shown",
    "citation_recall": "ALCE citation recall: cited answer sentences whose cited passages, "
                       "together, support them (verifier below)",
    "citation_precision": "ALCE citation precision: citations needed for their sentence's support "
                          "(not irrelevant: supports alone, or the rest would not)",
    "evidence_cited": "correct answers citing a passage that holds one of their evidence quotes, "
                      "among those shown any (scored on the eval labels, not by the verifier)",
    "citations_repointed": "cited sentences whose marker the model got wrong and the support check "
                           "moved to shown passages that entail it",
    "faithfulness": "answer sentences supported by their citations / all answer sentences "
                    "(an uncited sentence counts as unsupported)",
    "first_token_p50_ms": "median time from question to first answer token",
    "first_token_p95_ms": "95th percentile of time to first token",
    "total_p50_ms": "median time for the whole answer",
    "total_p95_ms": "95th percentile of time for the whole answer",
    "verify_p50_ms": "median time the verifier added to an answer after generation (answered "
                     "questions only)",
    "prompt_tokens_p50": "median tokens of the answer prompt the model read (questions that "
                         "reached the model; the fuller prompt where it read twice)",
    "second_readings": "questions that reached the model and whose best passages gave no answer, "
                       "so the model read all of them",
    "followup_rewrite": "two-turn conversations whose rewritten follow-up names what it refers to",
    "followup_correct": "two-turn conversations whose follow-up answer holds the expected fact",
    "judge_accuracy": "verifier agreement with hand labels (eval/judge_labels.jsonl, written "
                      "together with the judge)",
    "pairs_supported_accuracy": "verifier: labelled supported pairs judged supported "
                                "(eval/support_pairs.jsonl; labels made without the judge)",
    "pairs_unsupported_accuracy": "verifier: labelled unsupported pairs (substitution, "
                                  "contradiction, off-question, injection echo, ...) judged unsupported",
}
_RATES = [k for k in DEFINITIONS if not k.endswith("_ms")]


def write_report(out: Path, result: EvalResult, *, thresholds: dict[str, float],
                 failures: list[str], questions_file: str,
                 extra_sections: list[str] = ()) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "records.jsonl").open("w", encoding="utf-8") as fh:
        for record in result.records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    (out / "metrics.json").write_text(json.dumps(
        {"metrics": result.metrics, "conversations": result.conversations,
         "judge_errors": result.judge_errors, "pair_classes": result.pair_classes,
         "thresholds": thresholds, "failures": failures},
        indent=2, ensure_ascii=False), encoding="utf-8")
    _chart(out / "metrics.png", result.metrics, thresholds)
    report = _markdown(result, thresholds, failures, questions_file)
    report += "".join(f"\n{section}" for section in extra_sections)
    (out / "report.md").write_text(report, encoding="utf-8")


def summary_table(metrics: dict[str, float], thresholds: dict[str, float]) -> str:
    lines = [f"{'metric':24} {'value':>10} {'threshold':>11}"]
    for name, value in metrics.items():
        limit = thresholds.get(name)
        bound = f">= {limit:.2f}" if limit is not None else ""
        if f"max:{name}" in thresholds:
            bound = f"<= {thresholds[f'max:{name}']:.0f}" if name.endswith("_ms") else f"<= {thresholds[f'max:{name}']:.2f}"
        shown = f"{value:.0f}" if name.endswith("_ms") or name == "questions" else f"{value:.3f}"
        lines.append(f"{name:24} {shown:>10} {bound:>11}")
    return "\n".join(lines)


def _markdown(result: EvalResult, thresholds: dict[str, float], failures: list[str],
              questions_file: str) -> str:
    m = result.metrics
    parts = [f"# Eval report\n\nQuestions: `{questions_file}` ({int(m['questions'])}); "
             f"model: `{result.records[0]['model'] if result.records else '?'}`.\n",
             "![metrics](metrics.png)\n",
             "| metric | value | threshold | definition |", "| --- | ---: | ---: | --- |"]
    for name, value in m.items():
        if name == "questions":
            continue
        limit = thresholds.get(name, thresholds.get(f"max:{name}"))
        shown = f"{value:.0f}" if name.endswith("_ms") else f"{value:.3f}"
        sign = "≤" if f"max:{name}" in thresholds else "≥"
        parts.append(f"| {name} | {shown} | {f'{sign} {limit:g}' if limit is not None else ''} | "
                     f"{DEFINITIONS.get(name, '')} |")
    parts.append("\nSupport is decided offline by `rag.check.verifier`: certain lexical rejections (a "
                 "number, a name or the year the question asked for that the cited passages do not "
                 "hold; words found only in an instruction inside a passage), then the local model "
                 "asked whether the cited passages entail the sentence, inside the answer's own "
                 "context. Citation recall and precision and faithfulness are that verifier's own "
                 "view of the answers it also filters, so they read high by construction; "
                 "correctness, abstention and evidence recall are scored against the eval set's "
                 "labels, and the verifier itself against the labelled pairs below.\n")
    if result.pair_classes:
        parts.append("## Verifier on labelled pairs, per class\n")
        parts.append("| label | class | right | total | accuracy |")
        parts.append("| --- | --- | ---: | ---: | ---: |")
        for key, tally in result.pair_classes.items():
            label = "supported" if key.startswith("+") else "unsupported"
            parts.append(f"| {label} | {key[1:]} | {tally['right']} | {tally['total']} | "
                         f"{tally['right'] / tally['total']:.2f} |")
        parts.append("")
    parts.append("## Gate\n\n" + ("\n".join(f"- FAILED: {f}" for f in failures) if failures
                                   else "All thresholds met.") + "\n")
    failed = [r for r in result.records if not _passed(r)]
    parts.append(f"## Failed questions ({len(failed)})\n")
    for record in failed:
        parts.append(f"### {record['id']}: {record['question']}\n")
        parts.append(f"- expected: {record['expected']}" if "expected" in record else "")
        parts.append(f"- answer{' (abstained)' if record['abstained'] else ''}: {record['answer']}")
        if record.get("unsupported_sentences"):
            parts.append(f"- unsupported sentences: {record['unsupported_sentences']}")
        for p in record["passages"]:
            text = " ".join(p["text"].split())
            parts.append(f"  - [{p['n']}] {p['title'][:60]} ({p['date']}) `{p['chunk_id']}`: {text[:300]}")
        parts.append("")
    if result.conversations:
        parts.append("## Follow-up conversations\n")
        for c in result.conversations:
            ok = "ok" if c["rewrite_ok"] and c["answer_ok"] else "FAILED"
            parts.append(f"- {c['id']} ({ok}): {' → '.join(c['turns'])}; searched for "
                         f"“{c['standalone_question']}”; answer: {c['answer']}")
    if result.judge_errors:
        parts.append("\n## Judge disagreements with the hand labels\n")
        for e in result.judge_errors:
            parts.append(f"- labelled {'supported' if e['supported'] else 'unsupported'} "
                         f"({e['kind']}): {e['sentence']}")
    return "\n".join(parts) + "\n"


def _passed(record: dict) -> bool:
    return bool(record.get("score", {}).get("passed", True))


def _chart(path: Path, metrics: dict[str, float], thresholds: dict[str, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in _RATES if k in metrics]
    values = [metrics[k] for k in names]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    colors = ["#c0392b" if k in thresholds and metrics[k] < thresholds[k]
              or f"max:{k}" in thresholds and metrics[k] > thresholds[f"max:{k}"] else "#2e86c1"
              for k in names]
    bars = ax.barh(names[::-1], values[::-1], color=colors[::-1])
    for bar, value in zip(bars, values[::-1]):
        ax.text(min(value + 0.01, 0.93), bar.get_y() + bar.get_height() / 2, f"{value:.2f}",
                va="center", fontsize=8)
    for i, name in enumerate(names[::-1]):
        limit = thresholds.get(name, thresholds.get(f"max:{name}"))
        if limit is not None:
            ax.plot([limit, limit], [i - 0.4, i + 0.4], color="black", linewidth=1.5)
    ax.set_xlim(0, 1)
    ax.set_title("Answer quality (bars) and CI thresholds (black ticks)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
