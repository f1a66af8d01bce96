"""Services of the fault tests' own, which they may stop and start: a PostgreSQL cluster
(initdb + pg_ctl in a temporary directory), a redis-server, and a TCP proxy in front of
the machine's RabbitMQ that a test cuts and restores.  The machine's shared services are
never touched (other people's tests use them)."""

from __future__ import annotations

import glob
import os
import pwd
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from servers import free_port


def _wait_port(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout_s} s")


class OwnPostgres:
    """A PostgreSQL cluster of the test's own on a free loopback port.

    PostgreSQL refuses to run as root: as root, the cluster lives in a directory owned
    by the ``postgres`` user and its programs run as that user (``runuser``).
    """

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not bins:
            raise AssertionError("PostgreSQL server binaries are not installed")
        self.bin = Path(bins[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="sonora-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.root / "pgdata"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
        subprocess.run(
            [*self.as_user, *initdb],
            check=True,
            capture_output=True,
        )
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        opts = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        cmd = [
            *self.as_user,
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            opts,
        ]
        subprocess.run(
            [*cmd, "-w", "-t", "60", *args],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self._ctl("start")
        _wait_port(self.port)

    def stop(self) -> None:
        """Stop now (``-m fast``: open connections are cut, as in a restart)."""
        self._ctl("stop", "-m", "fast")

    def remove(self) -> None:
        """Stop if running and delete the cluster."""
        subprocess.run(
            [
                *self.as_user,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "stop",
                "-m",
                "immediate",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


class OwnRedis:
    """A redis-server of the test's own (no persistence) on a free loopback port."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.root)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # an abrupt stop: connections drop
            self.proc.wait(timeout=30)


class TcpProxy:
    """Forwards a free loopback port to ``target``; :meth:`cut` refuses new connections
    and drops open ones (a network outage), :meth:`restore` ends the outage."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._up = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _listen(self) -> socket.socket:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.setblocking(False)
        return s

    def restore(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listener = self._listen()
            self._up.set()

    def cut(self) -> None:
        with self._lock:  # the pump registers sockets under this lock: none closes midway
            self._up.clear()
            if self._listener is not None:
                self._listener.close()  # new connections are refused
                self._listener = None
            for s in self._socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._socks.clear()

    def close(self) -> None:
        """Stop the pump thread (joined) and close every socket."""
        self._stop.set()
        self.cut()
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            raise AssertionError("the proxy's pump thread did not stop")

    def _pump(self) -> None:
        """Forward bytes both ways until :meth:`close`; never raises.

        The selector is filled under the lock :meth:`cut` closes sockets under, so no
        socket closes between the check that it is open and its registration (closed
        there, it made ``register`` raise in this thread: "Invalid file descriptor").
        """
        pairs: dict[socket.socket, socket.socket] = {}
        while not self._stop.is_set():
            sel = selectors.DefaultSelector()
            try:
                with self._lock:
                    listener = self._listener
                    for s in [s for s in pairs if s.fileno() == -1 or pairs[s].fileno() == -1]:
                        s.close()
                        del pairs[s]
                    if listener is not None:
                        sel.register(listener, selectors.EVENT_READ)
                    for s in pairs:
                        sel.register(s, selectors.EVENT_READ)
                events = sel.select(timeout=0.05)  # a socket cut meanwhile reads as closed
            except (OSError, ValueError, KeyError):
                sel.close()
                continue
            sel.close()
            for key, _ in events:
                s = key.fileobj
                assert isinstance(s, socket.socket)
                if s is listener:
                    self._accept(s, pairs)
                    continue
                other = pairs.get(s)
                if other is None:
                    continue  # its pair ended earlier in this round
                try:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    other.sendall(data)
                except OSError:
                    for x in (s, other):
                        pairs.pop(x, None)
                        x.close()
        for s in pairs:
            s.close()

    def _accept(self, listener: socket.socket, pairs: dict[socket.socket, socket.socket]) -> None:
        """Accept a client and connect it upstream (both closed at once when cut)."""
        try:
            client, _ = listener.accept()
        except OSError:  # cut meanwhile
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            if not self._up.is_set():  # cut while connecting: part of the outage
                client.close()
                upstream.close()
                return
            self._socks += [client, upstream]
        pairs[client], pairs[upstream] = upstream, client
