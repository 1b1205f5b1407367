"""What the commands print besides their results: progress bars, answers and their passages."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


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


def warn(message: str) -> None:
    print(f"rag: warning: {message}", file=sys.stderr, flush=True)


def print_ingest_warnings(report, *, skipped: bool = True) -> None:
    """What an ingest left out or flagged: each skipped file or feed entry, and each article with
    sentences addressed to AI assistants. `rag watch` passes skipped=False: its watcher warns of
    each skipped file as it happens, also in batches that change nothing and so have no report."""
    if skipped and report.skipped:
        from rag.ingest.fetching import is_url

        for item in report.skipped:
            what = "" if is_url(item.path) else "skipped "  # a feed entry's reason says it all
            warn(f"{what}{item.path}: {item.reason}")
    for doc_id, sentences in report.addressed.items():
        warn(f"{doc_id}: {sentences} sentence{'s' if sentences > 1 else ''} addressed to AI "
             "assistants (kept as text; never shown to the model or quoted)")


@contextmanager
def fetch_counter() -> Iterator[Callable[[str], None]]:
    """A tqdm counter of pages and feeds fetched (how many a feed holds is known only as it is
    read), showing the one being fetched; on a terminal only, and cleared when done, so that a
    URL that fails leaves its one error line alone."""
    from tqdm import tqdm

    if not sys.stderr.isatty():
        yield lambda url: None
        return

    bar = None

    def fetching(url: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(desc="Fetching", unit="page", file=sys.stderr, leave=False,
                       dynamic_ncols=True)
        else:
            bar.update(1)
        bar.set_postfix_str(url[-60:], refresh=True)

    try:
        yield fetching
    finally:
        if bar is not None:
            bar.close()


def print_answer(record, streamed: str) -> None:
    """After streaming, show the checked answer if it differs, then the sources it cites."""
    if streamed.strip() != record.answer.strip():
        # the checks changed what streamed (a marker moved, or the draft was not supported)
        print(("\n↳ checked: " if streamed else "") + record.answer)
    else:
        print()
    cited = {c.n for c in record.citations}
    print_passages([p for p in record.passages if p.n in cited])
    for quote in record.quotes if not record.abstained else []:
        print(f"  quoted from [{quote.n}]: “{quote.text}”")
    if record.removed_markers:
        print(f"  ({record.removed_markers} citation marker(s) pointing at no source were removed)")


def print_passages(passages) -> None:
    """One line a passage: title, date, page, where it comes from; then the other outlets that
    carried the same story."""
    for passage in passages:
        page = f" · p. {passage.page}" if passage.page else ""
        where = passage.url or passage.chunk_id
        print(f"  [{passage.n}] {passage.title} ({passage.date or 'undated'}){page} · {where}")
        if passage.also_in:
            others = "; ".join(f"{o['title']} ({o['url'] or o['doc_id']})" for o in passage.also_in)
            print(f"      also reported by: {others}")
