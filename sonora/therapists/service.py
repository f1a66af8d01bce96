"""The therapist directory and free-consult booking, as one object the web app and CLI share.

:class:`Therapists` joins the parts of the service, each in its own module:
:mod:`~sonora.therapists.profiles`, :mod:`~sonora.therapists.directory` (search),
:mod:`~sonora.therapists.verification`, :mod:`~sonora.therapists.notifications`
(emails); availability and booking are here.  Its public method names are stable.

:class:`Therapists` validates every input (errors name the field and what is allowed),
keeps the rules about who sees what, and turns bookings into emails in the outbox.

Who sees what
-------------
* Listeners see only *listed* profiles: a credential verified by an admin and not yet
  due for its re-check.  Demo data follows the same rule (listed only once an admin
  records a verification, e.g. ``sonora therapists demo --verify-as``) and is always
  labelled "Demo profile — not a real person".  Unlisted profiles are a 404, like
  profiles that do not exist.
* "Music therapist" is shown beside a verified credential of a real person only.
* A therapist sees their own profile and their own bookings: every therapist action
  takes the signed-in user and works on *that user's* profile.
* A booking link (an unguessable token; only its SHA-256 is stored) shows that one
  booking and nothing else.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from sonora.accounts.privacy import AccountPart
from sonora.accounts.repo import AccountRepo, UserRecord, hash_token
from sonora.errors import ParameterError
from sonora.settings import Settings
from sonora.store.base import new_id, utcnow
from sonora.store.errors import NotFound, StoreError
from sonora.therapists import mail as mailer
from sonora.therapists.availability import (
    SLOT_MINUTES,
    Extra,
    Holiday,
    WeeklyRule,
    normalise_timezone,
    parse_hhmm,
    slots_between,
)
from sonora.therapists.directory import Directory, SearchQuery, SearchResult
from sonora.therapists.errors import SlotUnavailable
from sonora.therapists.fields import (
    APPROACHES,
    POPULATIONS,
    check_email,
    parse_date,
    parse_instant,
    text_field,
)
from sonora.therapists.notifications import Notifications
from sonora.therapists.profiles import Profiles
from sonora.therapists.repo import (
    BookingRecord,
    Mail,
    SlotTaken,
    TherapistRecord,
    TherapistRepo,
)
from sonora.therapists.verification import Verification

__all__ = [
    "APPROACHES",
    "POPULATIONS",
    "SearchQuery",
    "SearchResult",
    "SlotUnavailable",
    "Therapists",
]

log = logging.getLogger("sonora.therapists")


class Therapists(Profiles, Directory, Verification, Notifications):
    """The directory and booking service.

    Parameters
    ----------
    store : AccountRepo
        The migrated database.
    settings : Settings
        Email, public URL, notice and horizon settings.
    screen : callable, optional
        ``screen(text, country) -> dict | None``: triage of a booking's reason
        (:meth:`sonora.core.app.Core.screen_note`).
    clock : callable, optional
        Current UTC time (tests move it).
    """

    def __init__(
        self,
        store: AccountRepo,
        settings: Settings,
        *,
        screen: Callable[[str, str], dict[str, Any] | None] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.repo = TherapistRepo(store, clock=clock)
        self.settings = settings
        self.screen = screen
        self.clock = clock
        self.background: mailer.BackgroundSender | None = None
        #: Called when new mail is queued and no in-process sender runs (the job queue
        #: sets it to queue an outbox pass on a worker).
        self.on_mail: Callable[[], None] | None = None

    # -- availability ------------------------------------------------------------------
    def availability(self, t: TherapistRecord) -> tuple[list[WeeklyRule], list[Holiday | Extra]]:
        """A therapist's weekly rules and exceptions."""
        rules_rows, exc_rows = self.repo.availability(t.id)
        rules = [WeeklyRule(r.weekday, r.start_minute, r.end_minute, id=r.id) for r in rules_rows]
        exceptions: list[Holiday | Extra] = []
        for e in exc_rows:
            if e.kind == "off":
                exceptions.append(Holiday(e.start_date, e.end_date, e.note, id=e.id))
            else:
                exceptions.append(
                    Extra(
                        e.start_date,
                        int(e.start_minute or 0),
                        int(e.end_minute or 0),
                        e.note,
                        id=e.id,
                    )
                )
        return rules, exceptions

    def window(self) -> tuple[dt.datetime, dt.datetime]:
        """``(earliest, latest)`` bookable slot starts now (notice and horizon)."""
        now = self.clock()
        earliest = now + dt.timedelta(hours=self.settings.booking_notice_hours)
        return earliest, now + dt.timedelta(days=self.settings.booking_horizon_days)

    def free_slots(
        self, t: TherapistRecord, *, limit: int | None = None, days: int | None = None
    ) -> list[dt.datetime]:
        """Free slot starts (UTC) from the notice period to the horizon (or ``days``)."""
        start, end = self.window()
        if days is not None:
            end = min(end, self.clock() + dt.timedelta(days=days))
        rules, exceptions = self.availability(t)
        if not rules and not any(isinstance(e, Extra) for e in exceptions):
            return []
        taken = self.repo.taken(t.id, start, end)
        slots = slots_between(rules, exceptions, t.timezone, start, end, taken=taken)
        return slots[:limit] if limit is not None else slots

    def add_weekly(self, user: UserRecord, data: Mapping[str, Any]) -> None:
        """Add weekly hours to the user's own profile (``weekday``, ``start``, ``end``)."""
        t = self._mine(user)
        try:
            weekday = int(str(data.get("weekday", "")))
        except ValueError:
            raise ParameterError("weekday", "choose a day, 0 (Monday) to 6 (Sunday)") from None
        rule = WeeklyRule(
            weekday,
            parse_hhmm(str(data.get("start", "")), "start"),
            parse_hhmm(str(data.get("end", "")), "end"),
        )
        rules, _ = self.availability(t)
        if len(rules) >= 50:
            raise ParameterError("weekday", "at most 50 weekly hours")
        self.repo.add_rule(t.id, rule.weekday, rule.start_minute, rule.end_minute)

    def add_holiday(self, user: UserRecord, data: Mapping[str, Any]) -> None:
        """Add days off (``start_date``, ``end_date``, optional ``note``)."""
        t = self._mine(user)
        start = parse_date(data.get("start_date"), "start_date")
        end = parse_date(data.get("end_date") or data.get("start_date"), "end_date")
        h = Holiday(start, end, text_field(data, "note", max_len=200))
        self.repo.add_exception(
            t.id, kind="off", start_date=h.start_date, end_date=h.end_date, note=h.note
        )

    def add_extra(self, user: UserRecord, data: Mapping[str, Any]) -> None:
        """Add one-off hours (``date``, ``start``, ``end``, optional ``note``)."""
        t = self._mine(user)
        day = parse_date(data.get("date"), "date")
        e = Extra(
            day,
            parse_hhmm(str(data.get("start", "")), "start"),
            parse_hhmm(str(data.get("end", "")), "end"),
            text_field(data, "note", max_len=200),
        )
        self.repo.add_exception(
            t.id,
            kind="extra",
            start_date=day,
            end_date=day,
            start_minute=e.start_minute,
            end_minute=e.end_minute,
            note=e.note,
        )

    def delete_availability(self, user: UserRecord, item_id: str) -> None:
        """Delete one of the user's own rules or exceptions (:class:`NotFound` otherwise)."""
        t = self._mine(user)
        if not self.repo.delete_availability(t.id, str(item_id)[:64]):
            raise NotFound("availability", "item")

    def _mine(self, user: UserRecord) -> TherapistRecord:
        t = self.own_profile(user)
        if t is None:
            raise NotFound("therapist", "profile")
        return t

    # -- booking -----------------------------------------------------------------------
    def check_slot(
        self, t: TherapistRecord, start: dt.datetime, *, ignore: dt.datetime | None = None
    ) -> None:
        """Raise unless ``start`` is one of ``t``'s free slots now."""
        now = self.clock()
        earliest, latest = self.window()
        if start <= now:
            raise ParameterError(
                "start", "that time has passed; choose one of the free times below"
            )
        if start < earliest:
            raise ParameterError(
                "start",
                f"book at least {self.settings.booking_notice_hours:g} hours ahead; choose a later time",
            )
        if start >= latest:
            raise ParameterError(
                "start",
                f"free consults can be booked up to {self.settings.booking_horizon_days} days ahead",
            )
        rules, exceptions = self.availability(t)
        offered = slots_between(
            rules, exceptions, t.timezone, start, start + dt.timedelta(minutes=SLOT_MINUTES)
        )
        if start not in offered:
            raise ParameterError(
                "start", f"{start.isoformat()} is not one of {t.display_name}'s free times"
            )
        taken = self.repo.taken(t.id, start, start + dt.timedelta(minutes=SLOT_MINUTES))
        if start in taken and start != ignore:
            raise SlotUnavailable(start, self.free_slots(t, limit=6))

    def book(
        self,
        therapist_id: str,
        data: Mapping[str, Any],
        *,
        user: UserRecord | None = None,
    ) -> tuple[BookingRecord, str]:
        """Book a free consult.

        Parameters
        ----------
        therapist_id : str
        data : mapping
            ``start`` (ISO 8601 with offset), ``tz`` (the listener's IANA zone),
            ``name``, ``email``, optional ``reason``.
        user : UserRecord, optional
            The signed-in listener, if any (kept with the booking).

        Returns
        -------
        (BookingRecord, str)
            The booking and its link token (shown once, emailed; only a hash is kept).

        Raises
        ------
        ParameterError
            Naming the field at fault.
        SlotUnavailable
            Someone else has the slot; carries the next free slots.
        """
        t = self.public_profile(therapist_id)
        tz = normalise_timezone(str(data.get("tz") or ""), "tz")
        name = text_field(data, "name", max_len=120, min_len=1)
        email = check_email(data.get("email"))
        reason = text_field(data, "reason", max_len=1000)
        start = parse_instant(data.get("start"), "start")
        self.check_slot(t, start)
        care = self.screen(reason, t.country) if (reason and self.screen) else None
        token = secrets.token_urlsafe(32)
        booking_id = new_id()
        end = start + dt.timedelta(minutes=SLOT_MINUTES)
        draft = BookingRecord(
            booking_id, t.id, start, end, "booked", name, email, reason, care, tz, 0, self.clock()
        )
        pending = self.settings.booking_confirmation
        if pending:  # held only once the address confirms (therapists/holds.py)
            from sonora.therapists import holds

            draft = BookingRecord(
                booking_id, t.id, start, end, "pending", name, email, reason, care, tz, 0,
                self.clock(),
            )  # fmt: skip
            blocked = holds.is_blocked(self, t.id, email)
            mails = [] if blocked else [holds.confirmation_mail(self, t, draft, token)]
        else:
            mails = self._mails(t, draft, token, "booked")
        try:
            rec = self.repo.book(
                booking_id=booking_id,
                therapist_id=t.id,
                start=start,
                end=end,
                name=name,
                email=email,
                reason=reason,
                care=care,
                listener_tz=tz,
                token_hash=hash_token(token),
                user_id=user.id if user is not None else None,
                mails=mails,
                pending=pending,
            )
        except SlotTaken:
            raise SlotUnavailable(start, self.free_slots(t, limit=6)) from None
        self._wake()
        return rec, token

    def booking(self, token: str) -> tuple[BookingRecord, TherapistRecord]:
        """The booking behind a link, and its therapist (the link shows only these)."""
        if not token or len(token) > 128:
            raise NotFound("booking", "link")
        b = self.repo.booking_by_token(hash_token(token))
        return b, self.repo.profile(b.therapist_id)

    def cancel(self, token: str) -> BookingRecord:
        """Cancel through the link (frees the slot; both sides are emailed)."""
        b, t = self.booking(token)
        if b.status == "booked" and b.starts_at <= self.clock():
            raise ParameterError(
                "status", "this consult has already started; it cannot be cancelled"
            )
        rec = self.repo.cancel(hash_token(token), lambda r: self._mails(t, r, token, "cancelled"))
        self._wake()
        return rec

    def reschedule(self, token: str, data: Mapping[str, Any]) -> BookingRecord:
        """Move the booking to another free slot (``start``); both sides are emailed."""
        b, t = self.booking(token)
        if b.status != "booked":
            raise ParameterError("status", "this consult was cancelled; book a new one")
        if b.starts_at <= self.clock():
            raise ParameterError("status", "this consult has already started; it cannot be moved")
        start = parse_instant(data.get("start"), "start")
        if start == b.starts_at:
            raise ParameterError("start", "that is already the time of your consult")
        self.check_slot(t, start)
        end = start + dt.timedelta(minutes=SLOT_MINUTES)
        try:
            rec = self.repo.reschedule(
                hash_token(token), start, end, lambda r: self._mails(t, r, token, "moved")
            )
        except SlotTaken:
            raise SlotUnavailable(start, self.free_slots(t, limit=6)) from None
        except StoreError as exc:
            raise ParameterError("status", str(exc).split(": ", 1)[-1]) from None
        self._wake()
        return rec

    def dashboard(self, user: UserRecord) -> tuple[TherapistRecord, list[BookingRecord]]:
        """The user's own profile and their upcoming consults (nobody else's)."""
        t = self._mine(user)
        return t, self.repo.upcoming(t.id, self.clock())

    def cancel_by_therapist(
        self, user: UserRecord, booking_id: str, data: Mapping[str, Any] | None = None
    ) -> BookingRecord:
        """The signed-in therapist cancels one of *their own* upcoming consults.

        The listener gets a cancellation email (``METHOD:CANCEL`` invite, the
        therapist's optional ``note``, a link to book again); the therapist a copy for
        their calendar.  Someone else's booking is :class:`NotFound`, like an unknown one.

        Raises
        ------
        NotFound
            No profile, or no booking with this id *of this therapist*.
        ParameterError
            ``note`` too long, or the consult has already started.
        """
        t = self._mine(user)
        note = text_field(data or {}, "note", max_len=500)
        bid = str(booking_id)[:64]
        for b in self.repo.upcoming(t.id, self.clock()):
            if b.id == bid and b.starts_at <= self.clock():
                raise ParameterError(
                    "status", "this consult has already started; it cannot be cancelled"
                )
        rec = self.repo.cancel_by_therapist(
            t.id, bid, lambda r: self._mails(t, r, None, "cancelled", why="therapist", note=note)
        )
        self._wake()
        return rec

    # -- privacy -----------------------------------------------------------------------
    def export_account(self, user: UserRecord) -> dict[str, Any]:
        """What the directory holds about this account (added to the account export).

        ``therapist``: profile, availability, verification records and every booking
        with them; ``bookings``: consults the account booked while signed in.  Bookings
        made while signed out are not matched by email address, because Sonora does not
        confirm that an account's email belongs to its holder.
        """
        return self.repo.export_account(user.id)

    def delete_account(
        self, user: UserRecord, *, before: tuple[AccountPart, ...] = ()
    ) -> dict[str, int]:
        """Delete the account and everything of its (see
        :meth:`~sonora.therapists.repo.TherapistRepo.delete_account`).

        Every upcoming consult it leaves behind is cancelled and the other person is
        emailed (a ``METHOD:CANCEL`` invite) through the outbox, in the same transaction
        as the deletion.  ``before``: other features' parts that refer to the profile,
        deleted first in the same transaction (programmes).
        """

        counts = self.repo.delete_account(user.id, self._left_mails, before=before)
        self._wake()
        return counts

    def account_part(self) -> AccountPart:
        """The directory's part of an account, for the account's export and deletion
        (one unit of work, :mod:`sonora.accounts.privacy`)."""
        return self.repo.account_part(self._left_mails)

    def _left_mails(self, b: BookingRecord, t: TherapistRecord, why: str) -> list[Mail]:
        return self._mails(t, b, None, "cancelled", why=why)
