"""Sonora's evidence base: the sources and the claims built on them.

Every factual sentence Sonora shows a listener is a *claim* with an id. A claim
names its sources and carries a grade (strong / moderate / limited /
insufficient) and a caveat; each source records its citation, DOI or another
way to find it, design, sample size, finding, grade and caveat. The data live in
``sonora/care/data/evidence.toml`` so that a reviewer can check them without
reading code; this module loads them once and validates every field.

Templates render claims through the Jinja global ``claim('id')`` (see
:mod:`sonora.web.care_pages`), so a sentence cannot appear without an entry here.

Examples
--------
>>> from sonora.care.evidence import load_evidence
>>> base = load_evidence()
>>> base.claim("safe-listening-allowance").grade
'strong'
>>> [s.id for s in base.sources_of("binaural-beats")]
['garciaargibay2019', 'ingendoh2023']
>>> len(base.claims_at("moderate")) > 0
True
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources as _ir
from typing import Any

from sonora.care.errors import CareError

__all__ = [
    "GRADES",
    "KINDS",
    "Claim",
    "EvidenceBase",
    "Source",
    "load_evidence",
    "parse_evidence",
    "parse_grades",
]

#: Evidence grades, strongest first.
GRADES: tuple[str, ...] = ("strong", "moderate", "limited", "insufficient")
#: Kinds of source.
KINDS: tuple[str, ...] = ("review", "trial", "study", "standard", "definition")
#: What each grade means, in the words shown to listeners.
GRADE_MEANINGS: dict[str, str] = {
    "strong": "Consistent findings from good-quality research, or what a standard or "
    "professional body itself publishes.",
    "moderate": "Several trials or a careful review point the same way, with real limits.",
    "limited": "A few small or mixed studies: a reasonable idea, not settled.",
    "insufficient": "Too little or too weak to say; shown so you know it is untested.",
}

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
_DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")

_SOURCE_FIELDS = (
    "id",
    "kind",
    "citation",
    "doi",
    "url",
    "locator",
    "design",
    "sample",
    "finding",
    "grade",
    "caveat",
    "check",
)
_CLAIM_FIELDS = ("id", "text", "sources", "grade", "caveat")


@dataclass(frozen=True)
class Source:
    """One publication, standard or professional body.

    Attributes
    ----------
    id : str
        Stable key, lower-case letters, digits and hyphens.
    kind : str
        One of :data:`KINDS`.
    citation : str
        Authors, year, journal, volume and pages as recorded.
    doi : str
        DOI without the ``https://doi.org/`` prefix, or ``""``.
    url : str
        A web address, or ``""``.
    locator : str
        How to find it when there is no DOI (``""`` when there is one).
    design : str
        Study design (or "International standard", "Professional body's definition").
    sample : str
        Number of studies and/or participants, or "not recorded".
    finding : str
        What it found, in Sonora's words.
    grade : str
        One of :data:`GRADES`.
    caveat : str
        What to keep in mind.
    check : str
        Non-empty while a detail awaits confirmation from the primary source.
    """

    id: str
    kind: str
    citation: str
    doi: str
    url: str
    locator: str
    design: str
    sample: str
    finding: str
    grade: str
    caveat: str
    check: str

    @property
    def short(self) -> str:
        """A short label: ``"Goldsby et al. 2017"``, ``"WHO and ITU 2019"``, ``"CBMT"``."""
        m = re.match(r"^(.*?)\s*\((\d{4})\)", self.citation)
        if m:
            authors, year = m.group(1), m.group(2)
            first = authors.split(",")[0].replace(" et al.", "").strip()
            many = "," in authors or "et al" in authors
            return f"{first}{' et al.' if many else ''} {year}"
        m = re.search(r"\(([A-Z][A-Za-z -]+)\)", self.citation)
        if m:
            return m.group(1)
        return re.split(r"[,(;]", self.citation)[0].strip()

    @property
    def link(self) -> str:
        """A link to the source: ``https://doi.org/<doi>``, else ``url``, else ``""``."""
        if self.doi:
            return f"https://doi.org/{self.doi}"
        return self.url

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (with ``link``)."""
        return {**asdict(self), "link": self.link, "short": self.short}


@dataclass(frozen=True)
class Claim:
    """A sentence Sonora shows, with its sources and strength.

    Attributes
    ----------
    id : str
        Stable key used by templates (``claim('id')``).
    text : str
        The sentence as users see it.
    sources : tuple of str
        Ids of the sources it rests on (at least one).
    grade : str
        One of :data:`GRADES`; never stronger than its strongest source.
    caveat : str
        Shown with the claim (may be empty).
    """

    id: str
    text: str
    sources: tuple[str, ...]
    grade: str
    caveat: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "sources": list(self.sources)}


@dataclass(frozen=True)
class EvidenceBase:
    """All sources and claims, validated.

    Attributes
    ----------
    sources : dict of str to Source
        In file order.
    claims : dict of str to Claim
        In file order.
    """

    sources: Mapping[str, Source]
    claims: Mapping[str, Claim]

    def claim(self, claim_id: str) -> Claim:
        """The claim called ``claim_id``.

        Raises
        ------
        CareError
            Naming ``claim`` when there is no such claim.
        """
        try:
            return self.claims[claim_id]
        except KeyError:
            raise CareError("claim", f"no claim with id {claim_id!r}") from None

    def source(self, source_id: str) -> Source:
        """The source called ``source_id`` (:class:`CareError` naming ``source`` if none)."""
        try:
            return self.sources[source_id]
        except KeyError:
            raise CareError("source", f"no source with id {source_id!r}") from None

    def sources_of(self, claim_id: str) -> list[Source]:
        """The sources a claim rests on, in the claim's order."""
        return [self.sources[s] for s in self.claim(claim_id).sources]

    def claims_citing(self, source_id: str) -> list[Claim]:
        """Claims that rest on ``source_id``."""
        self.source(source_id)
        return [c for c in self.claims.values() if source_id in c.sources]

    def claims_at(self, *grades: str) -> list[Claim]:
        """Claims whose grade is one of ``grades`` (all claims when none is given).

        Raises
        ------
        CareError
            Naming ``grade`` for a grade not in :data:`GRADES`.
        """
        wanted = set(parse_grades(grades)) if grades else set(GRADES)
        return [c for c in self.claims.values() if c.grade in wanted]

    def to_dict(self, *grades: str) -> dict[str, Any]:
        """JSON-ready form: ``{"grades", "claims", "sources"}``, optionally filtered."""
        claims = self.claims_at(*grades)
        used = {s for c in claims for s in c.sources}
        return {
            "grades": {g: GRADE_MEANINGS[g] for g in GRADES},
            "claims": [c.to_dict() for c in claims],
            "sources": [s.to_dict() for s in self.sources.values() if s.id in used or not grades],
        }


