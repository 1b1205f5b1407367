"""BM25 over chunk texts (bm25s), with English stop words and Snowball stemming.

Exact names and numbers ("26 countries", "Article 5") are where dense retrieval misses and
BM25 finds the passage, so both run on every question.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

_STEMMER = Stemmer.Stemmer("english")


def _tokenize(texts: Sequence[str]) -> list[list[str]]:
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_STEMMER, return_ids=False,
                          show_progress=False)


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25 | None, size: int) -> None:
        self._retriever = retriever
        self.size = size

    @classmethod
    def empty(cls) -> LexicalIndex:
        return cls(None, 0)

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        retriever = bm25s.BM25()
        retriever.index(_tokenize(texts), show_progress=False)
        return cls(retriever, len(texts))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(folder)), size)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(row, score) pairs, best first; rows whose score is zero share no term and are left out."""
        if self._retriever is None or self.size == 0:
            return []
        tokens = _tokenize([query])
        vocab = self._retriever.vocab_dict
        tokens = [[t for t in tokens[0] if t in vocab]]
        if not tokens[0]:
            return []
        rows, scores = self._retriever.retrieve(tokens, k=min(k, self.size), show_progress=False,
                                                n_threads=1)
        return [(int(r), float(s)) for r, s in zip(np.asarray(rows)[0], np.asarray(scores)[0])
                if s > 0]
