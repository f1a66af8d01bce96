"""What the web tests share: the settings of a test app, a listener made through the API,
a check-in, a form's CSRF token (imported as ``webkit``; the app fixtures are in ``tests/web/conftest.py``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sonora.settings import Settings

CHECKIN = {"tension": 7, "energy": 4, "mood": 4, "goal": "sleep", "minutes": 5}


def make_listener(c: TestClient) -> dict[str, Any]:
    """Make ``c`` a guest listener who loves rain and dislikes chimes; their profile."""
    r = c.post("/api/guest", json={})
    assert r.status_code == 201, r.text
    r = c.put("/api/profile", json={"loved": ["rain"], "disliked": ["chimes"]})
    assert r.status_code == 200, r.text
    return r.json()


def post_checkin(c: TestClient, **over: Any) -> dict[str, Any]:
    """Check in (:data:`CHECKIN` with ``over``) through the API; the plan made."""
    r = c.post("/api/checkins", json={**CHECKIN, **over})
    assert r.status_code == 201, r.text
    return r.json()


def csrf_of(c: TestClient, page: str = "/login") -> str:
    """The CSRF token of the form on ``page``."""
    r = c.get(page)
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text)
    assert m, f"no CSRF field on {page}"
    return m.group(1)


def web_settings(tmp_path: Path, **over: Any) -> Settings:
    """Settings of a test app: a fresh SQLite database in ``tmp_path``, no triage model
    loaded and no calibration ahead of play (unless ``over`` says otherwise)."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path / 'web.db'}",
        "secret_key": "test-secret-" + "k" * 32,
        "triage_notes": False,
        "calibrate_ahead": False,  # these tests never play: keep the CPU for them
    }
    return Settings(**{**values, **over})
