"""The therapist directory and free-consult booking, as one object the web app and CLI share.

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
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sonora.accounts.privacy import AccountPart
from sonora.accounts.repo import AccountRepo, UserRecord, hash_token
from sonora.errors import ParameterError, SonoraError
from sonora.settings import Settings
from sonora.store.base import new_id, utcnow
from sonora.store.errors import NotFound, StoreError
from sonora.therapists import mail as mailer
from sonora.therapists.availability import (
    SLOT_MINUTES,
    Extra,
    Holiday,
    WeeklyRule,
    check_timezone,
    parse_hhmm,
    slots_between,
)
from sonora.therapists.credentials import (
    Credential,
    credential_for,
    load_credentials,
    normalise_number,
    renewal_due,
)
from sonora.therapists.places import Place, find_place, haversine_km
from sonora.therapists.repo import (
    BookingRecord,
    Mail,
    SlotTaken,
    TherapistRecord,
    TherapistRepo,
    VerificationRecord,
)

__all__ = [
    "APPROACHES",
    "POPULATIONS",
    "SearchQuery",
    "SearchResult",
    "SlotUnavailable",
    "Therapists",
]

log = logging.getLogger("sonora.therapists")

#: People a therapist works with (directory filter).
POPULATIONS = {
    "children": "Children",
    "teenagers": "Teenagers",
    "adults": "Adults",
    "older_adults": "Older adults",
    "dementia": "People living with dementia",
    "autism": "Autistic people",
    "mental_health": "Mental health",
    "neuro_rehab": "Neurological rehabilitation (stroke, brain injury)",
    "palliative": "Palliative and end-of-life care",
    "learning_disability": "People with learning disabilities",
}
#: Ways of working (directory filter).
APPROACHES = {
    "songwriting": "Songwriting",
    "improvisation": "Improvisation",
    "receptive_listening": "Receptive listening",
    "guided_imagery": "Guided imagery and music",
    "neurologic": "Neurologic techniques",
    "vocal": "Voice and singing",
    "instrumental": "Playing instruments",
    "family": "Work with families and carers",
}
SORTS = ("distance", "soonest", "name")
_MAX_LIST = 10


class SlotUnavailable(SonoraError):
    """The chosen slot was just taken; ``next_slots`` are the next free ones (UTC)."""

    def __init__(self, start: dt.datetime, next_slots: list[dt.datetime]) -> None:
        self.start = start
        self.next_slots = next_slots
        self.field = "start"
        super().__init__("start: that time was just taken by someone else; please choose another")


@dataclass(frozen=True)
class SearchQuery:
    """What a listener is looking for (all optional)."""

    country: str = ""
    region: str = ""
    city: str = ""
    near: str = ""
    radius_km: float | None = None
    online_only: bool = False
    language: str = ""
    population: str = ""
    approach: str = ""
    sort: str = "soonest"


@dataclass
class Hit:
    """One directory result."""

    therapist: TherapistRecord
    distance_km: float | None
    next_free: dt.datetime | None


@dataclass
class SearchResult:
    """Directory results and the place distances were measured from."""

    hits: list[Hit]
    place: Place | None = None
    query: SearchQuery = field(default_factory=SearchQuery)


def _fold(text: str) -> str:
    return " ".join(str(text or "").lower().split())


def _text(data: Mapping[str, Any], name: str, *, max_len: int, min_len: int = 0) -> str:
    v = data.get(name, "")
    if v is None:
        v = ""
    if not isinstance(v, str):
        raise ParameterError(name, "expected text")
    v = " ".join(v.split()) if name != "bio" and name != "reason" else v.strip()
    if len(v) < min_len:
        raise ParameterError(name, f"required: at least {min_len} character(s)")
    if len(v) > max_len:
        raise ParameterError(name, f"too long: at most {max_len} characters, got {len(v)}")
    return v


def _choices(data: Mapping[str, Any], name: str, allowed: Mapping[str, str]) -> list[str]:
    raw = data.get(name) or []
    items = [raw] if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for i, x in enumerate(items):
        if x not in allowed:
            raise ParameterError(f"{name}[{i}]", f"{x!r} is not one of {sorted(allowed)}")
        if x not in out:
            out.append(x)
    return out


def _flag(data: Mapping[str, Any], name: str, default: bool) -> bool:
    v = data.get(name, default)
    if isinstance(v, bool):
        return v
    if v in ("on", "true", "1", "yes"):
        return True
    if v in ("", "off", "false", "0", "no", None):
        return False
    raise ParameterError(name, f"expected true or false, got {v!r}")


_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def check_email(value: Any, field: str = "email") -> str:
    """Lower-cased, trimmed email address (:class:`ParameterError` naming ``field``)."""
    e = str(value or "").strip().lower()
    if len(e) > 320 or not _EMAIL_RE.match(e):
        raise ParameterError(field, f"{value!r} is not an email address such as name@example.org")
    return e


def parse_instant(text: Any, field: str = "start") -> dt.datetime:
    """An ISO 8601 time *with* an offset (``2026-03-30T08:00:00Z``), as UTC.

    Raises
    ------
    ParameterError
        Naming ``field`` for malformed or offset-less text.
    """
    s = str(text or "").strip()
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(
            field, f"{text!r} is not a time; use ISO 8601 with an offset, e.g. 2026-03-30T08:00Z"
        ) from None
    if t.tzinfo is None:
        raise ParameterError(field, f"{text!r} has no UTC offset; add one, e.g. Z or +01:00")
    return t.astimezone(dt.UTC)


def parse_date(text: Any, field: str) -> dt.date:
    """``"2026-12-24"`` → a date (:class:`ParameterError` naming ``field``)."""
    try:
        return dt.date.fromisoformat(str(text or "").strip())
    except ValueError:
        raise ParameterError(field, f"{text!r} is not a date; use YYYY-MM-DD") from None


class Therapists:
    """The directory and booking service.

    Parameters
    ----------
    store : AccountRepo
        The migrated database.
    settings : Settings
        Email, public URL, notice and horizon settings.
    screen : callable, optional
        ``screen(text, country) -> dict | None``: triage of a booking's reason
        (:meth:`sonora.web.core.Core.screen_note`).
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

    # -- credentials -------------------------------------------------------------------
    @staticmethod
    def credentials() -> list[Credential]:
        """Every supported credential."""
        return list(load_credentials().values())

    @staticmethod
    def credential(country: str) -> Credential:
        """The credential of a country."""
        return credential_for(country)

    # -- profiles ----------------------------------------------------------------------
    def clean_profile(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate profile answers into the stored fields.

        Raises
        ------
        ParameterError
            Naming the first field at fault.
        """
        name = _text(data, "display_name", max_len=120, min_len=2)
        country = str(data.get("country") or "").strip().upper()
        credential_for(country)
        number = normalise_number(country, str(data.get("registration_number") or ""))
        region = _text(data, "region", max_len=120)
        city = _text(data, "city", max_len=120, min_len=1)
        in_person = _flag(data, "in_person", True)
        online = _flag(data, "online", True)
        if not (in_person or online):
            raise ParameterError("online", "offer consults in person, online, or both")
        place: Place | None
        try:
            place = find_place(city, country=country, field="city")
        except ParameterError:
            if in_person:
                raise ParameterError(
                    "city",
                    f"{city!r} is not in Sonora's offline place list for {country}; type the "
                    "nearest town of 5,000 people or more",
                ) from None
            place = None
        if place is not None and place.country != country:
            place = None
        raw_langs = data.get("languages") or ""
        langs = raw_langs.split(",") if isinstance(raw_langs, str) else list(raw_langs)
        languages = []
        for i, lang in enumerate(langs):
            lang = " ".join(str(lang).split())
            if not lang:
                continue
            if len(lang) > 40:
                raise ParameterError(f"languages[{i}]", "at most 40 characters per language")
            if lang.lower() not in [x.lower() for x in languages]:
                languages.append(lang)
        if not languages:
            raise ParameterError("languages", "name at least one language, e.g. English")
        if len(languages) > 10:
            raise ParameterError("languages", "at most 10 languages")
        tz_name = str(data.get("timezone") or "").strip() or (place.timezone if place else "")
        check_timezone(tz_name, "timezone")
        return {
            "display_name": name,
            "country": country,
            "registration_number": number,
            "region": region,
            "city": place.name if place is not None else city,
            "latitude": place.latitude if place is not None else None,
            "longitude": place.longitude if place is not None else None,
            "in_person": in_person,
            "online": online,
            "languages": languages,
            "populations": _choices(data, "populations", POPULATIONS),
            "approaches": _choices(data, "approaches", APPROACHES),
            "bio": _text(data, "bio", max_len=2000),
            "timezone": tz_name,
        }

    def own_profile(self, user: UserRecord) -> TherapistRecord | None:
        """The signed-in user's therapist profile, if any."""
        return self.repo.profile_of_user(user.id)

    def create_profile(self, user: UserRecord, data: Mapping[str, Any]) -> TherapistRecord:
        """Make the signed-in account's therapist profile (unverified until an admin checks)."""
        if user.is_guest:
            raise ParameterError("email", "sign up with an email and password first")
        fields = self.clean_profile(data)
        try:
            return self.repo.create_profile(user.id, fields)
        except StoreError as exc:
            raise ParameterError("profile", str(exc)) from None

    def update_profile(self, user: UserRecord, data: Mapping[str, Any]) -> TherapistRecord:
        """Change the user's own profile (a new credential number voids verification)."""
        mine = self.own_profile(user)
        if mine is None:
            raise NotFound("therapist", "profile")
        return self.repo.update_profile(mine.id, self.clean_profile(data))

    def public_profile(self, therapist_id: str) -> TherapistRecord:
        """A listed profile; unlisted or unknown ids are :class:`NotFound` alike."""
        try:
            t = self.repo.profile(str(therapist_id)[:64])
        except NotFound:
            raise NotFound("therapist", "profile") from None
        if not t.listed(self.clock()):
            raise NotFound("therapist", "profile")
        return t

    def status(self, t: TherapistRecord) -> str:
        """``verified``, ``recheck_due`` or ``unverified`` now."""
        return t.status(self.clock())

    # -- search ------------------------------------------------------------------------
    def parse_query(self, data: Mapping[str, Any]) -> SearchQuery:
        """Validate directory search parameters."""
        country = str(data.get("country") or "").strip().upper()
        if country:
            credential_for(country)
        radius: float | None = None
        if data.get("radius_km") not in (None, ""):
            try:
                radius = float(data["radius_km"])
            except (TypeError, ValueError):
                raise ParameterError(
                    "radius_km", "expected a number of km from 1 to 20000"
                ) from None
            if not 1 <= radius <= 20_000:
                raise ParameterError("radius_km", f"{radius:g} is out of range: 1 to 20000 km")
        sort = str(data.get("sort") or "soonest")
        if sort not in SORTS:
            raise ParameterError("sort", f"{sort!r} is not one of {list(SORTS)}")
        pop = str(data.get("population") or "")
        if pop and pop not in POPULATIONS:
            raise ParameterError("population", f"{pop!r} is not one of {sorted(POPULATIONS)}")
        appr = str(data.get("approach") or "")
        if appr and appr not in APPROACHES:
            raise ParameterError("approach", f"{appr!r} is not one of {sorted(APPROACHES)}")
        near = _text(data, "near", max_len=120)
        if sort == "distance" and not near:
            raise ParameterError("near", "type a town or city to sort by distance")
        return SearchQuery(
            country=country,
            region=_text(data, "region", max_len=120),
            city=_text(data, "city", max_len=120),
            near=near,
            radius_km=radius,
            online_only=_flag(data, "online_only", False),
            language=_text(data, "language", max_len=40),
            population=pop,
            approach=appr,
            sort=sort,
        )

    def search(self, q: SearchQuery) -> SearchResult:
        """Listed therapists matching ``q``, sorted as asked."""
        now = self.clock()
        place = find_place(q.near, country=q.country or None, field="near") if q.near else None
        hits: list[Hit] = []
        for t in self.repo.profiles(listed_at=now, country=q.country or None):
            if q.region and _fold(q.region) not in _fold(t.region):
                continue
            if q.city and _fold(q.city) != _fold(t.city):
                continue
            if q.online_only and not t.online:
                continue
            if q.language and _fold(q.language) not in [_fold(x) for x in t.languages]:
                continue
            if q.population and q.population not in t.populations:
                continue
            if q.approach and q.approach not in t.approaches:
                continue
            dist = None
            if place is not None and t.latitude is not None and t.longitude is not None:
                dist = haversine_km(place.latitude, place.longitude, t.latitude, t.longitude)
            if (
                q.radius_km is not None
                and place is not None
                and (dist is None or dist > q.radius_km)
            ):
                continue
            hits.append(Hit(t, dist, None))
        for h in hits:
            nxt = self.free_slots(h.therapist, limit=1)
            h.next_free = nxt[0] if nxt else None
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        if q.sort == "distance":
            hits.sort(
                key=lambda h: (
                    h.distance_km is None,
                    h.distance_km or 0.0,
                    h.therapist.display_name,
                )
            )
        elif q.sort == "soonest":
            hits.sort(key=lambda h: (h.next_free or far, h.therapist.display_name))
        else:
            hits.sort(key=lambda h: h.therapist.display_name.lower())
        return SearchResult(hits, place, q)

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
        h = Holiday(start, end, _text(data, "note", max_len=200))
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
            _text(data, "note", max_len=200),
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
        tz = str(data.get("tz") or "").strip()
        check_timezone(tz, "tz")
        name = _text(data, "name", max_len=120, min_len=1)
        email = check_email(data.get("email"))
        reason = _text(data, "reason", max_len=1000)
        start = parse_instant(data.get("start"), "start")
        self.check_slot(t, start)
        care = self.screen(reason, t.country) if (reason and self.screen) else None
        token = secrets.token_urlsafe(32)
        booking_id = new_id()
        end = start + dt.timedelta(minutes=SLOT_MINUTES)
        draft = BookingRecord(
            booking_id, t.id, start, end, "booked", name, email, reason, care, tz, 0, self.clock()
        )
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
        note = _text(data or {}, "note", max_len=500)
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

    def delete_account(self, user: UserRecord) -> dict[str, int]:
        """Delete the account and everything of its (see
        :meth:`~sonora.therapists.repo.TherapistRepo.delete_account`).

        Every upcoming consult it leaves behind is cancelled and the other person is
        emailed (a ``METHOD:CANCEL`` invite) through the outbox, in the same transaction
        as the deletion.
        """

        counts = self.repo.delete_account(user.id, self._left_mails)
        self._wake()
        return counts

    def account_part(self) -> AccountPart:
        """The directory's part of an account, for the account's export and deletion
        (one unit of work, :mod:`sonora.accounts.privacy`)."""
        return self.repo.account_part(self._left_mails)

    def _left_mails(self, b: BookingRecord, t: TherapistRecord, why: str) -> list[Mail]:
        return self._mails(t, b, None, "cancelled", why=why)

    # -- re-check reminders ------------------------------------------------------------
    def remind(self, *, days_ahead: int = 30) -> list[TherapistRecord]:
        """Email each therapist whose verification runs out within ``days_ahead`` days
        (or has run out) once per expiry; returns those reminded by this call.

        Run it daily (``sonora therapists remind``, e.g. from cron): a second run finds
        nothing new to send, and two runs at once send one email.
        """
        if not 0 <= days_ahead <= 366:
            raise ParameterError("days", f"{days_ahead} is out of range: 0 to 366 days")
        now = self.clock()
        out = []
        for t in self.repo.due_for_reminder(now + dt.timedelta(days=days_ahead)):
            if self.repo.mark_reminded(t, self._recheck_mails(t), now):
                out.append(t)
        if out:
            self._wake()
        return out

    # -- admin -------------------------------------------------------------------------
    def is_admin(self, user: UserRecord | None) -> bool:
        """Whether the signed-in user is an admin."""
        return user is not None and not user.is_guest and self.repo.is_admin(user.id)

    def grant_admin(self, email: str, *, revoke: bool = False) -> UserRecord:
        """Make the account with ``email`` an admin (or stop it being one)."""
        user = self.repo.user_by_email(email)
        if user is None or user.is_guest:
            raise ParameterError("email", f"no account with the email {email!r}; sign up first")
        self.repo.set_admin(user.id, not revoke)
        return user

    def queue(self) -> list[tuple[TherapistRecord, str]]:
        """Every profile with its status: real people needing a check first, demo data
        (labelled on the page) after them."""
        now = self.clock()
        order = {"recheck_due": 0, "unverified": 1, "verified": 2}
        items = [(t, t.status(now)) for t in self.repo.profiles()]
        items.sort(
            key=lambda x: (x[0].is_demo, order[x[1]], x[0].verified_until or x[0].created_at)
        )
        return items

    def history(self, therapist_id: str) -> list[VerificationRecord]:
        """Every verification decision about a therapist."""
        return self.repo.verifications(therapist_id)

    def verify(
        self, admin: UserRecord, therapist_id: str, data: Mapping[str, Any]
    ) -> TherapistRecord:
        """Record an admin's decision (``decision``: verified or rejected; ``note``;
        optional ``valid_until`` date; ``registration_number`` as looked up)."""
        if not self.is_admin(admin):
            raise NotFound("therapist", "profile")
        t = self.repo.profile(str(therapist_id)[:64])
        if t.user_id == admin.id:
            raise ParameterError("therapist", "ask another admin to verify your own credential")
        decision = str(data.get("decision") or "")
        if decision not in ("verified", "rejected"):
            raise ParameterError("decision", "choose verified or rejected")
        note = _text(data, "note", max_len=1000, min_len=3)
        now = self.clock()
        limit = renewal_due(t.country, now)
        valid_until: dt.datetime | None = limit
        if data.get("valid_until"):
            d = parse_date(data.get("valid_until"), "valid_until")
            valid_until = dt.datetime.combine(d, dt.time(23, 59), tzinfo=dt.UTC)
            if valid_until <= now:
                raise ParameterError("valid_until", "must be a date after today")
            if valid_until > limit:
                raise ParameterError(
                    "valid_until",
                    f"at most one renewal cycle ({credential_for(t.country).renewal_years} "
                    f"year(s)) ahead: {limit.date().isoformat()}",
                )
        expected = str(data.get("registration_number") or t.registration_number)
        try:
            rec = self.repo.record_verification(
                t.id,
                admin=admin,
                decision=decision,
                note=note,
                valid_until=valid_until,
                now=now,
                expected_number=expected,
                mails_for=self._verified_mails if decision == "verified" else None,
            )
        except StoreError as exc:
            raise ParameterError("registration_number", str(exc).split(": ", 1)[-1]) from None
        self._wake()
        return rec

    # -- email -------------------------------------------------------------------------
    def link(self, token: str) -> str:
        """The booking's manage link."""
        return f"{self.settings.base_url}/bookings/{token}"

    def _who(self, t: TherapistRecord) -> str:
        """How emails name a therapist: the title only beside a verified real credential."""
        if t.is_demo:
            return f"{t.display_name} (demo profile, not a real person)"
        if t.status(self.clock()) == "verified":
            return f"{t.display_name}, {credential_for(t.country).short} music therapist"
        return t.display_name

    def _mails(
        self,
        t: TherapistRecord,
        b: BookingRecord,
        token: str | None,
        what: str,
        *,
        why: str = "",
        note: str = "",
    ) -> list[Mail]:
        """The listener's and the therapist's email about a booking change.

        ``what`` is ``booked``, ``moved`` or ``cancelled``; ``why`` says who cancelled
        when it was not the listener through their link: ``therapist`` (from the
        dashboard, with their ``note``), ``therapist_left`` (the therapist deleted their
        account: only the listener is told) or ``listener_left`` (the listener deleted
        theirs).  ``token`` is ``None`` when the link is not at hand (no manage link).
        """
        who = self._who(t)
        tz_l = check_timezone(b.listener_tz, "tz")
        tz_t = check_timezone(t.timezone, "timezone")
        when_l = _when(b.starts_at, b.ends_at, tz_l, b.listener_tz)
        when_t = _when(b.starts_at, b.ends_at, tz_t, t.timezone)
        link = self.link(token) if token else ""
        cancelled = what == "cancelled"
        uid = f"{b.id}@sonora"
        base = self.settings.base_url
        listener_ics = mailer.invite(
            uid=uid,
            start=b.starts_at,
            end=b.ends_at,
            summary=f"Free 15-minute consult with {t.display_name}",
            description=f"Manage or cancel: {link}" if link else "Cancelled",
            organizer_email=t.email or "therapist@sonora.invalid",
            organizer_name=t.display_name,
            attendee_email=b.email,
            attendee_name=b.name,
            sequence=b.sequence,
            cancelled=cancelled,
            url=link,
        )
        therapist_ics = mailer.invite(
            uid=uid,
            start=b.starts_at,
            end=b.ends_at,
            summary=f"Free consult: {b.name}",
            description=f"Reason given: {b.reason or '(none)'}",
            organizer_email=t.email or "therapist@sonora.invalid",
            organizer_name=t.display_name,
            attendee_email=b.email,
            attendee_name=b.name,
            sequence=b.sequence,
            cancelled=cancelled,
        )
        verb = {"booked": "booked", "cancelled": "cancelled", "moved": "moved"}[what]
        if why == "therapist":
            rebook = (
                f"{base}/therapists/{t.id}" if t.status(self.clock()) == "verified" else ""
            ) or f"{base}/therapists"
            opening = (
                f"{who} had to cancel your free 15-minute consult.\n"
                + (f"\nTheir message: {note}\n" if note else "")
                + f"\nYou can book another time: {rebook}\n"
            )
        elif why == "therapist_left":
            opening = (
                f"{t.display_name} has left Sonora's directory, so your free 15-minute "
                f"consult with them is cancelled.\n\nFind another music therapist: "
                f"{base}/therapists\n"
            )
        elif why == "listener_left":
            opening = (
                f"You deleted your Sonora account, so your free 15-minute consult with {who} "
                "is cancelled.\n"
            )
        else:
            opening = f"Your free 15-minute consult with {who} is {verb}.\n"
        to_listener = (
            f"Hello {b.name},\n\n{opening}\n"
            f"When: {when_l}\n"
            + ("" if cancelled or not link else f"\nTo cancel or move it, open:\n{link}\n")
            + "\nA consult is a short conversation to see whether working together could help. "
            "If you are in crisis, please contact a crisis line or emergency services now "
            "rather than waiting for the consult.\n\n— Sonora\n"
        )
        care = b.care or {}
        flag = (
            f"\nSonora's screen of the reason: {care.get('level')} — please read it before the call.\n"
            if care.get("level") in ("crisis", "clinical") and not cancelled
            else ""
        )
        t_opening = {
            "therapist": f"You cancelled this free 15-minute consult; {b.name} has been emailed.",
            "listener_left": f"{b.name} deleted their Sonora account, so this free 15-minute "
            "consult is cancelled.",
        }.get(why, f"A free 15-minute consult is {verb}.")
        to_therapist = (
            f"Hello {t.display_name},\n\n{t_opening}\n\n"
            f"When: {when_t}\n"
            f"Who: {b.name} <{b.email}>\n"
            f"Their time zone: {b.listener_tz}\n"
            f"Reason: {b.reason or '(none given)'}\n{flag}\n"
            f"Your upcoming consults: {base}/therapists/me\n\n— Sonora\n"
        )
        subject_l = f"Your free consult with {t.display_name} is {verb}"
        subject_t = f"Free consult {verb}: {b.name}, {when_t}"
        out = [
            self._mail(
                f"{what}_listener", b.email, b.name, subject_l, to_listener,
                ics=listener_ics, cancelled=cancelled,
            )
        ]  # fmt: skip
        if why != "therapist_left" and _deliverable(t.email):  # demo accounts get no mail
            assert t.email is not None
            out.append(
                self._mail(
                    f"{what}_therapist", t.email, t.display_name, subject_t, to_therapist,
                    ics=therapist_ics, cancelled=cancelled,
                )
            )  # fmt: skip
        return out

    def _mail(
        self,
        kind: str,
        to_addr: str,
        to_name: str,
        subject: str,
        text: str,
        *,
        ics: bytes | None = None,
        cancelled: bool = False,
    ) -> Mail:
        """One outbox message, composed from Sonora's sender address."""
        message = mailer.compose(
            sender=self.settings.mail_from,
            to_addr=to_addr,
            to_name=to_name,
            subject=subject,
            text=text,
            ics=ics,
            cancelled=cancelled,
        )
        return Mail(kind, to_addr, subject, message)

    def _therapist_mail(self, t: TherapistRecord, kind: str, subject: str, text: str) -> list[Mail]:
        """One plain email to a therapist (none to demo accounts' undeliverable addresses)."""
        if not _deliverable(t.email):
            return []
        assert t.email is not None
        body = f"Hello {t.display_name},\n\n{text}\n\n— Sonora\n"
        return [self._mail(kind, t.email, t.display_name, subject, body)]

    def _verified_mails(self, t: TherapistRecord) -> list[Mail]:
        """ "Your credential is verified" (queued with the admin's decision)."""
        cred = credential_for(t.country)
        until = t.verified_until.date().isoformat() if t.verified_until else "?"
        text = (
            f"A Sonora admin checked your {cred.credential} ({cred.number_label} "
            f"{t.registration_number}) against the {cred.body} register and recorded it as "
            f"verified. You are listed in the directory as an {cred.short} music therapist "
            f"until {until}, when the credential is due for its re-check "
            f"({cred.renewal_note}).\n\n"
            f"Your profile: {self.settings.base_url}/therapists/{t.id}\n"
            f"Your hours and upcoming consults: {self.settings.base_url}/therapists/me\n\n"
            "If you change your registration number, the verification is voided until an "
            "admin checks the new one."
        )
        return self._therapist_mail(
            t, "verified_therapist", f"Your {cred.short} credential is verified on Sonora", text
        )

    def _recheck_mails(self, t: TherapistRecord) -> list[Mail]:
        """ "Your verification runs out on …" (the re-check reminder)."""
        cred = credential_for(t.country)
        until = t.verified_until.date().isoformat() if t.verified_until else "?"
        past = t.verified_until is not None and t.verified_until <= self.clock()
        text = (
            (
                f"The verification of your {cred.credential} on Sonora ran out on {until}, "
                "so you are not listed in the directory until an admin checks the "
                f"{cred.body} register again."
                if past
                else f"The verification of your {cred.credential} on Sonora runs out on "
                f"{until}. After that date you leave the directory until an admin checks "
                f"the {cred.body} register again."
            )
            + f"\n\n{cred.renewal_note} Please make sure your registration is renewed and "
            f"that your {cred.number_label} on Sonora is current: "
            f"{self.settings.base_url}/therapists/me/profile\n\n"
            "Sonora's admins see re-checks due first. Your upcoming consults stand either way."
        )
        return self._therapist_mail(
            t,
            "recheck_therapist",
            f"Your {cred.short} verification on Sonora: re-check due {until}",
            text,
        )

    def make_sender(self) -> mailer.Sender:
        """SMTP when ``SONORA_SMTP_HOST`` is set, else .eml files in the outbox folder."""
        s = self.settings
        if s.smtp_host:
            return mailer.SmtpSender(
                host=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user,
                password=s.smtp_password,
                security=s.smtp_security,
            )
        return mailer.FileSender(s.outbox_folder)

    def deliver(self, sender: mailer.Sender | None = None) -> mailer.DeliveryReport:
        """Send every due email once (what ``sonora outbox send`` does)."""
        return mailer.deliver_due(self.repo, sender or self.make_sender(), now=self.clock)

    def start_background(self) -> None:
        """Start the background sender (``SONORA_OUTBOX_INTERVAL_S`` > 0)."""
        if self.settings.outbox_interval_s > 0 and self.background is None:
            self.background = mailer.BackgroundSender(
                self.repo, self.make_sender(), self.settings.outbox_interval_s
            )
            self.background.start()

    def stop_background(self) -> None:
        """Stop the background sender."""
        if self.background is not None:
            self.background.stop()
            self.background = None

    def _wake(self) -> None:
        if self.background is not None:
            self.background.wake()


def _deliverable(address: str | None) -> bool:
    """Whether to email ``address`` (demo accounts use undeliverable ``.invalid`` ones)."""
    return bool(address) and not str(address).endswith(".invalid")


def _when(start: dt.datetime, end: dt.datetime, tz: Any, tz_name: str) -> str:
    a, b = start.astimezone(tz), end.astimezone(tz)
    return f"{a:%A %d %B %Y, %H:%M}–{b:%H:%M} {a.tzname()} ({tz_name})"
