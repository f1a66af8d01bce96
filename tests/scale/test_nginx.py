"""deploy/nginx/sonora.conf on a real nginx in front of two real web processes: it is
valid, serves through either process, hides /metrics, and keeps serving when one dies."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from servers import free_port, kill, start_server

pytestmark = pytest.mark.postgres

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "sonora.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _nginx_conf(tmp_path: Path, port: int, upstreams: list[str]) -> Path:
    site = SITE.read_text()
    servers = "".join(f"    server {u} max_fails=2 fail_timeout=5s;\n" for u in upstreams)
    site = re.sub(r"(upstream sonora_web \{\n)(?:.*\n)*?(    keepalive)", rf"\1{servers}\2", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path}/body;\n"
        f" proxy_temp_path {tmp_path}/proxy;\n{site}\n}}\n"
    )
    return conf


def test_nginx_in_front_of_two_processes(tmp_path: Path, db_url: str) -> None:
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: apt-get install -y nginx-light")
    procs = []
    try:
        for _ in range(2):
            procs.append(start_server(tmp_path, db_url))
        port = free_port()
        conf = _nginx_conf(tmp_path, port, [b.removeprefix("http://") for _, b in procs])
        test = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
        assert test.returncode == 0, test.stderr
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"])
        try:
            front = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            for _ in range(50):
                try:
                    if front.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            assert front.get("/readyz").json()["status"] == "ready"
            assert front.get("/metrics").status_code == 404  # operators scrape each process
            # As a browser sends it: the page's origin, port included (nginx on 8080, say);
            # the app compares it with the Host nginx passes on (403 when the port is lost).
            r = front.post("/api/guest", json={}, headers={"Origin": f"http://127.0.0.1:{port}"})
            assert r.status_code == 201, r.text[:300]
            front.headers["Cookie"] = f"sonora_session={r.cookies['sonora_session']}"
            kill(procs[0][0])  # one process dies: nginx sends everything to the other
            codes = [front.get("/api/me").status_code for _ in range(10)]
            assert codes == [200] * 10, codes
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)
    finally:
        for p, _ in procs:
            kill(p)
