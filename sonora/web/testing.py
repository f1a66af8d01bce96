"""Run the real app on a loopback port, for tests, browser tests and benchmarks.

>>> from sonora.settings import Settings
>>> from sonora.web.testing import running_server
>>> with running_server(Settings(database_url="sqlite://", data_dir="/tmp/sonora-doc",
...                              secret_key="k" * 32)) as server:   # doctest: +SKIP
...     server.url
'http://127.0.0.1:54321'
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from sonora.core.app import Core
from sonora.settings import Settings
from sonora.web.app import create_app

__all__ = ["RunningServer", "free_port", "running_server"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    """A server started by :func:`running_server`."""

    url: str
    core: Core
    server: uvicorn.Server


@contextmanager
def running_server(settings: Settings, *, port: int | None = None) -> Iterator[RunningServer]:
    """Serve the app with uvicorn in a background thread until the block ends.

    Parameters
    ----------
    settings : Settings
        App settings (use a temporary database).
    port : int, optional
        Port on 127.0.0.1 (a free one by default).
    """
    core = Core(settings)
    app = create_app(core)
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="sonora-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", core, server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        core.close()
