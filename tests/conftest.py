"""Shared fixtures: one real embedding model, one seed index and one real GGUF model per session.

Nothing here is mocked: the seed index is built by the real ingest from `seeds/`, with the bundled
MiniLM model and FAISS, and the assistant answers with the bundled Qwen2.5 GGUF.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.answer.assistant import Assistant
from rag.ingest.indexer import ingest
from rag.models.embedding import Embedder
from rag.settings import PROJECT_ROOT, Settings
from rag.store.reader import load_index

SEEDS = PROJECT_ROOT / "seeds"
LIVE_BLOG = SEEDS / "004_11cf7204ea443644.txt"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory) -> Settings:
    return Settings(index=tmp_path_factory.mktemp("seed-index") / "index")


@pytest.fixture(scope="session")
def seed_index(seed_settings, embedder):
    ingest([SEEDS], seed_settings, embedder)
    return load_index(seed_settings.index)


@pytest.fixture(scope="session")
def assistant(seed_settings, seed_index, embedder) -> Assistant:
    return Assistant(seed_settings, embedder=embedder, index=seed_index)


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings with a private, empty index folder."""
    return Settings(index=tmp_path / "index")


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A private copy of the seed articles that a test may change."""
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


@pytest.fixture
def site():
    """A real HTTP server on 127.0.0.1 serving the routes a test gives it (`tests/webserver.py`)."""
    from tests.webserver import Site

    with Site() as server:
        yield server
