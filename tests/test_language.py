"""The words Sonora never uses about itself, checked over every user-facing text.

Sonora is a wellness tool. Whatever a listener can read — page templates (the
therapist directory's included, whenever they exist), CLI help and messages, scene
titles and descriptions, plan and recipe text, triage messages, help resources, the
evidence base, and strings in the browser scripts — must never:

- say Sonora treats, cures or heals anything (a negated statement such as "Sonora
  does not treat anything" is fine, and so is "sound healing", the name of a practice);
- call Sonora or its sessions music therapy ("music therapy" appears only negated,
  "not music therapy", in an organisation's name, or where the guide explains what
  music therapy is: see ``MUSIC_THERAPY_EXPLAINERS``, the explainer markers, and the
  data files and evidence entries that describe the profession, each listed below);
  "music therapist" is a noun for the credentialed professionals and may be used
  anywhere;
- say "clinically proven" (or "scientifically proven", "proven to");
- claim a frequency acts on an organ ("528 Hz repairs DNA").
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SONORA = ROOT / "sonora"
TEMPLATES = SONORA / "web" / "templates"

#: Templates that may explain what music therapy is, as a whole (the guide pages).
MUSIC_THERAPY_EXPLAINERS = {"guide.html", "guide_which.html"}
#: Other templates may explain it only between these markers; the markers are allowed
#: only in the therapist directory's templates.
EXPLAINER_OPEN = "{# language: explains-music-therapy #}"
EXPLAINER_CLOSE = "{# /language #}"
MARKER_ALLOWED = re.compile(r"^(guide[^/]*|therapists/.*)\.html$")
#: Evidence entries about music therapy as a profession (shown on the evidence page).
MUSIC_THERAPY_EVIDENCE = {
    "aalbers2017",
    "amta-us",
    "hcpc",
    "bamt",
    "cbmt",
    "camt",
    "amta-au",
    "music-therapy-depression",
    "music-therapy-definition",
}
#: Organisations whose names contain the words (removed before checking).
ORG_NAMES = (
    "American Music Therapy Association",
    "Australian Music Therapy Association",
    "British Association for Music Therapy",
    "Canadian Association of Music Therapists",
    "Certification Board for Music Therapists",
    "Music Therapy New Zealand",
    "World Federation of Music Therapy",
    "Find a Music Therapist",
)
#: Data files that describe the profession itself (credential bodies and what their
#: credentials require): they may name music therapy; every other rule still applies.
MUSIC_THERAPY_DATA = {
    "sonora/care/data/resources.toml",
    "sonora/therapists/data/credentials.toml",
}
#: Python modules whose string constants are patterns or internal labels, not text a
#: person reads: the triage rules (regular expressions over listeners' notes).
PY_EXCLUDED = {"sonora/care/rules.py"}

NEGATION = re.compile(
    r"\b(not|never|no|nor|without|cannot|isn't|doesn't|don't|won't|aren't|n't)\b", re.I
)
TREAT_CURE_HEAL = re.compile(
    r"\b(treat(s|ed|ing|ment|ments)?|cur(e|es|ed|ing|ative)|heal(s|ed|er|ers|ing)?)\b", re.I
)
SOUND_HEALING = re.compile(r"\bsound[- ]heal(ing|er|ers)\b", re.I)
MUSIC_THERAPY = re.compile(r"\bmusic[- ]therap(y|ies)\b", re.I)
PROVEN = re.compile(
    r"\b(clinically|scientifically|medically)[- ](proven|tested|validated|approved)\b"
    r"|\bproven to\b|\bscience[- ]backed\b",
    re.I,
)
ORGANS = (
    r"organs?|heart|liver|kidneys?|lungs?|brain|dna|cells?|chakras?|pineal|thyroid|"
    r"stomach|gut|nervous system|immune system|body"
)
FREQUENCY_ORGAN = re.compile(
    rf"\b\d+(\.\d+)?\s*hz\b[^.;:!?]{{0,80}}\b({ORGANS})\b"
    rf"|\b({ORGANS})\b[^.;:!?]{{0,80}}\b\d+(\.\d+)?\s*hz\b"
    r"|\bsolfeggio\b|\b(432|528|963)\s*hz\b",
    re.I,
)
CLAUSE = re.compile(r"[.;:!?\n—–]|\s-\s")


def _negated(text: str, start: int) -> bool:
    """Whether the clause before ``start`` negates the hit (within six words)."""
    before = CLAUSE.split(text[:start])[-1]
    words = before.split()[-6:]
    return bool(NEGATION.search(" ".join(words)))


def problems(text: str, *, music_therapy_ok: bool = False) -> list[str]:
    """Every forbidden phrase in ``text``, with a little context."""
    for name in ORG_NAMES:
        text = re.sub(re.escape(name), "(organisation)", text, flags=re.I)
    text = re.sub(r"claim\(\s*'[^']*'\s*\)", "claim()", text)  # ids, not words
    out = []

    def ctx(m: re.Match[str]) -> str:
        return " ".join(text[max(0, m.start() - 50) : m.end() + 30].split())

    for m in TREAT_CURE_HEAL.finditer(text):
        if SOUND_HEALING.match(text, max(0, m.start() - 6)) or re.search(
            r"sound[- ]$", text[max(0, m.start() - 6) : m.start()], re.I
        ):
            continue
        if not _negated(text, m.start()):
            out.append(f"treat/cure/heal: …{ctx(m)}…")
    if not music_therapy_ok:
        for m in MUSIC_THERAPY.finditer(text):
            if not _negated(text, m.start()):
                out.append(f"music therapy: …{ctx(m)}…")
    for m in PROVEN.finditer(text):
        out.append(f"proven: …{ctx(m)}…")
    for m in FREQUENCY_ORGAN.finditer(text):
        out.append(f"frequency on an organ: …{ctx(m)}…")
    return out


# -- the checker itself ---------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        "Sonora treats anxiety.",
        "Our sounds heal the mind.",
        "A session that cures insomnia.",
        "Sonora is music therapy you can carry.",
        "Try a music-therapy session tonight.",
        "Clinically proven to calm you.",
        "Proven to lower stress.",
        "The 528 Hz tone repairs DNA.",
        "This opens the heart chakra at 341.3 Hz.",
        "Solfeggio tones for deep sleep.",
        "Not just noise: it heals.",
    ],
)
def test_the_checker_catches_forbidden_phrases(bad: str) -> None:
    assert problems(bad), bad


@pytest.mark.parametrize(
    "fine",
    [
        "Sonora does not diagnose or treat anything.",
        "A wellness tool, not music therapy.",
        "It is not music therapy and not a medical service.",
        "Sound healing is a broad name for wellness practices.",
        "Find a credentialed music therapist.",
        "A quiet 6 Hz binaural beat under soft rain.",
        "The British Association for Music Therapy points to the HCPC register.",
        "{{ claim('music-therapy-definition') }}",
    ],
)
def test_the_checker_lets_honest_sentences_through(fine: str) -> None:
    assert problems(fine) == []


def test_explainer_permission_covers_only_the_music_therapy_term() -> None:
    assert problems("Music therapy is a clinical profession.", music_therapy_ok=True) == []
    assert problems("Music therapy cures everything.", music_therapy_ok=True)


# -- the texts ---------------------------------------------------------------------------
def _template_texts() -> Iterator[tuple[str, str, bool]]:
    """(name, text, music therapy allowed) for every template and explainer section."""
    for path in sorted(TEMPLATES.rglob("*.html")):
        rel = path.relative_to(TEMPLATES).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel in MUSIC_THERAPY_EXPLAINERS:
            yield rel, text, True
            continue
        pattern = re.escape(EXPLAINER_OPEN) + r"(.*?)" + re.escape(EXPLAINER_CLOSE)
        for i, m in enumerate(re.finditer(pattern, text, flags=re.S)):
            yield f"{rel} (explainer {i + 1})", m.group(1), True
        yield rel, re.sub(pattern, " ", text, flags=re.S), False


def _mail_texts() -> Iterator[tuple[str, str]]:
    """Email templates (plain text) of every feature."""
    for path in sorted(SONORA.rglob("templates/mail/*.txt")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _python_strings(path: Path) -> str:
    """All string constants of a module except docstrings (f-string parts included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstring_nodes(tree)
    parts = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]
    return "\n".join(parts)


