"""What a crisis screen says: plain when the rules found something, tentative when the
trained reader alone read a few words as crisis (sonora.care.messages).

The notes here were written for these tests.  The tentative case is driven by the
reader's output (``sonora.care.triage._reader`` replaced by a fixed probability) so
that it does not depend on how the shipped reader happens to score a given note; the
rules, the sentence model and the resources are the real ones.
"""

from __future__ import annotations

import pytest

from sonora.care import triage as triage_mod
from sonora.care.triage import triage

HARD = "sounds like things are really hard"


@pytest.fixture
def reader_says_crisis(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trained reader reads every note as crisis (p = 0.9), flagged too."""
    monkeypatch.setattr(triage_mod, "_reader", lambda *a, **k: (0.9, 0.9))


@pytest.mark.parametrize("text", ["long day", "better now", "over it"])
def test_reader_alone_on_a_few_words_is_tentative(
    model: object, reader_says_crisis: None, text: str
) -> None:
    r = triage(text, country="GB")
    assert r.level == "crisis" and r.tentative and r.to_dict()["tentative"] is True
    # the same crisis lines as any crisis screen, the line itself named in the message
    assert [x["kind"] for x in r.resources][:1] == ["crisis_line"]
    assert r.resources[0]["name"] in r.message
    assert HARD not in r.message and "ending your life" in r.message


def test_reader_alone_on_a_longer_note_is_not_tentative(
    model: object, reader_says_crisis: None
) -> None:
    text = "I have tidied the flat, given the cat to my sister and written to everyone"
    r = triage(text, country="GB")
    assert r.level == "crisis" and not r.tentative and HARD in r.message


@pytest.mark.parametrize("text", ["i want to die", "going to kill myself tonight"])
def test_rules_crisis_on_a_short_note_is_plain(model: object, text: str) -> None:
    r = triage(text, country="GB")
    assert r.level == "crisis" and not r.tentative and HARD in r.message


def test_emoji_of_harm_is_plain(model: object, reader_says_crisis: None) -> None:
    r = triage("\U0001f48a\U0001f48a tonight", country="GB")
    assert r.level == "crisis" and not r.tentative


def test_tentative_heading_on_the_page() -> None:
    from jinja2 import Environment, FileSystemLoader

    from sonora.web.rendering import WEB_DIR

    env = Environment(loader=FileSystemLoader(str(WEB_DIR / "templates")), autoescape=True)
    tpl = env.get_template("_care.html")
    base = {"level": "crisis", "message": "m", "resources": [], "unread": False}
    assert "If you need someone now" in tpl.render(care={**base, "tentative": True})
    assert "Please reach out now" in tpl.render(care={**base, "tentative": False})


def test_tentative_heading_in_the_terminal(model: object, reader_says_crisis: None) -> None:
    import typer
    from typer.testing import CliRunner

    from sonora.cli.care import triage_command

    app = typer.Typer()
    app.command("triage")(triage_command)

    @app.callback()
    def _root() -> None:
        """Test app."""

    for text, heading, other in (
        ("long day", "If you need someone now", "Please reach out now"),
        ("i want to die", "Please reach out now", "If you need someone now"),
    ):
        res = CliRunner().invoke(app, ["triage", text, "--country", "GB"])
        assert res.exit_code == 0, res.output
        assert heading in res.output and other not in res.output
        assert "116 123" in res.output
