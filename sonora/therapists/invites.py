"""The one calendar invite of a consult, for the listener or the therapist.

Every ``.ics`` Sonora makes (attached to the booking emails, and downloaded from the
booking link) is built here from the booking and the therapist, so the invite a
listener downloads and the one they were emailed always agree on the event.  The
emailed one is a scheduling message (``METHOD:REQUEST``/``CANCEL``, RFC 5546); the
downloaded one is a published calendar to import (``METHOD:PUBLISH``).
"""

from __future__ import annotations

from typing import Literal

from sonora.therapists.fields import consult_how
from sonora.therapists.mail import invite
from sonora.therapists.repo import BookingRecord, TherapistRecord

__all__ = ["consult_invite"]


def consult_invite(
    b: BookingRecord,
    t: TherapistRecord,
    *,
    audience: Literal["listener", "therapist"] = "listener",
    link: str = "",
    cancelled: bool | None = None,
    published: bool = False,
) -> bytes:
    """An iCalendar (RFC 5545) invite for the consult ``b`` with ``t``.

    Parameters
    ----------
    b, t : BookingRecord, TherapistRecord
        The booking and its therapist.
    audience : {"listener", "therapist"}
        Whose calendar it is for: the listener's names the therapist and carries the
        manage link; the therapist's names the listener and the reason they gave.
    link : str
        The booking's manage link (listener only; ``""`` when not at hand).
    cancelled : bool, optional
        ``METHOD:CANCEL`` instead of ``REQUEST``; by default when ``b`` is not booked.
    published : bool, default False
        The file a listener downloads to import (``METHOD:PUBLISH``, no attendee; a
        cancelled consult keeps ``STATUS:CANCELLED``), not the emailed invite
        (``METHOD:REQUEST`` / ``CANCEL``, which asks the attendee's calendar to schedule).

    Returns
    -------
    bytes
        The calendar, UTF-8.
    """
    if cancelled is None:
        cancelled = b.status != "booked"
    how = consult_how(t)  # a video link, a phone call or a place
    if audience == "listener":
        summary = f"Free 15-minute consult with {t.display_name}"
        description = f"How: {how}\nManage or cancel: {link}" if link else "Cancelled"
    else:
        summary = f"Free consult: {b.name}"
        description = f"How: {how}\nReason given: {b.reason or '(none)'}"
        link = ""
    return invite(
        uid=f"{b.id}@sonora",
        start=b.starts_at,
        end=b.ends_at,
        summary=summary,
        description=description,
        organizer_email=t.email or "therapist@sonora.invalid",
        organizer_name=t.display_name,
        attendee_email=b.email,
        attendee_name=b.name,
        sequence=b.sequence,
        cancelled=cancelled,
        url=link,
        location=how,
        published=published,
    )
