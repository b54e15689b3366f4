"""Shared fixtures: tiny real checkpoints written with the real libraries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
STORIES = SHARED / "models" / "stories260K" / "stories260K.bin"


@pytest.fixture(scope="session")
def stories260k() -> Path:
    """The real trained llama2.c checkpoint from ../shared/models, or a clean skip when ../shared is absent."""
    if not STORIES.is_file():
        pytest.skip("../shared/models/stories260K is not present")
    return STORIES


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """The tool must never touch the network: make any accidental hub access fail fast."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
