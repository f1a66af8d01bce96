"""A listener's times in their own zone: the history page, its API, the library page.

Stored instants are UTC; the page shows them in the zone the listener chose
(``sonora_tz``) or their browser reported (``sonora_browser_tz``, an alias normalised),
and says which; the API keeps ISO 8601, with that zone's offset.
"""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from webkit import post_checkin

from sonora.web.localtime import local_iso, when_text


def _session_time(c: TestClient) -> dt.datetime:
    (s,) = c.get("/api/history", params={"tz": "UTC"}).json()["sessions"]
    return dt.datetime.fromisoformat(s["when"])


def test_history_page_shows_the_browsers_zone_and_names_it(alice: TestClient) -> None:
    post_checkin(alice)
    utc = _session_time(alice)
    # what offline.js stores for Chrome in India: encodeURIComponent("Asia/Calcutta")
    alice.cookies.set("sonora_browser_tz", "Asia%2FCalcutta")
    page = alice.get("/history").text
    local = utc.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert f"{local:%d %b %Y, %H:%M} IST" in page
    assert "Times in <strong>Asia/Kolkata</strong>" in page
    assert " UTC</time>" not in page
    assert '<script src="/static/localtime.js">' in page
    # the zone chosen on a page with times comes before the browser's
    alice.cookies.set("sonora_tz", "America/New_York")
    page = alice.get("/history").text
    assert "Times in <strong>America/New_York</strong>" in page
    assert re.search(r"\d\d:\d\d E[SD]T</time>", page)


def test_history_page_without_a_known_zone_says_utc_for_the_script(alice: TestClient) -> None:
    post_checkin(alice)
    page = alice.get("/history").text
    assert 'data-times-zone=""' in page and "Times in <strong>UTC</strong>" in page
    utc = _session_time(alice)
    assert f'<time datetime="{utc.isoformat()}" data-local>' in page


def test_history_api_gives_iso_times_with_the_zones_offset(alice: TestClient) -> None:
    post_checkin(alice)
    utc = _session_time(alice)
    r = alice.get("/api/history", params={"tz": "Asia/Calcutta"})
    assert r.status_code == 200
    (s,) = r.json()["sessions"]
    assert r.json()["time_zone"] == "Asia/Kolkata"
    assert s["when"].endswith("+05:30")
    assert dt.datetime.fromisoformat(s["when"]) == utc
    alice.cookies.set("sonora_browser_tz", "Europe/London")
    assert alice.get("/api/history").json()["time_zone"] == "Europe/London"
    r = alice.get("/api/history", params={"tz": "Mars/Base"})
    assert r.status_code == 422 and "tz" in r.text and "Europe/London" in r.text


def test_formatting_names_the_zone() -> None:
    assert when_text("2026-01-07T14:30:00+00:00", "America/New_York") == "07 Jan 2026, 09:30 EST"
    assert when_text(dt.datetime(2026, 7, 7, 14, 30), None) == "07 Jul 2026, 14:30 UTC"
    assert local_iso("2026-07-07T14:30:00", "Europe/London") == "2026-07-07T15:30:00+01:00"
