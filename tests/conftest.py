"""Pytest set-up: the shared fixtures and hooks (defined in :mod:`testkit`) and markers.

Markers (registered in ``pyproject.toml``):

* ``postgres`` — needs the PostgreSQL service (the ``postgresql`` store parameter);
* ``browser`` — drives Chromium through Playwright (everything under ``tests/web/e2e``);
* ``slow`` — renders minutes of audio or measures a whole process (the per-scene
  measurements, the memory probes, the live-stream server).

``make test-fast`` runs ``-m "not postgres and not browser and not slow"``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit import (  # noqa: F401  (fixtures and hooks pytest finds here)
    memory_probes,
    pytest_collection_finish,
    pytest_sessionfinish,
    rng,
    scene_metrics,
)

HERE = Path(__file__).parent
#: Test modules that measure whole processes or long renders.
SLOW_MODULES = {"test_memory.py", "test_web_stream.py"}
#: ... and those that start servers, workers, RabbitMQ/Redis clients or nginx (scale-out).
SLOW_MODULES |= {"test_jobs.py", "test_two_servers.py", "test_nginx.py"}
#: Fixtures that render minutes of audio or start processes.
SLOW_FIXTURES = {"scene_metrics", "memory_probes"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path))
        if (HERE / "web" / "e2e") in path.parents:
            item.add_marker(pytest.mark.browser)
        if path.name in SLOW_MODULES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
