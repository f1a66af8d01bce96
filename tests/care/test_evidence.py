"""The evidence base: its data, its validation, the CLI, and claim coverage in templates.

Claim coverage: every sentence in a template that *sounds like a factual claim* must
come from the evidence base through ``claim('id')``. "Claim-like" is concrete here:
after removing Jinja expressions (``{{ ... }}``, so ``claim()`` calls vanish), Jinja
tags and comments, and block-level HTML tags (which end a sentence), the remaining
text is split into sentences at ``. ! ?``; a sentence of four or more words that
contains one of ``CLAIM_WORDS`` (research, study, trial, evidence, "been shown",
"shows that", proven, reduces, improves, lowers, raises, effective, percent, ...) is
claim-like. Link lists separated by ``·`` are labels, not sentences.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sonora.care.errors import CareError
from sonora.care.evidence import GRADES, load_evidence, parse_evidence, parse_grades

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "sonora" / "web" / "templates"

#: DOIs given in shared/REFERENCES.md (the verified list). No other DOI may appear.
VERIFIED_DOIS = {
    "10.1177/2156587216668109",
    "10.1002/14651858.CD004517.pub3",
    "10.1002/14651858.CD006908.pub2",
    "10.1080/17437199.2019.1627897",
    "10.1097/AJP.0b013e31822be973",
    "10.1002/14651858.CD010459.pub3",
    "10.1007/s00426-018-1066-8",
}

CLAIM_WORDS = re.compile(
    r"\b(research\w*|stud(y|ies)|trials?|evidence|scien\w*|proven|(been|was|were) shown|"
    r"shows? that|found that|reduc(e|es|ed|ing)|improv(e|es|ed|ing)|lowers|lowered|raises|raised|"
    r"boosts?|effective\w*|percent|meta-analys\w+|cochrane|clinically)\b",
    re.I,
)
INLINE_TAGS = r"a|strong|em|b|i|span|small|abbr|code|kbd|output|time|br"


def claim_like_sentences(template: str) -> list[str]:
    """The claim-like sentences in a template's static text (see the module docstring)."""
    text = re.sub(r"\{#.*?#\}", " ", template, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", " ¶ ", text, flags=re.S)
    text = re.sub(rf"</?({INLINE_TAGS})\b[^>]*>", " ", text, flags=re.I)
    text = re.sub(r"<[^>]+>", " ¶ ", text)
    text = text.replace("&amp;", "&").replace("&nbsp;", " ").replace("·", " ¶ ")
    out = []
    for block in text.split("¶"):
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(block.split())):
            if len(sentence.split()) >= 4 and CLAIM_WORDS.search(sentence):
                out.append(sentence)
    return out


# -- data --------------------------------------------------------------------------------
def test_the_evidence_base_loads_with_claims_of_every_grade() -> None:
    base = load_evidence()
    assert len(base.sources) >= 20
    assert len(base.claims) >= 15
    assert {c.grade for c in base.claims.values()} == set(GRADES)
    for c in base.claims.values():
        assert c.text.endswith(".")
        assert c.sources and all(s in base.sources for s in c.sources)


def test_every_source_can_be_found_and_only_verified_dois_are_used() -> None:
    base = load_evidence()
    for s in base.sources.values():
        assert s.doi or s.url or s.locator, s.id
        if s.doi:
            assert s.doi in VERIFIED_DOIS, f"{s.id}: DOI {s.doi} is not in REFERENCES.md"
            assert s.link == f"https://doi.org/{s.doi}"
        else:
            assert "DOI" in s.locator or s.url or s.kind in ("standard", "definition"), s.id
    used = {s.doi for s in base.sources.values() if s.doi}
    assert used == VERIFIED_DOIS  # every verified DOI is in the base


def test_details_marked_check_are_caveated_not_stated() -> None:
    base = load_evidence()
    # REFERENCES.md marks these "check": the HCPC prefix, CAMT's credit count, the
    # children's allowance and AMTA's exact wording. They appear only as caveats.
    # the HCPC's "AS" prefix was confirmed on 2026-12-06 (docs/references.md): stated, unmarked
    assert not base.source("hcpc").check and "AS" in base.source("hcpc").finding
    assert base.source("camt").check and "credit" not in base.source("camt").finding
    assert base.source("who-itu-h870").check
    assert "child" not in base.source("who-itu-h870").finding.lower()
    assert base.source("amta-us").check and "paraphrase" in base.source("amta-us").caveat.lower()
    for c in base.claims.values():
        assert "AS" not in c.text.split() and "children" not in c.text.lower()


