"""The fault tests' own TCP proxy (services.py): cut and restored under traffic, then
closed, its pump thread never raises and stops."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from services import TcpProxy


@pytest.fixture
def echo_port() -> Iterator[int]:
    """An echo server on a loopback port (a thread per connection)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def echo(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield int(server.getsockname()[1])
    stop.set()
    t.join(timeout=5)
    server.close()


def test_the_proxy_survives_cuts_under_traffic_and_closes_cleanly(echo_port: int) -> None:
    raised: list[threading.ExceptHookArgs] = []
    previous = threading.excepthook
    threading.excepthook = raised.append
    try:
        proxy = TcpProxy(echo_port)
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as c:
            c.sendall(b"calm")
            assert c.recv(16) == b"calm"  # it forwards
        done = threading.Event()
        echoed = [0]

        def talk() -> None:
            while not done.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", proxy.port), timeout=1) as c:
                        for _ in range(5):
                            c.sendall(b"x" * 100)
                            if c.recv(1000):
                                echoed[0] += 1
                except OSError:
                    time.sleep(0.001)  # cut: refused or dropped, as an outage is

        talkers = [threading.Thread(target=talk, daemon=True) for _ in range(4)]
        for t in talkers:
            t.start()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            proxy.cut()
            time.sleep(0.002)
            proxy.restore()
            time.sleep(0.01)
        proxy.close()
        done.set()
        for t in talkers:
            t.join(timeout=5)
        assert not proxy._thread.is_alive()
        assert echoed[0] > 0
    finally:
        threading.excepthook = previous
    assert not raised, [f"{a.exc_type.__name__}: {a.exc_value}" for a in raised]
