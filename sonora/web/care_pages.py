"""Care pages: the guide, the evidence base, and safe listening.

``/guide``                 music therapy, sound healing and therapeutic music; differences;
                           how they work together; credentials by country
``/guide/which``           the "which is right for you?" helper (a GET form, no JavaScript)
``/evidence``              every claim Sonora makes, with its sources, grade and caveat
``/listening``             this week's listening dose and the one-time level calibration
``/listening/reference.wav`` the reference sound for calibration

Also offers the Jinja global ``claim('id')`` to the app's templates: the only way
a template shows a factual sentence. It renders the claim's sentence with a link to
its entry on ``/evidence`` and its grade.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from sonora.care.dose import (
    LEVEL_CHOICES,
    NEAR_PERCENT,
    REFERENCE_HOURS,
    REFERENCE_LEVEL_DBA,
    allowance_hours,
)
from sonora.care.errors import CareError
from sonora.care.evidence import GRADE_MEANINGS, GRADES, load_evidence, parse_grades
from sonora.care.guide import QUESTIONS, which_help
from sonora.care.reference import reference_wav
from sonora.care.resources import clinical_resources, crisis_resources, load_resources
from sonora.errors import ParameterError
from sonora.web.deps import CoreDep, MaybeUser, PageUser
from sonora.web.rendering import read_form, redirect, render

__all__ = ["claim_markup", "router", "sms_href"]

router = APIRouter(include_in_schema=False)

#: Countries whose credentials the guide explains, in order.
GUIDE_COUNTRIES = ("GB", "US", "CA", "AU", "IE", "NZ")
#: Claims about credentials, per country.
CREDENTIAL_CLAIMS = {
    "GB": ("uk-protected-title", "uk-training"),
    "US": ("us-training",),
    "CA": ("ca-training",),
    "AU": ("au-registration",),
}


def claim_markup(claim_id: str, *, grade: bool = True) -> Markup:
    """Render a claim for a template: its sentence and a link to its evidence.

    Parameters
    ----------
    claim_id : str
        Id of a claim in ``evidence.toml``.
    grade : bool, default True
        Show the grade in the link text.

    Returns
    -------
    markupsafe.Markup
        ``<span class="claim">sentence <a href="/evidence#claim-id">evidence: grade</a></span>``

    Raises
    ------
    CareError
        Naming ``claim`` for an unknown id (a template bug: the page fails loudly).
    """
    c = load_evidence().claim(claim_id)
    label = f"evidence: {c.grade}" if grade else "evidence"
    return Markup(
        f'<span class="claim" data-claim="{escape(c.id)}">{escape(c.text)} '
        f'<a class="claim-ref grade-{escape(c.grade)}" href="/evidence#claim-{escape(c.id)}">'
        f"{escape(label)}</a></span>"
    )


def template_globals() -> dict[str, Any]:
    """``claim`` and ``GRADES`` for every template (see :func:`sonora.web.rendering.build_templates`)."""
    return {"claim": claim_markup, "GRADES": GRADES}


#: "Text SHOUT to 85258", "Text 988", "Text 0477 13 11 14": a keyword (optional) and a number.
_TEXT_LINE = re.compile(r"^Text (?:([A-Z]+) to )?(\d[\d -]*\d)\b")


def sms_href(text: str) -> str | None:
    """An ``sms:`` link that opens a text to a line, its keyword typed in (``None``: no number).

    >>> sms_href("Text SHOUT to 85258")
    'sms:85258?&body=SHOUT'
    >>> sms_href("Text 9-8-8")
    'sms:988'
    >>> sms_href("Free text messaging") is None
    True
    """
    m = _TEXT_LINE.match(text or "")
    if m is None:
        return None
    number = re.sub(r"[ -]", "", m.group(2))
    # "?&body=" is the form both iOS and Android Messages read.
    return f"sms:{number}?&body={m.group(1)}" if m.group(1) else f"sms:{number}"


#: ``sms_href`` for the help lines a crisis card lists (one tap to text, on a phone).
TEMPLATE_FILTERS: dict[str, Any] = {"sms_href": sms_href}


def _country(core: Any, profile: dict[str, Any] | None) -> str:
    return (profile or {}).get("country") or core.settings.default_country


def _place(core: Any, profile: dict[str, Any] | None) -> tuple[str, str | None]:
    from sonora.care.region import place_of

    return place_of(profile or {}, core.settings.default_country)


# -- guide -----------------------------------------------------------------------------
def _credentials() -> list[dict[str, Any]]:
    data = load_resources()["countries"]
    out = []
    for code in GUIDE_COUNTRIES:
        if code not in data:
            continue
        table = data[code]
        out.append(
            {
                "code": code,
                "name": table["name"],
                "short": table.get("credential_short", ""),
                "bodies": table["credential_bodies"],
                "claims": CREDENTIAL_CLAIMS.get(code, ()),
            }
        )
    return out


async def _guide_ctx(core: Any, user: Any) -> dict[str, Any]:
    profile = await run_in_threadpool(core.profile, user) if user else None
    return {
        "questions": QUESTIONS,
        "credentials": _credentials(),
        "country": _country(core, profile),
        "region": _place(core, profile)[1],
        "answers": {},
        "result": None,
        "error": None,
    }


@router.get("/guide", response_class=HTMLResponse)
async def guide(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    ctx = await _guide_ctx(core, user)
    return render(request, "guide.html", ctx)


@router.get("/guide/which", response_class=HTMLResponse)
async def guide_which(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    ctx = await _guide_ctx(core, user)
    form = dict(request.query_params)
    ctx["answers"] = form
    if not any(form.get(q.name) for q in QUESTIONS):
        # Nothing answered yet (a first visit): just the questions, no error.
        ctx["result"] = None
        return render(request, "guide_which.html", ctx)
    try:
        result = which_help(form)
    except CareError as exc:
        ctx["error"] = exc
        # Say which question in the listener's words, not the form field's name.
        asked = next((q.text for q in QUESTIONS if q.name == exc.field), None)
        ctx["error_question"] = asked
        return render(request, "guide_which.html", ctx, status=422)
    ctx["result"] = result
    country, region = ctx["country"], ctx["region"]
    ctx["crisis"] = crisis_resources(country, region=region) if result.crisis else []
    ctx["clinical"] = (
        clinical_resources(country, region=region) if result.outcome == "professional" else []
    )
    return render(request, "guide_which.html", ctx)


# -- evidence --------------------------------------------------------------------------
@router.get("/evidence", response_class=HTMLResponse)
async def evidence(request: Request, user: MaybeUser) -> Response:
    base = load_evidence()
    raw = request.query_params.getlist("grade")
    try:
        chosen = parse_grades(raw)
    except CareError as exc:
        raise ParameterError(exc.field, exc.message) from None
    claims = base.claims_at(*chosen)
    used = {s for c in claims for s in c.sources}
    sources = [s for s in base.sources.values() if s.id in used]
    return render(
        request,
        "evidence.html",
        {
            "claims": claims,
            "sources": sources,
            "base": base,
            "chosen": chosen,
            "grade_meanings": GRADE_MEANINGS,
            "counts": {g: len(base.claims_at(g)) for g in GRADES},
        },
    )


# -- safe listening --------------------------------------------------------------------
@router.get("/listening/reference.wav")
async def listening_reference(core: CoreDep) -> Response:
    data = await run_in_threadpool(reference_wav, core.settings.target_lufs)
    return Response(
        data,
        media_type="audio/wav",
        headers={"Cache-Control": "public, max-age=86400"},
    )


async def _listening_ctx(core: Any, user: Any) -> dict[str, Any]:
    profile = await run_in_threadpool(core.profile, user)
    dose = await run_in_threadpool(core.listening_dose, user)
    table = [
        {"level_dba": lv, "hours": allowance_hours(lv)}
        for lv in (70.0, 75.0, 80.0, 83.0, 86.0, 90.0)
    ]
    return {
        "profile": profile,
        "dose": dose,
        "choices": LEVEL_CHOICES,
        "allowance_table": table,
        "near_percent": NEAR_PERCENT,
        "reference_level": REFERENCE_LEVEL_DBA,
        "reference_hours": REFERENCE_HOURS,
        "error": None,
        "saved": False,
    }


@router.get("/listening", response_class=HTMLResponse)
async def listening(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    if user is None:
        # A visitor without a session: the general advice and the allowance table,
        # and a way in; nothing personal to show.
        table = [
            {"level_dba": lv, "hours": allowance_hours(lv)}
            for lv in (70.0, 75.0, 80.0, 83.0, 86.0, 90.0)
        ]
        return render(request, "listening_visitor.html", {"allowance_table": table})
    ctx = await _listening_ctx(core, user)
    ctx["saved"] = request.query_params.get("msg") == "saved"
    return render(request, "listening.html", ctx)


@router.post("/listening", response_class=HTMLResponse)
async def listening_save(request: Request, user: PageUser, core: CoreDep) -> Response:
    data = await read_form(request, core)
    allowed = ", ".join(f"{c.level_dba:g}" for c in LEVEL_CHOICES)
    try:
        raw = data.get("level_dba")
        if raw in (None, ""):
            raise ParameterError("level_dba", f"choose how loud it sounded ({allowed} dBA)")
        try:
            level = float(str(raw))
        except ValueError:
            raise ParameterError(
                "level_dba", f"expected one of {allowed} dBA, got {raw!r}"
            ) from None
        if level not in {c.level_dba for c in LEVEL_CHOICES}:
            raise ParameterError("level_dba", f"expected one of {allowed} dBA, got {raw!r}")
        await run_in_threadpool(core.set_listening_level, user, level)
    except ParameterError as exc:
        ctx = await _listening_ctx(core, user)
        ctx["error"] = exc
        return render(request, "listening.html", ctx, status=422)
    return redirect("/listening?msg=saved")