def test_short_labels_and_lookups() -> None:
    base = load_evidence()
    assert base.source("goldsby2017").short == "Goldsby et al. 2017"
    assert base.source("who-itu-h870").short == "WHO and ITU 2019"
    assert [s.id for s in base.sources_of("binaural-beats")] == [
        "garciaargibay2019",
        "ingendoh2023",
    ]
    assert {c.id for c in base.claims_citing("jespersen2022")} == {"music-insomnia", "bpm-rule"}
    assert all(c.grade == "limited" for c in base.claims_at("limited"))
    with pytest.raises(CareError) as e:
        base.claim("nope")
    assert e.value.field == "claim"


def _valid() -> dict[str, Any]:
    return {
        "sources": [
            {
                "id": "a2020",
                "kind": "trial",
                "citation": "A et al. (2020). J 1:1.",
                "doi": "10.1000/x",
                "url": "",
                "locator": "",
                "design": "RCT",
                "sample": "n = 10",
                "finding": "Something.",
                "grade": "limited",
                "caveat": "Small.",
                "check": "",
            }
        ],
        "claims": [
            {
                "id": "c-one",
                "text": "A sentence.",
                "sources": ["a2020"],
                "grade": "limited",
                "caveat": "",
            }
        ],
    }


def test_a_valid_minimal_base_parses() -> None:
    base = parse_evidence(_valid())
    assert base.claim("c-one").sources == ("a2020",)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda d: d["claims"][0].update(sources=["nope"]),
            "claims[0] (c-one).sources[0]",
            "unknown source id 'nope'",
        ),
        (
            lambda d: d["claims"][0].update(grade="high"),
            "claims[0] (c-one).grade",
            "strong, moderate, limited, insufficient",
        ),
        (
            lambda d: d["sources"][0].update(grade="weak"),
            "sources[0] (a2020).grade",
            "expected one of",
        ),
        (
            lambda d: d["claims"][0].update(grade="strong"),
            "claims[0] (c-one).grade",
            "stronger than its strongest source",
        ),
        (
            lambda d: d["sources"][0].update(doi="doi:10.1/x"),
            "sources[0] (a2020).doi",
            "10.1000/xyz",
        ),
        (lambda d: d["sources"][0].update(kind="blog"), "sources[0] (a2020).kind", "review"),
        (lambda d: d["sources"][0].pop("finding"), "sources[0] (a2020).finding", "missing"),
        (
            lambda d: d["sources"][0].update(design=" "),
            "sources[0] (a2020).design",
            "must not be empty",
        ),
        (lambda d: d["sources"][0].update(colour="red"), "sources[0].colour", "unknown field"),
        (lambda d: d["sources"].append(dict(d["sources"][0])), "sources[1].id", "duplicate"),
        (lambda d: d["claims"][0].update(id="Bad Id"), "claims[0].id", "lower-case"),
        (lambda d: d["claims"][0].update(sources=[]), "claims[0] (c-one).sources", "non-empty"),
        (
            lambda d: d["claims"][0].update(text="no full stop"),
            "claims[0] (c-one).text",
            "full stop",
        ),
        (
            lambda d: d["sources"][0].update(doi="", url="", locator=""),
            "sources[0] (a2020).doi",
            "DOI, a url or a locator",
        ),
        (
            lambda d: d["sources"][0].update(url="http://x.org"),
            "sources[0] (a2020).url",
            "https://",
        ),
        (lambda d: d.pop("claims"), "claims", "non-empty list"),
    ],
)
def test_bad_data_gives_a_clear_error_naming_the_field(change: Any, field: str, words: str) -> None:
    data = _valid()
    change(data)
    with pytest.raises(CareError) as e:
        parse_evidence(data)
    assert e.value.field == field
    assert words in str(e.value)


def test_grades_parse_with_commas_and_case_and_reject_unknown() -> None:
    assert parse_grades(["Moderate,strong", "strong"]) == ["strong", "moderate"]
    with pytest.raises(CareError) as e:
        parse_grades(["great"])
    assert e.value.field == "grade" and "insufficient" in str(e.value)


