"""Words of the pages' navigation: each link says what it does (found by qa11)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def _nav(html: str) -> list[str]:
    m = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    assert m, "no main navigation"
    return [re.sub(r"\s+", " ", t).strip() for t in re.findall(r">([^<>]+)</a>", m.group(1))]


def test_a_guest_is_offered_to_save_their_sessions(alice: TestClient) -> None:
    """A guest's link to the account page said 'Keep it' (keep what?): it now says what
    the page is for, and the page's heading says the same."""
    nav = _nav(alice.get("/checkin").text)
    assert "Save your sessions" in nav and "Keep it" not in nav
    page = alice.get("/account").text
    assert "<h1>Save your sessions</h1>" in page and 'href="/signup"' in page


def test_the_welcome_page_says_what_signing_up_keeps(anon: TestClient) -> None:
    page = anon.get("/").text
    assert "now or later to keep your sessions." in page and "to keep it." not in page


def test_find_a_therapist_is_current_on_the_directory_only(alice: TestClient) -> None:
    """The directory marks 'Find a therapist' as the current page; a therapist's own
    pages (/therapists/join, /therapists/me/...) do not (found by qa11)."""
    current = r'href="/therapists"\s+aria-current="page"'
    assert re.search(current, alice.get("/therapists").text)
    assert not re.search(current, alice.get("/therapists/join").text)
