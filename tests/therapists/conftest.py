"""Fixtures of the therapist tests: settings, a SQLite store, a clock, the service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit import migrated_sqlite
from therapistkit import T0, Clock, make_service

from sonora.core.database import Database as Store
from sonora.settings import Settings
from sonora.therapists.service import Therapists


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="k" * 40,
        booking_notice_hours=2,
        booking_horizon_days=28,
        outbox_interval_s=0,
        public_url="https://sonora.example.org/",
        booking_confirmation=False,  # the direct flow; confirmation: tests/test_holds.py
    )


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(migrated_sqlite(tmp_path / "one.db"))
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def svc(sqlite_store: Store, settings: Settings, clock: Clock) -> Therapists:
    return make_service(sqlite_store, settings, clock)
