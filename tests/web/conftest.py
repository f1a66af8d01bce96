"""Fixtures of the web tests: the real app on a fresh SQLite database, two listeners
(``alice``, ``bob``) and an anonymous visitor, each a ``TestClient`` with its own cookies.
A test module that needs other settings defines its own ``app``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from webkit import make_listener, web_settings

from sonora.settings import Settings
from sonora.web import Core, create_app


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return web_settings(tmp_path)


@pytest.fixture
def app(app_settings: Settings) -> Iterator[Any]:
    core = Core(app_settings)
    yield create_app(core)
    core.close()


@pytest.fixture
def alice(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        make_listener(c)
        yield c


@pytest.fixture
def bob(app: Any, alice: TestClient) -> TestClient:
    c = TestClient(app)
    make_listener(c)
    return c


@pytest.fixture
def anon(app: Any) -> TestClient:
    return TestClient(app, follow_redirects=False)
