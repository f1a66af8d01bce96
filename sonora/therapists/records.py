"""Plain frozen records the therapist repository returns (never live ORM rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sonora.store.errors import StoreError
from sonora.store.records import RowRecord, record_of
from sonora.therapists.models import (
    TherapistProfile,
)

__all__ = [
    "PROFILE_FIELDS",
    "BookingRecord",
    "Mail",
    "OutboxRecord",
    "SlotTaken",
    "TherapistRecord",
    "VerificationRecord",
]


PROFILE_FIELDS = (
    "display_name",
    "country",
    "registration_number",
    "region",
    "city",
    "latitude",
    "longitude",
    "in_person",
    "online",
    "languages",
    "populations",
    "approaches",
    "bio",
    "timezone",
)


#: How consults happen (migration 0004); optional in ``fields`` so older callers work.
CONSULT_FIELDS = ("consult_via", "consult_details")


class SlotTaken(StoreError):
    """Someone else holds that slot (the database's unique constraint said so)."""


@dataclass(frozen=True)
class TherapistRecord:
    """A therapist profile with its current verification."""

    id: str
    user_id: str
    display_name: str
    country: str
    registration_number: str
    region: str
    city: str
    latitude: float | None
    longitude: float | None
    in_person: bool
    online: bool
    languages: tuple[str, ...]
    populations: tuple[str, ...]
    approaches: tuple[str, ...]
    bio: str
    timezone: str
    is_demo: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    verified_at: dt.datetime | None
    verified_until: dt.datetime | None
    verified_by: str | None
    verification_note: str | None
    email: str | None = None
    recheck_reminded_for: dt.datetime | None = None
    consult_via: str = "video"
    consult_details: str = ""

    @classmethod
    def of(cls, row: TherapistProfile, email: str | None = None) -> TherapistRecord:
        return record_of(
            cls,
            row,
            email=email,
            consult_via=row.consult_via or "video",
            consult_details=row.consult_details or "",
        )

    def status(self, now: dt.datetime) -> str:
        """``"verified"``, ``"recheck_due"`` (verification ran out) or ``"unverified"``."""
        if self.verified_until is None:
            return "unverified"
        return "verified" if self.verified_until > now else "recheck_due"

    def listed(self, now: dt.datetime) -> bool:
        """Shown publicly: a verification that has not run out (demo data included:
        a demo profile is listed only once an admin records a verification for it)."""
        return self.status(now) == "verified"


@dataclass(frozen=True)
class VerificationRecord:
    """One admin decision."""

    id: str
    therapist_id: str
    admin_email: str
    decision: str
    country: str
    registration_number: str
    note: str
    checked_at: dt.datetime
    valid_until: dt.datetime | None


@dataclass(frozen=True)
class BookingRecord(RowRecord):
    """A consult booking (``slot_start`` is ``None`` once cancelled)."""

    id: str
    therapist_id: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    name: str
    email: str
    reason: str
    care: dict[str, Any] | None
    listener_tz: str
    sequence: int
    created_at: dt.datetime


@dataclass(frozen=True)
class OutboxRecord(RowRecord):
    """An email in the outbox."""

    id: str
    kind: str
    to_addr: str
    subject: str
    message: str
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str | None


@dataclass
class Mail:
    """An email to put in the outbox (the whole message as text)."""

    kind: str
    to_addr: str
    subject: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)