def _python_files() -> Iterator[str]:
    """The modules whose strings are checked (paths from the repository root)."""
    for path in sorted(SONORA.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in PY_EXCLUDED or "/migrations/" in rel:
            continue
        yield rel


def _toml_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _toml_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _toml_strings(v)


def _data_texts() -> Iterator[tuple[str, str, bool]]:
    for path in sorted((SONORA / "scenes" / "builtin").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        yield path.relative_to(ROOT).as_posix(), "\n".join(_toml_strings(data)), False
    for path in sorted(SONORA.rglob("data/*.toml")):
        rel = path.relative_to(ROOT).as_posix()
        if path.name == "triage_prototypes.toml":
            continue  # example notes the triage model compares against; never shown
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if path.name.startswith("triage_rules") or path.name == "triage_concern.toml":
            # patterns match the listener's own words; only the reasons are Sonora's text
            tables = [t for t in data.values() if isinstance(t, list)]
            reasons = [e["reason"] for t in tables for e in t if "reason" in e]
            yield path.relative_to(ROOT).as_posix(), "\n".join(reasons), False
            continue
        if path.name == "evidence.toml":
            for kind in ("sources", "claims"):
                for entry in data[kind]:
                    ok = entry["id"] in MUSIC_THERAPY_EVIDENCE
                    text = "\n".join(_toml_strings(entry))
                    yield f"{rel} {kind[:-1]} {entry['id']}", text, ok
            continue
        yield rel, "\n".join(_toml_strings(data)), rel in MUSIC_THERAPY_DATA


JS_STRING = re.compile(r"\"((?:[^\"\\\n]|\\.)*)\"|'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\]|\\.)*)`")


def _js_texts() -> Iterator[tuple[str, str]]:
    for path in sorted((SONORA / "web" / "static").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        strings = ["".join(g for g in m.groups() if g) for m in JS_STRING.finditer(text)]
        yield path.relative_to(ROOT).as_posix(), "\n".join(strings)


def _cli_help() -> Iterator[tuple[str, str]]:
    from sonora.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    yield "sonora --help", result.output
    import click
    import typer

    group = typer.main.get_command(app)
    for name in group.list_commands(click.Context(group)):  # lazy commands included
        r = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert r.exit_code == 0, (name, r.output)
        yield f"sonora {name} --help", r.output


def test_the_texts_cover_what_users_meet() -> None:
    names = {n for n, _, _ in _template_texts()}
    assert {"about.html", "welcome.html", "guide.html", "evidence.html", "listening.html"} <= names
    py = set(_python_files())
    assert {
        "sonora/cli/__init__.py",
        "sonora/cli/render.py",
        "sonora/plan/compose.py",
        "sonora/care/triage.py",
    } <= py
    data = {n.split(" ")[0] for n, _, _ in _data_texts()}
    assert "sonora/scenes/builtin/rain.toml" in data
    assert "sonora/care/data/resources.toml" in data
    assert "sonora/care/data/evidence.toml" in data
    assert any(n.endswith("player.js") for n, _ in _js_texts())
    helps = {n for n, _ in _cli_help()}
    assert {"sonora --help", "sonora evidence --help", "sonora triage --help"} <= helps
    if (TEMPLATES / "therapists").is_dir():
        assert any(n.startswith("therapists/") for n in names)


def _params(rows: Iterator[tuple[object, ...]]) -> list[object]:
    return [pytest.param(*row, id=str(row[0])) for row in rows]


@pytest.mark.parametrize(("name", "text", "mt_ok"), _params(_template_texts()))
def test_templates_use_honest_words(name: str, text: str, mt_ok: bool) -> None:
    assert problems(text, music_therapy_ok=mt_ok) == [], name


def test_explainer_markers_are_only_where_allowed_and_balanced() -> None:
    for path in sorted(TEMPLATES.rglob("*.html")):
        rel = path.relative_to(TEMPLATES).as_posix()
        text = path.read_text(encoding="utf-8")
        opens, closes = text.count(EXPLAINER_OPEN), text.count(EXPLAINER_CLOSE)
        assert opens == closes, f"{rel}: unbalanced explainer markers"
        if opens:
            assert MARKER_ALLOWED.match(rel), f"{rel} may not explain music therapy"


# Parsed in the test, not at collection: every test process collects this module (each
# pytest-xdist worker, and the controller), and parsing every module costs ~1 s of CPU.
@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in _python_files()])
def test_python_strings_use_honest_words(name: str) -> None:
    assert problems(_python_strings(ROOT / name)) == [], name


@pytest.mark.parametrize(("name", "text", "mt_ok"), _params(_data_texts()))
def test_data_files_use_honest_words(name: str, text: str, mt_ok: bool) -> None:
    assert problems(text, music_therapy_ok=mt_ok) == [], name


@pytest.mark.parametrize(("name", "text"), _params(_mail_texts()))
def test_email_templates_use_honest_words(name: str, text: str) -> None:
    assert problems(text) == [], name


def test_email_templates_are_checked() -> None:
    assert any(n.endswith("booking_listener.txt") for n, _ in _mail_texts())


@pytest.mark.parametrize(("name", "text"), _params(_js_texts()))
def test_browser_scripts_use_honest_words(name: str, text: str) -> None:
    assert problems(text) == [], name


def test_cli_help_uses_honest_words() -> None:
    for name, text in _cli_help():
        assert problems(text) == [], name


def test_plan_reasons_use_honest_words() -> None:
    """The why-text of real plans, for every goal and place (text made at run time)."""
    from sonora.core.database import Database as Store
    from sonora.core.planner import Planner
    from sonora.plan import GOALS, PLACES, CheckIn

    store = Store.open("sqlite://")
    try:
        planner = Planner(store, secret="k" * 32)
        seen = 0
        for goal in GOALS:
            for place in PLACES:
                for mood in (1, 5, 9):
                    plan = planner.recommend(
                        "someone",
                        CheckIn(tension=7, energy=4, mood=mood, goal=goal, place=place, minutes=20),
                    )
                    text = f"{plan.title}\n{plan.reason}"
                    assert problems(text) == [], text
                    seen += 1
        assert seen == len(GOALS) * len(PLACES) * 3
    finally:
        store.close()
