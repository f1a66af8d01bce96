"""The installable app's server side and the small page fixes of issue #14.

Manifest and service worker as a browser's install check reads them, the cached
"Kept for offline" page, ``/listening`` and ``/guide/which`` for a first visitor.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from webkit import web_settings

from sonora.web import Core, create_app
from sonora.web.app import WEB_DIR
from sonora.web.pwa import APP_SHELL, CACHE_VERSION


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    core = Core(web_settings(tmp_path))
    with TestClient(create_app(core), follow_redirects=False) as c:
        yield c
    core.close()


def test_manifest_meets_install_criteria(client: TestClient) -> None:
    r = client.get("/manifest.webmanifest")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/manifest+json")
    m = r.json()
    assert m["name"] and m["short_name"] and m["start_url"].startswith("/")
    assert m["display"] in ("standalone", "fullscreen", "minimal-ui")
    sizes = {}
    for icon in m["icons"]:
        got = client.get(icon["src"])
        assert got.status_code == 200, icon["src"]
        if icon["type"] == "image/png":
            head = (WEB_DIR / icon["src"].removeprefix("/")).read_bytes()[:24]
            assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", icon["src"]
            width, height = struct.unpack(">II", head[16:24])
            assert f"{width}x{height}" == icon["sizes"], icon["src"]
            assert got.content[:24] == head
            sizes[icon["sizes"]] = icon.get("purpose", "any")
    assert "192x192" in sizes and "512x512" in sizes
    assert "maskable" in sizes.values()
    page = client.get("/").text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<script src="/static/offline.js"></script>' in page


def test_service_worker_is_served_for_the_whole_site(client: TestClient) -> None:
    r = client.get("/sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["service-worker-allowed"] == "/"
    assert "no-cache" in r.headers["cache-control"]
    # the worker caches the same shell the server declares, under the same version
    assert f'var SHELL = "{CACHE_VERSION}"' in r.text
    listed = re.findall(r'^\s+"(/[^"]*)",?$', r.text, flags=re.M)
    assert tuple(listed) == APP_SHELL
    for url in APP_SHELL:
        assert client.get(url).status_code == 200, url


def test_kept_page_has_no_personal_data(client: TestClient) -> None:
    client.post("/api/guest", json={})
    client.put("/api/profile", json={"loved": ["rain"]})
    me = client.get("/api/me").json()["id"]
    r = client.get("/kept")
    assert r.status_code == 200 and "Kept for offline" in r.text
    assert me not in r.text and 'href="/account"' not in r.text  # cacheable for anyone


def test_kept_page_never_tells_a_signed_in_listener_to_log_in(client: TestClient) -> None:
    """/kept is cached for everyone using the browser: its nav suits anyone, not "Log in"."""
    client.post("/api/guest", json={})
    r = client.get("/kept")
    assert r.status_code == 200
    nav = r.text.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert 'href="/login"' not in nav and 'href="/checkin"' in nav
    anon = TestClient(client.app, follow_redirects=False)
    nav = anon.get("/").text.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert 'href="/login"' in nav  # a page that knows its visitor still offers log-in


def test_listening_without_a_session_explains_instead_of_redirecting(client: TestClient) -> None:
    r = client.get("/listening")
    assert r.status_code == 200
    assert "Safe listening" in r.text and 'action="/start"' in r.text
    assert "Weekly allowance by level" in r.text
    assert "Your listening this week" not in r.text


def test_which_helper_with_no_answers_shows_the_questions(client: TestClient) -> None:
    r = client.get("/guide/which")
    assert r.status_code == 200
    assert 'role="alert"' not in r.text and "Please check" not in r.text
    # a partly answered form names the question in words, never the field name
    r = client.get("/guide/which", params={"harm": "no"})
    assert r.status_code == 422
    alert = re.search(r'<div class="alert" role="alert".*?</div>', r.text, flags=re.S)
    assert alert is not None
    assert "What are you hoping for?" in alert.group(0)
    assert "hope" not in alert.group(0).replace("hoping", "")
