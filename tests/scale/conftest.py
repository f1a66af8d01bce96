"""Fixtures of the scale-out tests: the PostgreSQL schema their servers share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import schema_url
from testkit import pg_schema


@pytest.fixture
def db_url() -> Iterator[str]:
    """The URL of a new PostgreSQL schema (``search_path`` set), dropped after."""
    with pg_schema() as name:
        yield schema_url(name)
