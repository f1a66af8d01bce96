"""Two application cores on one PostgreSQL (as two web processes would be): when one
stores a refitted prior and says so, the other reloads it; the sender does not."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit import PG_URL, pg_schema

from sonora.core.app import Core
from sonora.match.matcher import POPULATION_KEY
from sonora.settings import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema() -> Iterator[str]:
    with pg_schema() as name:
        yield name


def test_a_refit_in_one_process_reaches_the_other(tmp_path: Path, schema: str) -> None:
    from sonora.core.database import Database

    cores = [
        Core(
            Settings(data_dir=tmp_path / str(i), database_url=PG_URL),
            store=Database.open(PG_URL, schema=schema),
        )
        for i in range(2)
    ]
    a, b = cores
    try:
        pa, pb = a.planner, b.planner  # each starts its listener
        refitted = pa.matcher.population.to_dict()
        refitted["n_sessions"] = refitted.get("n_sessions", 0) + 123
        pa.match_store.put_state(POPULATION_KEY, refitted)
        pa.matcher.population = type(pa.matcher.population).from_dict(refitted)
        assert pb.matcher.population.to_dict() != refitted
        time.sleep(0.5)  # both listeners are connected
        pa.on_refit()  # what Planner.record does after a refit
        deadline = time.monotonic() + 10
        while b.prior_sync.received == 0:
            assert time.monotonic() < deadline, "the other process was not told"
            time.sleep(0.05)
        assert pb.matcher.population.to_dict() == refitted
        assert a.prior_sync.received == 0  # its own notice is not news to the sender
    finally:
        for c in cores:
            c.close()
