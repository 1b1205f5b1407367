"""Vector search by chunk id: a base segment on disk plus the vectors added since, in memory.

Rewriting every vector to add one article makes an add cost as much as the corpus is large. So the
base segment, a FAISS file written whole, changes only when the store folds into it what was added
(or dropped) since; until then the newer chunks' vectors are read from the chunk table into a small
exact index, and removed chunks are kept out of base results by an ID selector. A base segment is
exact (flat) while the corpus is small enough to scan; above `ann_threshold` vectors it is an IVF
index trained on the corpus itself, and searched with `nprobe` of its lists.

Filters (a date range, an article) are bitmaps over chunk ids handed to FAISS as selectors: FAISS
skips the chunks they exclude while it scans. When a filter leaves few chunks, more IVF lists are
probed, so a narrow filter still finds its k nearest among the chunks it allows.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexCorrupt
from rag.settings import AnnSettings

TRAIN_POINTS_PER_LIST = 40  # FAISS warns below 39 training points per centroid


class Selection:
    """The chunk ids a search may return: a bitmap FAISS reads, and how many ids it holds."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask
        self.count = int(mask.sum())
        self._bits = np.packbits(mask, bitorder="little")  # FAISS keeps a pointer: keep the array
        self.selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(self._bits))


class DenseIndex:
    def __init__(self, dimensions: int, base: faiss.Index | None, delta_ids: np.ndarray,
                 delta_vectors: np.ndarray, *, nprobe: int) -> None:
        self.dimensions = dimensions
        self.base = base
        self.delta = faiss.IndexIDMap2(faiss.IndexFlatIP(dimensions))
        if len(delta_ids):
            self.delta.add_with_ids(np.ascontiguousarray(delta_vectors, dtype=np.float32),
                                    delta_ids.astype(np.int64))
        self.nprobe = nprobe

    @property
    def approximate(self) -> bool:
        return isinstance(self.base, faiss.IndexIVF)

    def search(self, vector: np.ndarray, k: int, selection: Selection | None,
               live: Selection | None) -> list[tuple[int, float]]:
        """(chunk id, cosine) pairs, best first, among `selection` (None: every live chunk;
        `live` is None when the base segment holds no removed chunk)."""
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        found: list[tuple[int, float]] = []
        if self.base is not None and self.base.ntotal:
            found += self._search(self.base, query, k, selection or live)
        if self.delta.ntotal:
            found += self._search(self.delta, query, k, selection)
        found.sort(key=lambda hit: (-hit[1], hit[0]))
        return found[:k]

    def _search(self, index: faiss.Index, query: np.ndarray, k: int,
                selection: Selection | None) -> list[tuple[int, float]]:
        k = min(k, index.ntotal)
        if selection is not None and selection.count == 0:
            return []
        if isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(nprobe=self._probes(index, selection))
        else:
            params = faiss.SearchParameters()
        if selection is not None:
            params.sel = selection.selector
        scores, ids = index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _probes(self, index: faiss.IndexIVF, selection: Selection | None) -> int:
        """Probe more lists when a filter leaves a small share of the chunks: the lists nearest
        the query may hold none of them."""
        if selection is None:
            return min(self.nprobe, index.nlist)
        share = max(selection.count / max(index.ntotal, 1), 1e-9)
        return min(index.nlist, math.ceil(self.nprobe / min(share, 1.0)))


# ---------------------------------------------------------------------------------------------
# base segments


def read_base(path: Path) -> faiss.Index:
    try:
        return faiss.read_index(str(path))
    except Exception as exc:  # FAISS raises RuntimeError with C++ detail on damaged files
        raise IndexCorrupt(f"vector segment {path} is damaged ({exc.__class__.__name__})") from None


def write_base(index: faiss.Index, path: Path) -> None:
    """Written beside its final name, flushed, then renamed: a reader sees a whole file or none."""
    tmp = path.with_name(f".{path.name}.partial")
    faiss.write_index(index, str(tmp))
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def needs_training(lists: int, live: int, ann: AnnSettings) -> bool:
    """Whether a base segment with `lists` IVF lists (0: exact) must be built anew for `live`
    vectors: an IVF one once the corpus crosses the threshold, and again whenever it has grown
    enough to want twice the lists it has (fourfold), since longer lists slow every search; an
    exact one when it shrinks below."""
    if live <= ann.threshold:
        return lists > 0
    return lists == 0 or lists_for(live) > 2 * lists


def empty_base(dimensions: int, live: int, ann: AnnSettings) -> faiss.Index:
    """An exact index for a small corpus, an untrained IVF index for a large one."""
    if live <= ann.threshold:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimensions))
    nlist = lists_for(live)
    return faiss.IndexIVFFlat(faiss.IndexFlatIP(dimensions), dimensions, nlist,
                              faiss.METRIC_INNER_PRODUCT)


def lists_for(vectors: int) -> int:
    """About 4·√n lists, the usual choice for IVF (a list then holds a few hundred vectors), and
    never fewer training points per list than k-means needs."""
    return max(1, min(int(4 * math.sqrt(vectors)), vectors // TRAIN_POINTS_PER_LIST))


def train(index: faiss.IndexIVF, sample: np.ndarray) -> None:
    index.train(np.ascontiguousarray(sample, dtype=np.float32))


def add(index: faiss.Index, ids: np.ndarray, vectors: np.ndarray) -> None:
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))


def remove(index: faiss.Index, ids: np.ndarray) -> None:
    if len(ids):
        index.remove_ids(faiss.IDSelectorBatch(ids.astype(np.int64)))
