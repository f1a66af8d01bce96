"""The app of the therapist directory's web tests (settings: ``webkit.therapist_settings``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webkit import therapist_settings

from sonora.web import Core, create_app


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = Core(therapist_settings(tmp_path))
    yield c
    c.close()


@pytest.fixture
def app(core: Core) -> Any:
    return create_app(core)
