"""The therapist directory and consult booking, below the web layer.

Credentials data, slots across DST (Europe/London and America/New_York transition
weeks, listeners in other zones), verification and its expiry, directory search,
the booking race on SQLite and PostgreSQL (24 threads, one slot: exactly one wins),
cancel/reschedule and authorisation (the outbox, the therapists' emails and deleting a
therapist: ``test_outbox.py``; shared set-up: ``tests/therapistkit.py`` and this
folder's ``conftest.py``).

PostgreSQL runs at 127.0.0.1:5432, database ``test`` (as in ``test_store.py``); each
test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from therapistkit import (
    PROFILE,
    T0,
    UTC,
    Clock,
    booking_form,
    make_account,
    make_service,
    make_therapist,
)

from sonora.core.database import Database as Store
from sonora.errors import ParameterError
from sonora.settings import Settings
from sonora.store import NotFound
from sonora.therapists.availability import (
    Extra,
    Holiday,
    WeeklyRule,
    day_slots,
    group_by_local_day,
    slots_between,
)
from sonora.therapists.credentials import credential_for, load_credentials, normalise_number
from sonora.therapists.places import find_place
from sonora.therapists.service import SearchQuery, SlotUnavailable, Therapists


# -- credentials ----------------------------------------------------------------------
def test_credentials_per_country() -> None:
    creds = load_credentials()
    assert set(creds) >= {"GB", "US", "CA", "AU"}
    assert (creds["GB"].short, creds["GB"].renewal_years) == ("HCPC", 2)
    assert "Music therapist" in creds["GB"].title_note
    assert (creds["US"].short, creds["US"].renewal_years) == ("MT-BC", 5)
    assert "CBMT" in creds["US"].body
    assert (creds["CA"].short, creds["CA"].renewal_years) == ("MTA", 5)
    assert "CAMT" in creds["CA"].body
    assert (creds["AU"].short, creds["AU"].renewal_years) == ("RMT", 1)
    # what was not confirmed stays marked; the confirmed "AS" prefix is not (docs/references.md)
    assert "AS" not in creds["GB"].check and "confirm" in creds["GB"].check
    assert creds["GB"].number_example.startswith("AS")
    assert "credits" in creds["CA"].check
    for c in creds.values():
        assert c.register_url.startswith("https://")
        url, prefilled = c.register_link("AS12345")
        assert url.startswith("https://") and prefilled == bool(c.prefill_url)


def test_registration_numbers_are_checked() -> None:
    assert normalise_number("GB", " as 01234 ") == "AS01234"
    with pytest.raises(ParameterError) as e:
        normalise_number("GB", "12345")
    assert e.value.field == "registration_number" and "AS12345" in str(e.value)
    with pytest.raises(ParameterError) as e:
        credential_for("FR")
    assert e.value.field == "country" and "GB" in str(e.value)


# -- slots and daylight saving ----------------------------------------------------------
def test_london_spring_forward_skips_the_missing_hour() -> None:
    sunday = dt.date(2026, 3, 29)  # 01:00 GMT -> 02:00 BST
    rules = [WeeklyRule(6, 30, 150)]  # 00:30-02:30 local
    slots = day_slots(rules, [], "Europe/London", sunday)
    assert [s.strftime("%H:%M") for s in slots] == ["00:30", "00:45", "01:00", "01:15"]
    local = [s.astimezone(ZoneInfo("Europe/London")) for s in slots]
    assert [t.strftime("%H:%M %Z") for t in local] == [
        "00:30 GMT",
        "00:45 GMT",
        "02:00 BST",
        "02:15 BST",
    ]


def test_london_fall_back_offers_the_repeated_hour_once() -> None:
    sunday = dt.date(2026, 10, 25)  # 02:00 BST -> 01:00 GMT
    slots = day_slots([WeeklyRule(6, 60, 120)], [], "Europe/London", sunday)
    # 01:00-01:59 happens twice; slots are at its first occurrence (BST, 00:00Z..)
    assert [s.isoformat() for s in slots] == [
        "2026-10-25T00:00:00+00:00",
        "2026-10-25T00:15:00+00:00",
        "2026-10-25T00:30:00+00:00",
        "2026-10-25T00:45:00+00:00",
    ]


def test_weekly_hours_stay_local_across_the_london_change_for_a_new_york_listener() -> None:
    rules = [WeeklyRule(0, 9 * 60, 9 * 60 + 15)]  # Mondays 09:00 London
    start = dt.datetime(2026, 3, 20, tzinfo=UTC)
    slots = slots_between(rules, [], "Europe/London", start, start + dt.timedelta(days=14))
    assert [s.isoformat() for s in slots] == [
        "2026-03-23T09:00:00+00:00",  # GMT
        "2026-03-30T08:00:00+00:00",  # BST
    ]
    ny = group_by_local_day(slots, "America/New_York")
    # New York changed on 8 March, London on 29 March: 4 hours apart, then 5 again
    assert [(d.isoformat(), [loc.strftime("%H:%M %Z") for _, loc in s]) for d, s in ny] == [
        ("2026-03-23", ["05:00 EDT"]),
        ("2026-03-30", ["04:00 EDT"]),
    ]


def test_new_york_spring_forward_week_for_a_london_listener() -> None:
    rules = [WeeklyRule(0, 10 * 60, 10 * 60 + 15), WeeklyRule(6, 2 * 60, 3 * 60)]
    start = dt.datetime(2026, 3, 1, tzinfo=UTC)
    slots = slots_between(rules, [], "America/New_York", start, start + dt.timedelta(days=10))
    iso = [s.isoformat() for s in slots]
    assert "2026-03-02T15:00:00+00:00" in iso  # Monday 10:00 EST
    assert "2026-03-09T14:00:00+00:00" in iso  # Monday 10:00 EDT
    # Sunday 8 March 02:00-02:59 does not exist in New York: no slot that night
    assert not [s for s in slots if s.date() == dt.date(2026, 3, 8)]
    london = dict(group_by_local_day(slots, "Europe/London"))
    assert [loc.strftime("%H:%M") for _, loc in london[dt.date(2026, 3, 9)]] == ["14:00"]
    # a listener in Sydney sees the Monday slot on Tuesday, their own date
    sydney = dict(group_by_local_day(slots, "Australia/Sydney"))
    assert [loc.strftime("%a %H:%M") for _, loc in sydney[dt.date(2026, 3, 10)]] == ["Tue 01:00"]


def test_holidays_and_one_off_hours() -> None:
    rules = [WeeklyRule(d, 9 * 60, 10 * 60) for d in range(5)]
    exc = [
        Holiday(dt.date(2026, 12, 24), dt.date(2026, 12, 28), "winter"),
        Extra(dt.date(2026, 12, 27), 14 * 60, 14 * 60 + 30),
    ]
    start = dt.datetime(2026, 12, 21, tzinfo=UTC)
    slots = slots_between(rules, exc, "Europe/London", start, start + dt.timedelta(days=10))
    days = sorted({s.date() for s in slots})
    assert days == [
        dt.date(2026, 12, 21),
        dt.date(2026, 12, 22),
        dt.date(2026, 12, 23),
        dt.date(2026, 12, 27),
        dt.date(2026, 12, 29),
        dt.date(2026, 12, 30),
    ]
    assert [s.strftime("%H:%M") for s in slots if s.date() == dt.date(2026, 12, 27)] == [
        "14:00",
        "14:15",
    ]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: WeeklyRule(7, 0, 60), "weekday"),
        (lambda: WeeklyRule(0, 9 * 60, 9 * 60), "hours.end"),
        (lambda: WeeklyRule(0, 9 * 60 + 5, 10 * 60), "hours.start"),
        (lambda: WeeklyRule(0, 0, 1500), "hours.end"),
        (lambda: Holiday(dt.date(2026, 1, 2), dt.date(2026, 1, 1)), "end_date"),
    ],
)
def test_bad_hours_name_the_field(make: Any, field: str) -> None:
    with pytest.raises(ParameterError) as e:
        make()
    assert e.value.field == field


def test_unknown_time_zone_is_refused(svc: Therapists) -> None:
    with pytest.raises(ParameterError) as e:
        svc.create_profile(
            make_account(svc.repo.store, "tz@example.org"), {**PROFILE, "timezone": "Europe/Leeds"}
        )
    assert e.value.field == "timezone" and "Europe/London" in str(e.value)
    _, t = make_therapist(svc, "a@example.org")
    slot = svc.free_slots(t)[0]
    with pytest.raises(ParameterError) as e:
        svc.book(t.id, booking_form(start=slot.isoformat(), tz="Mars/Olympus_Mons"))
    assert e.value.field == "tz"


# -- profiles, verification, listing ----------------------------------------------------
def test_profile_takes_place_and_zone_from_the_gazetteer(svc: Therapists) -> None:
    _, t = make_therapist(svc, "a@example.org", verify=False)
    assert t.registration_number == "AS12345"
    assert t.timezone == "Europe/London"
    assert t.latitude == pytest.approx(53.8, abs=0.1)
    assert t.languages == ("English", "Welsh")
    with pytest.raises(ParameterError) as e:
        svc.clean_profile({**PROFILE, "city": "Nowhereville-on-Sea"})
    assert e.value.field == "city"
    with pytest.raises(ParameterError) as e:
        svc.clean_profile({**PROFILE, "in_person": False, "online": False})
    assert e.value.field == "online"
    with pytest.raises(ParameterError) as e:
        svc.clean_profile({**PROFILE, "approaches": ["hypnosis"]})
    assert e.value.field == "approaches[0]"


def test_only_verified_profiles_are_listed_until_the_renewal_runs_out(
    svc: Therapists, clock: Clock
) -> None:
    _, unverified = make_therapist(svc, "u@example.org", verify=False)
    _, uk = make_therapist(svc, "uk@example.org")
    _, us = make_therapist(
        svc,
        "us@example.org",
        country="US",
        registration_number="12345",
        city="Boston",
        region="MA",
        timezone="America/New_York",
    )
    listed = {h.therapist.id for h in svc.search(SearchQuery()).hits}
    assert listed == {uk.id, us.id}
    with pytest.raises(NotFound):
        svc.public_profile(unverified.id)
    assert svc.status(uk) == "verified"
    assert uk.verified_by == "admin@example.org" and uk.verification_note == "on the register"
    assert uk.verified_until == T0.replace(year=2028)  # HCPC: every 2 years
    assert us.verified_until == T0.replace(year=2031)  # MT-BC: every 5 years

    clock.advance(days=2 * 365 + 1)
    uk_now = svc.repo.profile(uk.id)
    assert svc.status(uk_now) == "recheck_due"
    assert {h.therapist.id for h in svc.search(SearchQuery()).hits} == {us.id}
    with pytest.raises(NotFound):
        svc.public_profile(uk.id)
    queue = svc.queue()
    assert queue[0][0].id == uk.id and queue[0][1] == "recheck_due"
    # every decision is kept
    assert [h.decision for h in svc.history(uk.id)] == ["verified"]


def test_verification_rules(svc: Therapists, clock: Clock) -> None:
    user, t = make_therapist(svc, "t@example.org")
    admin = svc.repo.user_by_email("admin@example.org")
    with pytest.raises(ParameterError) as e:
        svc.verify(
            admin, t.id, {"decision": "verified", "note": "seen", "valid_until": "2031-01-01"}
        )
    assert e.value.field == "valid_until" and "2028" in str(e.value)
    with pytest.raises(ParameterError) as e:
        svc.verify(admin, t.id, {"decision": "maybe", "note": "seen"})
    assert e.value.field == "decision"
    with pytest.raises(ParameterError) as e:
        svc.verify(
            admin, t.id, {"decision": "verified", "note": "seen", "registration_number": "AS99999"}
        )
    assert e.value.field == "registration_number"
    # a non-admin cannot verify, and learns nothing
    with pytest.raises(NotFound):
        svc.verify(user, t.id, {"decision": "verified", "note": "mine"})
    # an admin cannot verify their own profile
    svc.repo.set_admin(user.id)
    with pytest.raises(ParameterError) as e:
        svc.verify(svc.repo.store.get_user(user.id), t.id, {"decision": "verified", "note": "mine"})
    assert e.value.field == "therapist"
    # a new registration number voids the verification
    t2 = svc.update_profile(user, {**PROFILE, "registration_number": "AS54321"})
    assert svc.status(t2) == "unverified" and t2.verified_by is None
    with pytest.raises(NotFound):
        svc.public_profile(t.id)


def test_search_filters_and_sorts(svc: Therapists) -> None:
    _, leeds = make_therapist(svc, "l@example.org", rules=((0, 10 * 60, 11 * 60),))
    _, manc = make_therapist(
        svc,
        "m@example.org",
        city="Manchester",
        region="Greater Manchester",
        languages="English, Urdu",
        populations=["children"],
        approaches=["improvisation"],
        in_person=True,
        online=False,
        rules=((0, 9 * 60, 10 * 60),),
    )
    _, boston = make_therapist(
        svc,
        "b@example.org",
        country="US",
        registration_number="55555",
        city="Boston",
        region="Massachusetts",
        timezone="America/New_York",
        rules=((0, 9 * 60, 10 * 60),),
    )
    near_york = svc.search(svc.parse_query({"near": "York", "sort": "distance"}))
    assert near_york.place is not None and near_york.place.country == "GB"
    ids = [h.therapist.id for h in near_york.hits]
    assert ids == [leeds.id, manc.id, boston.id]
    assert near_york.hits[0].distance_km == pytest.approx(35, abs=10)
    within = svc.search(svc.parse_query({"near": "Leeds, GB", "radius_km": "50"}))
    assert [h.therapist.id for h in within.hits] == [leeds.id]
    # soonest: Manchester's 09:00 London is before Leeds' 10:00; Boston's 09:00 EDT later
    soonest = svc.search(svc.parse_query({"sort": "soonest"}))
    assert [h.therapist.id for h in soonest.hits] == [manc.id, leeds.id, boston.id]
    online = svc.search(svc.parse_query({"online_only": "on"}))
    assert {h.therapist.id for h in online.hits} == {leeds.id, boston.id}
    assert [h.therapist.id for h in svc.search(svc.parse_query({"language": "urdu"})).hits] == [
        manc.id
    ]
    assert [
        h.therapist.id for h in svc.search(svc.parse_query({"population": "children"})).hits
    ] == [manc.id]
    assert [
        h.therapist.id for h in svc.search(svc.parse_query({"approach": "improvisation"})).hits
    ] == [manc.id]
    assert [h.therapist.id for h in svc.search(svc.parse_query({"country": "US"})).hits] == [
        boston.id
    ]
    assert [h.therapist.id for h in svc.search(svc.parse_query({"region": "greater"})).hits] == [
        manc.id
    ]
    assert [h.therapist.id for h in svc.search(svc.parse_query({"city": "leeds"})).hits] == [
        leeds.id
    ]
    for bad, field in (
        ({"near": "Xyzzyville"}, "near"),
        ({"sort": "distance"}, "near"),
        ({"radius_km": "0"}, "radius_km"),
        ({"population": "cats"}, "population"),
        ({"country": "FR"}, "country"),
    ):
        with pytest.raises(ParameterError) as e:
            svc.search(svc.parse_query(bad))
        assert e.value.field == field, bad


def test_gazetteer_knows_places_offline() -> None:
    assert find_place("Portland, US").timezone == "America/Los_Angeles"
    assert find_place("Perth", country="AU").country == "AU"
    assert find_place("saint etienne").country == "FR"
    with pytest.raises(ParameterError) as e:
        find_place("Xyzzyville")
    assert e.value.field == "near"


# -- booking ----------------------------------------------------------------------------
def test_book_validates_every_field(svc: Therapists) -> None:
    _, t = make_therapist(svc, "a@example.org")
    slot = svc.free_slots(t)[0]
    assert slot == dt.datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # Monday 09:00 GMT
    cases = [
        (booking_form(start=slot.isoformat(), email="sam@"), "email"),
        (booking_form(start=slot.isoformat(), name=""), "name"),
        (booking_form(start=slot.isoformat(), reason="x" * 1001), "reason"),
        (booking_form(start="tomorrow at nine"), "start"),
        (booking_form(start="2026-03-16T09:00:00"), "start"),  # no offset
        (booking_form(start="2026-03-09T09:00:00Z"), "start"),  # in the past
        (booking_form(start="2026-03-16T07:00:00Z"), "start"),  # within the notice period
        (booking_form(start="2026-03-16T09:05:00Z"), "start"),  # not a slot
        (booking_form(start="2026-03-17T09:00:00Z"), "start"),  # Tuesday: no hours
        (booking_form(start="2026-05-04T08:00:00Z"), "start"),  # past the horizon
    ]
    for body, field in cases:
        with pytest.raises(ParameterError) as e:
            svc.book(t.id, body)
        assert e.value.field == field, (body, str(e.value))
    with pytest.raises(ParameterError, match="passed"):
        svc.book(t.id, booking_form(start="2026-03-09T09:00:00Z"))
    assert svc.repo.outbox(unsent_only=True) == []  # nothing half-written
    rec, token = svc.book(t.id, booking_form(start="2026-03-16T10:00:00+01:00"))
    assert rec.starts_at == slot and len(token) >= 40


def test_race_for_one_slot_has_exactly_one_winner(
    store: Store, settings: Settings, clock: Clock
) -> None:
    svc = make_service(store, settings, clock)
    _, t = make_therapist(svc, "race@example.org")
    slot = svc.free_slots(t)[0]
    n = 24
    barrier = threading.Barrier(n)
    wins: list[str] = []
    taken: list[SlotUnavailable] = []
    errors: list[BaseException] = []

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            rec, _ = svc.book(t.id, booking_form(start=slot.isoformat(), email=f"p{i}@example.org"))
            wins.append(rec.email)
        except SlotUnavailable as exc:
            taken.append(exc)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert errors == []
    assert len(wins) == 1 and len(taken) == n - 1
    for exc in taken:
        assert "just taken" in str(exc) and exc.field == "start"
        assert exc.next_slots and slot not in exc.next_slots
        assert exc.next_slots[0] == slot + dt.timedelta(minutes=15)
    # one booking, and the winner's two emails only
    assert len(svc.repo.upcoming(t.id, clock())) == 1
    assert {m.to_addr for m in svc.repo.outbox()} == {wins[0], "race@example.org"}
    from sonora.therapists.models import Booking

    with pytest.raises(sa.exc.IntegrityError):  # the database itself refuses a second row
        with store.transaction() as s:
            s.add(
                Booking(
                    id="x" * 32,
                    therapist_id=t.id,
                    slot_start=slot,
                    starts_at=slot,
                    ends_at=slot,
                    status="booked",
                    name="n",
                    email="e",
                    reason="",
                    listener_tz="UTC",
                    token_hash="h" * 64,
                    sequence=0,
                    created_at=slot,
                    updated_at=slot,
                )
            )


def test_cancel_and_reschedule_through_the_link(svc: Therapists, clock: Clock) -> None:
    _, t = make_therapist(svc, "a@example.org")
    first, second, third = svc.free_slots(t, limit=3)
    _, token = svc.book(t.id, booking_form(start=first.isoformat()))
    other, _ = svc.book(t.id, booking_form(start=third.isoformat(), email="x@example.org"))
    # moving onto a taken slot keeps the old one
    with pytest.raises(SlotUnavailable):
        svc.reschedule(token, {"start": third.isoformat()})
    assert svc.booking(token)[0].starts_at == first
    moved = svc.reschedule(token, {"start": second.isoformat()})
    assert moved.starts_at == second and moved.sequence == 1
    assert first in svc.free_slots(t)  # the old slot is free again
    cancelled = svc.cancel(token)
    assert cancelled.status == "cancelled" and second in svc.free_slots(t)
    with pytest.raises(ParameterError) as e:
        svc.reschedule(token, {"start": first.isoformat()})
    assert e.value.field == "status"
    again, _ = svc.book(t.id, booking_form(start=second.isoformat(), email="y@example.org"))
    assert again.starts_at == second
    kinds = [m.kind for m in svc.repo.outbox()]
    assert kinds.count("moved_listener") == 1 and kinds.count("cancelled_therapist") == 1
    with pytest.raises(NotFound):
        svc.booking("not-a-token")
    assert other.status == "booked"


def test_a_therapist_sees_only_their_own_bookings(svc: Therapists) -> None:
    ua, a = make_therapist(svc, "a@example.org")
    ub, b = make_therapist(svc, "b@example.org")
    svc.book(a.id, booking_form(start=svc.free_slots(a)[0].isoformat(), name="For A"))
    svc.book(b.id, booking_form(start=svc.free_slots(b)[0].isoformat(), name="For B"))
    assert [x.name for x in svc.dashboard(ua)[1]] == ["For A"]
    assert [x.name for x in svc.dashboard(ub)[1]] == ["For B"]
    listener = make_account(svc.repo.store, "l@example.org")
    with pytest.raises(NotFound):
        svc.dashboard(listener)
    # nobody deletes another therapist's hours
    rule_of_a = svc.availability(a)[0][0]
    with pytest.raises(NotFound):
        svc.delete_availability(ub, rule_of_a.id)
    assert svc.availability(a)[0] == [rule_of_a]
