"""Bookings that cost an attacker: a slot is held only once the email address confirms.

A new booking is ``pending``: it holds no slot, and the only email it causes is one
confirmation to the address given, with a link (the booking's token, which the
booker is *not* shown).  Opening the link and confirming within
``booking_confirm_minutes`` takes the slot (if it is still free) and sends the usual
emails to both sides; an unconfirmed booking lapses.  Together with the rate limits
per client and per email address (:mod:`sonora.web.limits`), a script can neither
take a therapist's slots nor mail an address more than a few times a day.

A therapist can block an address: bookings for it are accepted as usual from the
outside (the booker learns nothing) but cause no email and hold nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from sonora.accounts.repo import hash_token
from sonora.errors import ParameterError
from sonora.therapists.errors import SlotUnavailable
from sonora.therapists.models import BookingBlock
from sonora.therapists.records import BookingRecord, Mail, SlotTaken, TherapistRecord

if TYPE_CHECKING:
    from sonora.therapists.service import Therapists

__all__ = ["block", "blocked", "confirm", "confirmation_mail", "is_blocked", "unblock"]


def _clean(email: str) -> str:
    from sonora.therapists.fields import check_email

    return check_email(email)


def confirmation_mail(svc: Therapists, t: TherapistRecord, b: BookingRecord, token: str) -> Mail:
    """The one email a pending booking sends: to the address given, with the link."""
    minutes = svc.settings.booking_confirm_minutes
    link = f"{svc.link(token)}/confirm"
    text = (
        f"Hello {b.name},\n\n"
        f"Someone asked to book a free 15-minute consult with {t.display_name} for this "
        f"email address.\n\nIf it was you, confirm within {minutes:g} minutes to hold the "
        f"time:\n{link}\n\nIf it was not you, ignore this email: nothing is booked and "
        "you will not hear from us about it again.\n\n— Sonora\n"
    )
    return svc._mail(
        "confirm_listener",
        b.email,
        b.name,
        f"Confirm your free consult with {t.display_name}",
        text,
    )


def confirm(svc: Therapists, token: str) -> BookingRecord:
    """Confirm a pending booking through its emailed link (idempotent once booked).

    Raises
    ------
    ParameterError
        ``token`` when the link expired; ``start`` when the time has passed.
    SlotUnavailable
        When someone else took the slot meanwhile (carries the next free slots).
    """
    b, t = svc.booking(token)
    if b.status == "booked":
        return b
    if b.status != "pending":
        raise ParameterError("status", "this booking was cancelled; book a new one")
    now = svc.clock()
    if now - b.created_at > dt.timedelta(minutes=svc.settings.booking_confirm_minutes):
        raise ParameterError(
            "token",
            f"this confirmation link expired after {svc.settings.booking_confirm_minutes:g} "
            "minutes; please book again",
        )
    if b.starts_at <= now:
        raise ParameterError("start", "that time has passed; please book another")
    try:
        rec = svc.repo.confirm(hash_token(token), lambda r: svc._mails(t, r, token, "booked"))
    except SlotTaken:
        raise SlotUnavailable(b.starts_at, svc.free_slots(t, limit=6)) from None
    svc._wake()
    return rec


def is_blocked(svc: Therapists, therapist_id: str, email: str) -> bool:
    """Whether the therapist blocked ``email``."""
    with svc.repo.store.reading() as s:
        row = s.get(BookingBlock, (therapist_id, email.strip().lower()))
        return row is not None


def block(svc: Therapists, t: TherapistRecord, email: str) -> str:
    """Block an address for this therapist; returns the normalised address."""
    addr = _clean(email)
    with svc.repo.store.transaction() as s:
        if s.get(BookingBlock, (t.id, addr)) is None:
            s.add(BookingBlock(therapist_id=t.id, email=addr, created_at=time.time()))
    return addr


def unblock(svc: Therapists, t: TherapistRecord, email: str) -> None:
    """Lift a block."""
    addr = _clean(email)
    with svc.repo.store.transaction() as s:
        s.execute(
            delete(BookingBlock).where(
                BookingBlock.therapist_id == t.id, BookingBlock.email == addr
            )
        )


def blocked(svc: Therapists, t: TherapistRecord) -> list[str]:
    """The addresses this therapist blocked."""
    with svc.repo.store.reading() as s:
        return list(s.scalars(select(BookingBlock.email).where(BookingBlock.therapist_id == t.id)))