# -- the claim() global ----------------------------------------------------------------
def test_claim_renders_the_sentence_with_a_link_to_its_evidence() -> None:
    from sonora.web.care_pages import claim_markup

    html = str(claim_markup("noise-sleep"))
    assert load_evidence().claim("noise-sleep").text in html
    assert 'href="/evidence#claim-noise-sleep"' in html
    assert "evidence: insufficient" in html
    with pytest.raises(CareError):
        claim_markup("not-a-claim")


# -- claim coverage in templates ---------------------------------------------------------
def test_the_claim_detector_finds_claims_and_ignores_claim_calls() -> None:
    assert claim_like_sentences("<p>Studies show pink noise improves deep sleep.</p>")
    assert claim_like_sentences("<li>Listening <em>reduces</em> stress for most people.</li>")
    assert not claim_like_sentences("<p>{{ claim('music-stress') }}</p>")
    assert not claim_like_sentences("<th>Evidence</th>")  # a label, not a sentence
    assert not claim_like_sentences("<p>Keep the volume comfortable.</p>")


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", _templates(), ids=lambda p: p.relative_to(TEMPLATES).as_posix())
def test_templates_state_facts_only_through_claims(path: Path) -> None:
    rel = path.relative_to(TEMPLATES).as_posix()
    found = claim_like_sentences(path.read_text(encoding="utf-8"))
    assert found == [], f"{rel}: use claim('id') for these sentences"


def _called_macros(text: str) -> str:
    """The bodies of the macros a page imports and calls (``{% from "f" import m %}``)."""
    out = ""
    for src, names in re.findall(
        r'{%-?\s*from\s*"([^"]+)"\s*import\s*([^%]+?)(?:with context)?\s*-?%}', text
    ):
        lib = (TEMPLATES / src).read_text(encoding="utf-8")
        for name in (n.strip() for n in names.split(",")):
            body = re.search(
                r"{%-?\s*macro\s+" + re.escape(name) + r"\(.*?{%-?\s*endmacro", lib, re.DOTALL
            )
            if body and re.search(r"\b" + re.escape(name) + r"\(", text):
                out += body.group(0)
    return out


def test_every_claim_id_used_in_a_template_exists() -> None:
    base = load_evidence()
    used: set[str] = set()
    for path in _templates():
        for m in re.finditer(r"claim\(\s*['\"]([^'\"]+)['\"]", path.read_text(encoding="utf-8")):
            used.add(m.group(1))
    assert used, "no template uses claim()"
    assert used <= set(base.claims), sorted(used - set(base.claims))
    # the pages that used to state facts in prose now use claims
    for name, ids in {
        "about.html": {"music-stress", "preference-matters", "binaural-beats"},
        "listening.html": {"safe-listening-allowance", "noise-sleep"},
        "guide.html": {"music-therapy-definition", "singing-bowls", "music-therapy-depression"},
    }.items():
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        for part in re.findall(r'{%\s*include\s*"([^"]+)"', text):  # the page's partials
            text += (TEMPLATES / part).read_text(encoding="utf-8")
        text += _called_macros(text)
        for cid in ids:
            assert f"claim('{cid}')" in text, (name, cid)


# -- CLI ---------------------------------------------------------------------------------
def test_cli_lists_claims_filtered_by_grade_as_json() -> None:
    from sonora.cli import app

    r = CliRunner().invoke(app, ["evidence", "--grade", "moderate", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["claims"] and {c["grade"] for c in data["claims"]} == {"moderate"}
    cited = {s for c in data["claims"] for s in c["sources"]}
    assert {s["id"] for s in data["sources"]} == cited
    assert all(s["link"].startswith("https://doi.org/") for s in data["sources"] if s["doi"])


def test_cli_table_and_bad_grade() -> None:
    from sonora.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["evidence", "-g", "insufficient"], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    assert "singing-bowls" in r.output and "Goldsby et al. 2017" in r.output
    assert "music-stress" not in r.output  # moderate: filtered out
    r = runner.invoke(app, ["evidence", "--grade", "excellent"])
    assert r.exit_code == 2
    assert "grade" in r.output and "insufficient" in r.output
