"""One story, several outlets: near-copies found at ingest and linked into a group.

Wire stories are republished nearly word for word under each outlet's headline and furniture.
Each article gets a MinHash signature of its word 5-shingles; LSH band keys (stored by the index,
so candidates are found without reading every article) propose earlier articles that may be
copies, and the signatures' estimated Jaccard similarity decides. A copy joins the group of the
article it copies (named by the group's first article), so that retrieval can keep one passage
per story and show the other outlets beside it. The threshold was measured
(`benchmarks/bench_copies.py`): republished copies score far above it, different articles on the
same event far below.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
from datasketch import MinHash

from rag.types import Article, Likeness

PERMUTATIONS = 128
BANDS = 32  # of 4 rows: a pair of similarity 0.5 shares a band with probability 0.87, of 0.8 ~1
SHINGLE_WORDS = 5
MIN_SHINGLES = 20  # shorter texts (a headline, a snippet) share too much by chance to be linked
_SEED = 23
_WORD = re.compile(r"\w+")


def shingles(text: str) -> set[str]:
    """Word 5-grams of the text, case and punctuation folded."""
    words = _WORD.findall(text.casefold())
    return {" ".join(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def signature(text: str) -> tuple[int, ...]:
    """The MinHash signature; () for a text too short to be linked."""
    grams = shingles(text)
    if len(grams) < MIN_SHINGLES:
        return ()
    minhash = MinHash(num_perm=PERMUTATIONS, seed=_SEED)
    minhash.update_batch([g.encode("utf-8") for g in grams])
    return tuple(int(x) for x in minhash.hashvalues)


def band_keys(sig: tuple[int, ...]) -> tuple[int, ...]:
    """One key per band of rows: two signatures that agree on a whole band share its key."""
    if not sig:
        return ()
    rows = len(sig) // BANDS
    keys = []
    for band in range(BANDS):
        values = np.asarray(sig[band * rows:(band + 1) * rows], dtype=np.uint64).tobytes()
        digest = hashlib.blake2b(bytes([band]) + values, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "big") & (2 ** 63 - 1))  # SQLite's signed INTEGER
    return tuple(keys)


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """The estimated Jaccard similarity of two texts' shingle sets."""
    if not a or not b or len(a) != len(b):
        return 0.0
    return float(np.mean(np.asarray(a, dtype=np.uint64) == np.asarray(b, dtype=np.uint64)))


def link_copies(articles: Iterable[Article], find, threshold: float,
                updated: Iterable[str] = ()) -> tuple[list[Article], dict[str, str]]:
    """The articles with their signature, band keys and group set, and {doc_id: the article it
    copies} for those found to be copies. `find(bands)` returns the `Likeness`es of indexed
    articles sharing a band; articles earlier in this batch are candidates too.

    An `updated` article that no longer copies anything gets a group of its own new name: the
    articles that were linked to it stay a group (they still copy each other) without it."""
    updated = set(updated)
    linked: list[Article] = []
    copies: dict[str, str] = {}
    batch: list[Likeness] = []
    for article in articles:
        sig = signature(article.text)
        bands = band_keys(sig)
        closest = _closest(sig, [*find(bands), *batch], article.doc_id, threshold) if sig else None
        if closest is not None:
            copies[article.doc_id] = closest.doc_id
            group = None if closest.group == article.doc_id else closest.group
        elif article.doc_id in updated:
            group = f"{article.doc_id}~{article.content_hash[:8]}"
        else:
            group = None
        article = replace(article, signature=sig, bands=bands, group=group)
        linked.append(article)
        if sig:
            batch.append(Likeness(article.doc_id, group or article.doc_id, sig))
    return linked, copies


def _closest(sig: tuple[int, ...], candidates: list[Likeness], doc_id: str,
             threshold: float) -> Likeness | None:
    """The most similar other article, when it is similar enough to be a copy."""
    scored = [(similarity(sig, c.signature), c) for c in candidates if c.doc_id != doc_id]
    best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
    return best[1] if best[1] is not None and best[0] >= threshold else None
