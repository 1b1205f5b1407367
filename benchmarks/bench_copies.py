"""Where the near-copy threshold (RAG_COPY_THRESHOLD) comes from: similarity of republished copies
against similarity of different articles about the same events.

Copies: each seed article as another outlet would carry it (its own headline, navigation, bylines
and footer, a paragraph cut, a sentence of its own added), read through the same parsing and
cleaning as any file. Different articles: every pair of the five seed articles (all on security
guarantees for Ukraine, September 2025) and, from RGB's en_fact set, every pair of snippets
retrieved for one query (long enough to be linked). Prints the distributions and how many of
each side a threshold links.

    .venv/bin/python benchmarks/bench_copies.py [--rgb ../shared/external/rgb/en_fact.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.ingest.copies import signature, similarity  # noqa: E402
from rag.ingest.sources import parse_article  # noqa: E402
from rag.settings import PROJECT_ROOT, Settings  # noqa: E402

OUTLETS = [
    ("Menu\nHome\nWorld\nEurope\nSign in\nSubscribe\n", "{title} | The Daily Ledger",
     "Reporting by staff; editing by the world desk.\n© 2025 The Daily Ledger. All rights reserved.\n"
     "Related stories\nRead more"),
    ("Skip to content\nLatest news\nShare\n", "{title} - Northern Courier (AP)",
     "Copyright 2025 The Associated Press. All rights reserved.\nFollow us on social media\n"
     "Cookie settings\nTerms of use"),
]


def republished(text: str, title: str, outlet: tuple[str, str, str], rng: random.Random) -> str:
    """The article as another outlet carries it."""
    header, headline, footer = outlet
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if len(paragraphs) > 4:
        paragraphs.pop(rng.randrange(1, len(paragraphs) - 1))  # an editor's cut
    paragraphs.insert(1, "This story has been updated with additional reporting.")
    return "\n".join([header, headline.format(title=title), "By Staff Writers", *paragraphs,
                      footer])


def seed_articles() -> list:
    files = sorted((PROJECT_ROOT / "seeds").glob("*.txt"))
    return [parse_article(f.read_text(encoding="utf-8"), kind="text", doc_id=f.stem,
                          source=str(f)) for f in files]


def rgb_pairs(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        docs = [d for d in row["positive"] + row["negative"] if signature(d)]
        pairs += list(itertools.combinations(docs, 2))
    return pairs


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: none"
    return (f"{name}: n={len(values)} min={min(values):.3f} median={statistics.median(values):.3f}"
            f" max={max(values):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rgb", type=Path, default=PROJECT_ROOT.parent / "shared" / "external"
                        / "rgb" / "en_fact.json")
    args = parser.parse_args()
    rng = random.Random(23)
    seeds = seed_articles()
    copies = []
    for article in seeds:
        for n, outlet in enumerate(OUTLETS):
            text = republished(article.text, article.title, outlet, rng)
            copy = parse_article(text, kind="text", doc_id=f"{article.doc_id}-{n}", source="copy")
            copies.append(similarity(signature(article.text), signature(copy.text)))
    seed_pairs = [similarity(signature(a.text), signature(b.text))
                  for a, b in itertools.combinations(seeds, 2)]
    rgb = ([similarity(signature(a), signature(b)) for a, b in rgb_pairs(args.rgb)]
           if args.rgb.is_file() else [])
    print(summary("republished copies", copies))
    print(summary("seed article pairs (same events)", seed_pairs))
    print(summary("RGB snippet pairs (same query)", rgb))
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        print(f"threshold {threshold:.1f}: copies linked {sum(v >= threshold for v in copies)}"
              f"/{len(copies)}, seed pairs linked {sum(v >= threshold for v in seed_pairs)}"
              f"/{len(seed_pairs)}, RGB pairs linked {sum(v >= threshold for v in rgb)}/{len(rgb)}")
    print(f"setting in use: RAG_COPY_THRESHOLD={Settings().copy_threshold}")


if __name__ == "__main__":
    main()
