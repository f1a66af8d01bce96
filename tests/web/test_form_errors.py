"""A hand-made POST (a field missing or altered) is refused in the words of the page.

Every form of the listener's pages is read from the page itself, then posted with each
field left out and with each field set to nonsense.  Whatever the page answers names the
field by its label (never a key such as ``default_goal``, ``loved[0]`` or ``level_dba``)
and says no pydantic or Python message; a refused choice names the choices as labelled.
The JSON API keeps its documented keys but speaks Sonora's words too.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from webkit import csrf_of, post_checkin

from sonora.web.fieldlabels import FIELD_LABELS

#: What must never reach a listener: a snake_case key or an index, pydantic's or Python's
#: own words.
LEAK = re.compile(
    r"\b[a-z]+_[a-z_]+\b|\w\[\d+\]|Input should|Field required|value_error|Traceback|"
    r"unable to parse"
)


class _Forms(HTMLParser):
    """The POST forms of a page with a valid submission of each (defaults as shown)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action"), "method": a.get("method", "get"), "data": {}}
            self.forms.append(self._form)
        if self._form is None or not a.get("name"):
            if tag == "option" and self._form is not None and self._select:
                data = self._form["data"]
                if self._select not in data or "selected" in a:
                    data[self._select] = a.get("value", "")
            return
        data, name, kind = self._form["data"], a["name"], a.get("type", "text")
        if tag == "input" and kind == "checkbox":
            if "checked" in a:
                data[name] = a.get("value", "on")
        elif tag == "input" and kind == "radio":
            if name not in data or "checked" in a:
                data[name] = a.get("value", "on")
        elif tag == "input":
            data.setdefault(name, a.get("value", ""))
        elif tag == "textarea":
            data.setdefault(name, "")
        elif tag == "select":
            self._select = name

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        if tag == "select":
            self._select = None


def _alert(page: str) -> str:
    found = re.findall(r'role="alert"[^>]*>(.*?)</div>', page, re.S)
    found = found or re.findall(r"<main[^>]*>(.*?)</main>", page, re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", x)) for x in found)


def test_tampered_listener_forms_name_fields_by_their_labels(alice: TestClient) -> None:
    plan_id = post_checkin(alice)["plan"]["id"]
    checked = 0
    for page in ("/onboarding", "/checkin", f"/plan/{plan_id}", f"/after/{plan_id}", "/listening"):
        parser = _Forms()
        parser.feed(alice.get(page).text)
        for form in parser.forms:
            if form["method"].lower() != "post" or form["action"] in ("/logout", None):
                continue
            base = {**form["data"]}
            if "country" in base and not base["country"]:
                base["country"] = "GB"
            for key in [k for k in base if k != "csrf_token"]:
                for data in ({k: v for k, v in base.items() if k != key}, {**base, key: "zzz"}):
                    r = alice.post(form["action"], data=data, follow_redirects=False)
                    if r.status_code < 400:
                        continue
                    said = _alert(r.text)
                    checked += 1
                    assert not LEAK.search(said), (page, key, said)
                    assert "Please check" in said, (page, key, said)
    assert checked >= 20  # the forms were found and refused something


def test_a_refused_choice_names_the_field_and_choices_as_the_page_does(alice: TestClient) -> None:
    token = csrf_of(alice, "/onboarding")
    r = alice.post(
        "/onboarding", data={"default_goal": "nap", "country": "GB", "csrf_token": token}
    )
    said = _alert(r.text)
    assert r.status_code == 422
    assert FIELD_LABELS["default_goal"] in said
    assert "Fall asleep, Unwind, Ease anxious feelings, Focus" in said
    r = alice.post("/listening", data={"level_dba": "loud", "csrf_token": token})
    assert "The reference sound seems…" in _alert(r.text) and "60, 65, 70" in _alert(r.text)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"tension": "zzz"}, "tension", "expected a number from 0 to 10, got 'zzz'"),
        ({"tension": 5, "goal": 7}, "goal", "expected one of sleep, unwind, ease_anxiety or focus"),
        ({"tension": 5, "minutes": "x"}, "minutes", "expected a number"),
        ([1], "body", "expected a JSON object"),
    ],
)
def test_api_errors_keep_keys_but_not_pydantic_words(
    alice: TestClient, body: Any, field: str, words: str
) -> None:
    r = alice.post("/api/checkins", json=body)
    assert r.status_code == 422
    out = r.json()
    assert out["field"] == field and words in out["detail"], out
    assert not re.search(r"Input should|Field required|unable to parse|\.float", r.text)


def test_api_missing_fields_say_required(anon: TestClient) -> None:
    r = anon.post("/api/login", json={})
    assert r.json()["detail"] == "email: required"
    assert [e["field"] for e in r.json()["errors"]] == ["email", "password"]