def parse_grades(grades: Iterable[str]) -> list[str]:
    """Validate grade names (case-insensitive; commas split too).

    Parameters
    ----------
    grades : iterable of str
        For example ``["moderate"]`` or ``["strong,moderate"]``.

    Returns
    -------
    list of str
        Lower-case grades, in :data:`GRADES` order, without repeats.

    Raises
    ------
    CareError
        Naming ``grade`` and listing the allowed values.
    """
    out: set[str] = set()
    for g in grades:
        for part in str(g).split(","):
            p = part.strip().lower()
            if not p:
                continue
            if p not in GRADES:
                raise CareError("grade", f"expected one of {', '.join(GRADES)}, got {part!r}")
            out.add(p)
    return [g for g in GRADES if g in out]


def _text(table: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    if key not in table:
        raise CareError(f"{where}.{key}", "missing")
    value = table[key]
    if not isinstance(value, str):
        raise CareError(f"{where}.{key}", f"expected text, got {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise CareError(f"{where}.{key}", "must not be empty")
    return value


def _grade(table: Mapping[str, Any], where: str) -> str:
    g = _text(table, "grade", where)
    if g not in GRADES:
        raise CareError(f"{where}.grade", f"expected one of {', '.join(GRADES)}, got {g!r}")
    return g


def _id(table: Mapping[str, Any], where: str, seen: set[str]) -> str:
    i = _text(table, "id", where)
    if not _ID_RE.fullmatch(i):
        raise CareError(
            f"{where}.id", f"expected 2-64 lower-case letters, digits or hyphens, got {i!r}"
        )
    if i in seen:
        raise CareError(f"{where}.id", f"duplicate id {i!r}")
    seen.add(i)
    return i


def _unknown(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    extra = sorted(set(table) - set(allowed))
    if extra:
        raise CareError(f"{where}.{extra[0]}", f"unknown field; allowed: {', '.join(allowed)}")


def parse_evidence(data: Mapping[str, Any]) -> EvidenceBase:
    """Validate parsed evidence data and build an :class:`EvidenceBase`.

    Parameters
    ----------
    data : mapping
        ``{"sources": [...], "claims": [...]}`` as parsed from TOML.

    Returns
    -------
    EvidenceBase

    Raises
    ------
    CareError
        For a missing or empty field, an unknown field, a bad id, kind, grade or
        DOI, a claim citing an unknown source, or a claim graded stronger than
        its strongest source. The message names the field, e.g.
        ``claims[3].sources[1]: unknown source id 'nope'``.
    """
    if not isinstance(data, Mapping):
        raise CareError("evidence", "expected a table with sources and claims")
    _unknown(data, ("sources", "claims"), "evidence")
    raw_sources = data.get("sources")
    raw_claims = data.get("claims")
    if not isinstance(raw_sources, list) or not raw_sources:
        raise CareError("sources", "expected a non-empty list of [[sources]]")
    if not isinstance(raw_claims, list) or not raw_claims:
        raise CareError("claims", "expected a non-empty list of [[claims]]")

    sources: dict[str, Source] = {}
    seen: set[str] = set()
    for i, t in enumerate(raw_sources):
        where = f"sources[{i}]"
        if not isinstance(t, Mapping):
            raise CareError(where, "expected a table")
        _unknown(t, _SOURCE_FIELDS, where)
        sid = _id(t, where, seen)
        where = f"sources[{i}] ({sid})"
        kind = _text(t, "kind", where)
        if kind not in KINDS:
            raise CareError(f"{where}.kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
        doi = _text(t, "doi", where, required=False)
        if doi and not _DOI_RE.fullmatch(doi):
            raise CareError(f"{where}.doi", f"expected a DOI like 10.1000/xyz, got {doi!r}")
        url = _text(t, "url", where, required=False)
        if url and not url.startswith("https://"):
            raise CareError(f"{where}.url", f"expected an https:// address, got {url!r}")
        locator = _text(t, "locator", where, required=False)
        if not (doi or url or locator):
            raise CareError(f"{where}.doi", "give a DOI, a url or a locator")
        sources[sid] = Source(
            id=sid,
            kind=kind,
            citation=_text(t, "citation", where),
            doi=doi,
            url=url,
            locator=locator,
            design=_text(t, "design", where),
            sample=_text(t, "sample", where),
            finding=_text(t, "finding", where),
            grade=_grade(t, where),
            caveat=_text(t, "caveat", where, required=kind not in ("standard", "definition")),
            check=_text(t, "check", where, required=False),
        )

    claims: dict[str, Claim] = {}
    seen = set()
    for i, t in enumerate(raw_claims):
        where = f"claims[{i}]"
        if not isinstance(t, Mapping):
            raise CareError(where, "expected a table")
        _unknown(t, _CLAIM_FIELDS, where)
        cid = _id(t, where, seen)
        where = f"claims[{i}] ({cid})"
        refs = t.get("sources")
        if not isinstance(refs, list) or not refs:
            raise CareError(f"{where}.sources", "expected a non-empty list of source ids")
        for j, ref in enumerate(refs):
            if ref not in sources:
                raise CareError(f"{where}.sources[{j}]", f"unknown source id {ref!r}")
        grade = _grade(t, where)
        best = min(GRADES.index(sources[r].grade) for r in refs)
        if GRADES.index(grade) < best:
            raise CareError(
                f"{where}.grade",
                f"{grade!r} is stronger than its strongest source ({GRADES[best]!r})",
            )
        text = _text(t, "text", where)
        if not text.endswith((".", "!", "?")):
            raise CareError(f"{where}.text", "expected a full sentence ending in a full stop")
        claims[cid] = Claim(
            id=cid,
            text=text,
            sources=tuple(refs),
            grade=grade,
            caveat=_text(t, "caveat", where, required=False),
        )
    return EvidenceBase(sources=sources, claims=claims)


@cache
def load_evidence() -> EvidenceBase:
    """Load and validate ``sonora/care/data/evidence.toml`` (cached).

    Returns
    -------
    EvidenceBase

    Raises
    ------
    CareError
        If any entry is malformed; the message names the field.
    """
    text = _ir.files("sonora.care").joinpath("data", "evidence.toml").read_text(encoding="utf-8")
    return parse_evidence(tomllib.loads(text))
