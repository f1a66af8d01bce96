"""JSON API of quick starts: mixes, "again", quick start and check-ins sent once.

``POST /api/checkins`` honours an ``Idempotency-Key`` header through
:func:`checkin_once`: the first request with a key makes the check-in, any repeat
returns the same check-in and plan (200) instead of making another.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.core.app import Core
from sonora.mixes import Mixes, MixRecord
from sonora.mixes.service import quick_answers
from sonora.store import NotFound
from sonora.web.deps import CoreDep, UserDep, api_csrf

__all__ = ["checkin_once", "last_answers", "mixes_of", "router"]

router = APIRouter(prefix="/api", dependencies=[Depends(api_csrf)], tags=["mixes"])
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def mixes_of(core: Core) -> Mixes:
    """The mixes service of this application (made once, kept on the core)."""
    return core.mixes


def check_key(key: str) -> str:
    """An ``Idempotency-Key``: 8 to 64 letters, digits, ``-`` or ``_``."""
    if not _KEY_RE.match(key):
        raise HTTPException(
            status_code=422,
            detail="Idempotency-Key: 8 to 64 letters, digits, '-' or '_'",
        )
    return key


def _id(value: str, what: str) -> str:
    if not _ID_RE.match(value):
        raise NotFound(what, value)
    return value


def checkin_once(
    core: Core, user: UserRecord, key: str, make: Callable[[], tuple[Any, Any, Any]]
) -> tuple[bool, str, str]:
    """Run ``make`` (a check-in) once per ``key`` for this listener.

    Returns
    -------
    (created, checkin_id, plan_id)
        ``created`` is False when the key was seen before (nothing new is stored).

    Raises
    ------
    HTTPException
        409 while the first request with this key is still being made.
    """
    repo = mixes_of(core).repo
    state = repo.reserve(user.id, check_key(key))
    if not state.new:
        if state.checkin_id is None or state.plan_id is None:
            raise HTTPException(
                status_code=409,
                detail="Idempotency-Key: this check-in is still being made; try again shortly",
                headers={"Retry-After": "2"},
            )
        return False, state.checkin_id, state.plan_id
    try:
        c, rec, _ = make()
    except BaseException:
        repo.release(user.id, key)
        raise
    repo.complete(user.id, key, checkin_id=c.id, plan_id=rec.id)
    return True, c.id, rec.id


def last_answers(core: Core, user: UserRecord) -> dict[str, Any] | None:
    """The answers of this listener's last full check-in to start again with, or ``None``.

    Without the note (free text about one evening) and without the mood: a mood is how
    the listener feels now, and the low-mood pattern (:meth:`Core.mood_pattern`) counts
    every check-in's mood, so a copied mood would count as a fresh answer (three quick
    starts after one very low check-in read as three very low check-ins).  ``None``
    (answer the check-in) when the last check-in gave no tension or energy.
    """
    for entry in reversed(core.store.history(user.id, limit=50)):
        data = entry.checkin.data
        if data.get("started_from"):
            continue
        answers = quick_answers(data)
        if all(answers.get(k) is None for k in ("tension", "energy", "mood")):
            continue
        answers.pop("mood", None)
        return answers if any(k in answers for k in ("tension", "energy")) else None
    return None


def mix_json(mix: MixRecord) -> dict[str, Any]:
    """A mix as the API shows it."""
    return {
        "id": mix.id,
        "name": mix.name,
        "favourite": mix.favourite,
        "goal": mix.plan.get("goal"),
        "minutes": round(float(mix.plan.get("duration_s", 0.0)) / 60.0),
        "families": list(dict.fromkeys(x.get("family", "") for x in mix.plan.get("layers", []))),
        "share_url": None if mix.share_token is None else f"/m/{mix.share_token}",
        "created_at": mix.created_at.isoformat(),
    }


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MixIn(_In):
    """Keep one of your plans as a mix."""

    plan_id: str = Field(min_length=32, max_length=32)
    name: str | None = Field(default=None, max_length=80)
    favourite: bool = False


class MixEdit(_In):
    """Rename, (un)favourite, share or stop sharing."""

    name: str | None = Field(default=None, max_length=80)
    favourite: bool | None = None
    shared: bool | None = None


class StartIn(_In):
    """An optional short check-in before a mix plays."""

    tension: Annotated[float | None, Field(ge=0, le=10)] = None
    energy: Annotated[float | None, Field(ge=0, le=10)] = None
    mood: Annotated[float | None, Field(ge=0, le=10)] = None


@router.get("/mixes")
def list_mixes(user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Your favourites and named mixes (favourites first)."""
    return {"mixes": [mix_json(m) for m in mixes_of(core).list(user.id)]}


@router.post("/mixes", status_code=201)
def keep_mix(body: MixIn, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Keep one of your plans (with its mixer) as a mix."""
    mix = mixes_of(core).keep(
        user.id, _id(body.plan_id, "plan"), name=body.name, favourite=body.favourite
    )
    return mix_json(mix)


@router.patch("/mixes/{mix_id}")
def edit_mix(mix_id: str, body: MixEdit, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Rename a mix, mark it a favourite, or share it by a link (``shared``)."""
    mix = mixes_of(core).update(
        user.id, _id(mix_id, "mix"), name=body.name, favourite=body.favourite, shared=body.shared
    )
    return mix_json(mix)


@router.delete("/mixes/{mix_id}", status_code=204)
def delete_mix(mix_id: str, user: UserDep, core: CoreDep) -> None:
    """Delete a mix (its share link stops working)."""
    mixes_of(core).remove(user.id, _id(mix_id, "mix"))


@router.post("/mixes/{mix_id}/start", status_code=201)
def start_mix(
    mix_id: str, user: UserDep, core: CoreDep, body: StartIn | None = None
) -> dict[str, Any]:
    """Start one of your mixes now (a new session; the check-in is optional)."""
    svc = mixes_of(core)
    mix = svc.repo.get(user.id, _id(mix_id, "mix"))
    c, p = svc.start_mix(user.id, mix, answers=(body.model_dump() if body else None))
    return {"checkin_id": c.id, "plan_id": p.id, "play_url": f"/play/{p.id}"}


@router.post("/plans/{plan_id}/again", status_code=201)
def play_again(plan_id: str, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Play one of your past sessions again: same sound, same mixer, a new session."""
    c, p = mixes_of(core).again(user.id, _id(plan_id, "plan"))
    return {"checkin_id": c.id, "plan_id": p.id, "play_url": f"/play/{p.id}"}


@router.post("/quick-start", status_code=201)
async def quick_start(user: UserDep, core: CoreDep) -> dict[str, Any]:
    """A new session from your last check-in's answers (not your note or mood)."""
    answers = await run_in_threadpool(last_answers, core, user)
    if answers is None:
        raise HTTPException(status_code=409, detail="checkin: no earlier check-in to start from")
    c, rec, _ = await run_in_threadpool(core.check_in, user, answers)
    return {"checkin_id": c.id, "plan_id": rec.id, "play_url": f"/play/{rec.id}"}
