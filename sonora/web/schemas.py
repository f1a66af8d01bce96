"""Response models of the JSON API: the documented shape of every JSON answer.

Each model names the fields a client can rely on; ``extra="allow"`` keeps any further
field a route adds (the models document, they never drop data).  Nested plan, profile,
answer and export content is JSON whose shape belongs to the feature that made it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "BookingOut",
    "BookingsOut",
    "CheckInOut",
    "CheckInResult",
    "CredentialsOut",
    "DeletedOut",
    "GainsOut",
    "HealthOut",
    "HistoryOut",
    "OkOut",
    "OptionsOut",
    "OutcomeOut",
    "PlanOut",
    "ProfileOut",
    "SearchOut",
    "SlotsOut",
    "TherapistOut",
    "UserOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class UserOut(_Out):
    """Who is signed in: a guest or an account."""

    id: str
    email: str | None
    is_guest: bool


class OkOut(_Out):
    """Done."""

    ok: bool


class DeletedOut(_Out):
    """Rows deleted per table when an account was deleted."""

    deleted: dict[str, int]


class OptionsOut(_Out):
    """Choices for onboarding and check-ins."""

    families: list[dict[str, str]]
    sensitivities: list[dict[str, str]]
    goals: list[str]
    places: list[str]
    outputs: list[str]


class ProfileOut(_Out):
    """Onboarding answers and preferences (every answer, defaults filled in)."""

    onboarded: bool


class LayerOut(_Out):
    """One layer of a plan as the mixer shows it."""

    index: int
    family: str
    label: str
    role: str
    gain: float


class PlanOut(_Out):
    """A plan: the plan JSON, its layers for the mixer, and where to stream it."""

    id: str
    checkin_id: str
    created_at: str
    plan: dict[str, Any]
    layers: list[LayerOut]
    swap_choices: Any
    ready: bool
    stream_url: str | None


class CheckInOut(_Out):
    """A stored check-in."""

    id: str
    created_at: str
    answers: dict[str, Any]
    care: dict[str, Any] | None = None


class CheckInResult(_Out):
    """A new check-in, its triage (``care``) and the plan made for it."""

    checkin: CheckInOut
    care: dict[str, Any] | None
    plan: PlanOut


class GainsOut(_Out):
    """The mixer's linear gains, one per layer."""

    gains: list[float]


class OutcomeOut(_Out):
    """The check-out's score."""

    plan_id: str
    score: float


class HistoryOut(_Out):
    """Sessions before and after, with what seems to help."""

    sessions: list[dict[str, Any]]
    per_goal: list[dict[str, Any]]
    what_helps: list[dict[str, Any]]
    sound_vs_quiet: dict[str, Any] | None
    what_helps_music: dict[str, dict[str, Any]] = {}
    #: the IANA zone of the sessions' ``when`` (ISO 8601 with its offset)
    time_zone: str = "UTC"


class HealthOut(_Out):
    """Liveness and live streams."""

    ok: bool
    streams: int


class TherapistOut(_Out):
    """A listed therapist as the directory shows them."""

    id: str
    name: str
    title: str | None
    demo: bool
    credential: dict[str, Any]


class SearchOut(_Out):
    """Directory search: the typed place (if any) and the therapists found."""

    place: dict[str, Any] | None
    therapists: list[TherapistOut]


class CredentialsOut(_Out):
    """Credentials Sonora verifies, by country."""

    credentials: list[dict[str, Any]]


class BookingOut(_Out):
    """A consult booking (``token`` and ``manage_url`` only when it was just made)."""

    therapist: dict[str, Any]
    start: str
    end: str
    local_start: str
    listener_tz: str
    status: str


class BookingsOut(_Out):
    """A therapist's upcoming consults."""

    bookings: list[BookingOut]


class SlotsOut(_Out):
    """Free 15-minute consult slots (UTC and in the asked zone)."""

    timezone: str
    therapist_timezone: str
    slots: list[dict[str, str]]
