"""Fixtures shared by the care tests."""

from __future__ import annotations

import pytest

from sonora.care import embedding


@pytest.fixture(scope="module")
def model() -> object:
    """Load the embedding model and prototypes once for a module (the prototypes are
    embedded by :func:`sonora.care.embedding.model_info`)."""
    enc = embedding.encoder()
    embedding.model_info()
    return enc
