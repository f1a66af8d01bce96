"""The therapists' outbox and emails, below the web layer: the outbox survives failing
senders (a sender that raises, a real SMTP server that is down and then up, the file
backend); verified and re-check emails go out once; deleting a therapist cancels their
consults and tells the listeners in one transaction.
"""

from __future__ import annotations

import datetime as dt
import email
import threading
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from therapistkit import UTC, Clock, booking_form, make_account, make_service, make_therapist

from sonora.core.database import Database as Store
from sonora.errors import ParameterError
from sonora.settings import Settings
from sonora.store import NotFound
from sonora.therapists.mail import FileSender, SmtpSender, backoff_s
from sonora.therapists.repo import OutboxRecord
from sonora.therapists.service import SearchQuery, Therapists


# -- outbox -----------------------------------------------------------------------------
class FlakySender:
    """Fails ``failures`` times, then writes real .eml files."""

    def __init__(self, folder: Path, failures: int) -> None:
        self.inner = FileSender(folder)
        self.failures = failures
        self.calls = 0

    def send(self, record: OutboxRecord) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionRefusedError("mail server is down")
        self.inner.send(record)


def _text_of(msg: Any) -> str:
    return "".join(
        p.get_payload(decode=True).decode()
        for p in msg.walk()
        if p.get_content_type() == "text/plain"
    )


def test_outbox_survives_a_failing_sender(svc: Therapists, clock: Clock, tmp_path: Path) -> None:
    _, t = make_therapist(svc, "a@example.org", rules=((0, 9 * 60, 10 * 60),))
    svc.book(t.id, booking_form(start="2026-03-16T09:00:00Z", reason="trouble sleeping"))
    sender = FlakySender(tmp_path / "eml", failures=3)
    r1 = svc.deliver(sender)
    assert (r1.sent, r1.failed) == (0, 2)  # the server is down: both kept
    waiting = svc.repo.outbox(unsent_only=True)
    assert len(waiting) == 2 and all(m.attempts == 1 for m in waiting)
    assert all(m.next_attempt_at == clock() + dt.timedelta(seconds=30) for m in waiting)
    assert "mail server is down" in (waiting[0].last_error or "")
    assert svc.deliver(sender).sent == 0 and sender.calls == 2  # not due yet: not tried
    clock.advance(seconds=31)
    r2 = svc.deliver(sender)
    assert (r2.sent, r2.failed) == (1, 1)
    left = svc.repo.outbox(unsent_only=True)
    assert len(left) == 1 and left[0].attempts == 2
    assert left[0].next_attempt_at == clock() + dt.timedelta(seconds=60)  # backoff doubles
    clock.advance(seconds=61)
    assert svc.deliver(sender).sent == 1
    assert svc.repo.outbox(unsent_only=True) == []
    assert svc.repo.outbox_counts() == {"sent": 3, "waiting": 0, "failing": 0}  # + verified
    files = sorted((tmp_path / "eml").glob("*.eml"))
    assert len(files) == 2
    msgs = [email.message_from_bytes(f.read_bytes()) for f in files]
    listener = next(m for m in msgs if "sam@example.org" in m["To"])
    therapist = next(m for m in msgs if "a@example.org" in m["To"])
    assert "trouble sleeping" in _text_of(therapist)
    assert "trouble sleeping" not in _text_of(listener)
    body = _text_of(listener)
    assert "https://sonora.example.org/bookings/" in body and "GMT" in body
    ics = next(p for p in listener.walk() if p.get_content_type() == "text/calendar")
    cal = Calendar.from_ical(ics.get_payload(decode=True))
    ev = cal.walk("VEVENT")[0]
    assert ev.decoded("dtstart") == dt.datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    assert ev.decoded("dtend") - ev.decoded("dtstart") == dt.timedelta(minutes=15)
    assert str(cal["method"]) == "REQUEST" and str(ev["status"]) == "CONFIRMED"
    assert [backoff_s(n) for n in (1, 2, 3, 8, 20)] == [30.0, 60.0, 120.0, 3600.0, 3600.0]


def test_outbox_waits_for_a_real_smtp_server(svc: Therapists, clock: Clock) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    from sonora.web.testing import free_port

    received: list[Any] = []

    class Keep(Message):
        def handle_message(self, message: Any) -> None:
            received.append(message)

    port = free_port()
    sender = SmtpSender(host="127.0.0.1", port=port, security="none", timeout_s=5)
    _, t = make_therapist(svc, "a@example.org", rules=((0, 9 * 60, 10 * 60),))
    _, token = svc.book(t.id, booking_form(start="2026-03-16T09:00:00Z"))
    svc.cancel(token)
    report = svc.deliver(sender)  # nothing listens on the port yet
    assert report.failed == 4 and report.sent == 0
    assert svc.repo.outbox_counts() == {"sent": 1, "waiting": 4, "failing": 4}  # 1: verified
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.advance(seconds=31)
        assert svc.deliver(sender).sent == 4
    finally:
        controller.stop()
    assert len(received) == 4
    subjects = sorted(str(m["Subject"]) for m in received)
    assert (
        sum("cancelled" in s for s in subjects) == 2 and sum("booked" in s for s in subjects) == 2
    )
    cancel = next(
        m for m in received if "cancelled" in str(m["Subject"]) and "sam@" in str(m["To"])
    )
    ics = next(p for p in cancel.walk() if p.get_content_type() == "text/calendar")
    cal = Calendar.from_ical(ics.get_payload(decode=True))
    assert str(cal["method"]) == "CANCEL"
    assert int(cal.walk("VEVENT")[0]["sequence"]) == 1


# -- emails to therapists: verified, re-check due --------------------------------------
def test_verified_email_and_one_recheck_reminder_per_expiry(
    svc: Therapists, clock: Clock, settings: Settings
) -> None:
    _, t = make_therapist(svc, "a@example.org")  # the helper checks and sends the verified email
    (eml,) = settings.outbox_folder.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes())
    assert "verified" in msg["Subject"] and "a@example.org" in msg["To"]
    assert "until 2028-03-16" in _text_of(msg) and "AS12345" in _text_of(msg)
    make_therapist(svc, "u@example.org", verify=False)  # unverified: nothing to remind
    assert svc.remind() == []  # two years ahead
    clock.advance(days=2 * 365 - 31)
    assert svc.remind() == []  # 31 days ahead
    clock.advance(days=2)
    assert [x.id for x in svc.remind()] == [t.id]  # 29 days ahead
    assert svc.remind() == [] and svc.remind(days_ahead=366) == []  # once per expiry
    clock.advance(days=60)
    assert svc.remind() == []  # ran out: still the same expiry, no second email
    (m,) = [m for m in svc.repo.outbox() if m.kind == "recheck_therapist"]
    assert m.to_addr == "a@example.org" and "2028-03-16" in m.subject
    assert "runs out on 2028-03-16" in _text_of(email.message_from_string(m.message))
    # a new verification is a new expiry: reminded again when it comes near
    admin = svc.repo.user_by_email("admin@example.org")
    svc.verify(admin, t.id, {"decision": "verified", "note": "renewed on the register"})
    assert svc.remind() == []
    clock.advance(days=2 * 365 - 10)
    assert [x.id for x in svc.remind()] == [t.id]
    assert [m.kind for m in svc.repo.outbox()].count("recheck_therapist") == 2
    with pytest.raises(ParameterError) as e:
        svc.remind(days_ahead=400)
    assert e.value.field == "days"


def test_parallel_remind_runs_send_one_email(svc: Therapists, clock: Clock) -> None:
    make_therapist(svc, "a@example.org")
    clock.advance(days=2 * 365 - 5)
    barrier = threading.Barrier(8)
    won: list[int] = []

    def run() -> None:
        barrier.wait()
        won.append(len(svc.remind()))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(won) == [0] * 7 + [1]
    assert [m.kind for m in svc.repo.outbox()].count("recheck_therapist") == 1


def test_demo_profiles_are_queued_unverified_and_verify_as_lists_them(svc: Therapists) -> None:
    from sonora.therapists.demo import DEMO_NOTE, seed_demo, verify_demo

    made = seed_demo(svc)
    assert svc.search(SearchQuery()).hits == []
    queue = svc.queue()
    assert [t.is_demo for t, _ in queue] == [True] * 5
    assert {status for _, status in queue} == {"unverified"}
    with pytest.raises(ParameterError) as e:
        verify_demo(svc, "nobody@example.org")
    assert e.value.field == "verify_as"
    make_account(svc.repo.store, "admin@example.org", admin=True)
    assert len(verify_demo(svc, "admin@example.org")) == 5
    assert {h.therapist.id for h in svc.search(SearchQuery()).hits} == {t.id for t in made}
    assert all(svc.history(t.id)[0].note == DEMO_NOTE for t in made)
    assert verify_demo(svc, "admin@example.org") == []  # already verified
    assert svc.repo.outbox() == []  # demo addresses are never emailed
    # a real person's profile is checked before demo data
    _, real = make_therapist(svc, "r@example.org", verify=False)
    assert svc.queue()[0][0].id == real.id


# -- deleting a therapist ---------------------------------------------------------------
def test_deleting_a_therapist_cancels_and_tells_listeners_in_one_transaction(
    store: Store, settings: Settings, clock: Clock
) -> None:
    svc = make_service(store, settings, clock)
    user, t = make_therapist(svc, "a@example.org")
    s1, s2 = svc.free_slots(t, limit=2)
    svc.book(t.id, booking_form(start=s1.isoformat(), email="one@example.org"))
    svc.book(t.id, booking_form(start=s2.isoformat(), email="two@example.org"))
    before = svc.repo.outbox()

    def broken(*_: Any) -> list[Any]:
        raise RuntimeError("mail could not be composed")

    # a failure half-way leaves everything as it was: nothing cancelled, queued or deleted
    with pytest.raises(RuntimeError):
        svc.repo.delete_account(user.id, broken)
    assert svc.repo.outbox() == before
    assert len(svc.dashboard(user)[1]) == 2 and svc.public_profile(t.id).id == t.id

    counts = svc.delete_account(user)
    assert counts["cancelled_consults"] == 2 and counts["bookings"] == 2
    assert counts["therapist_profiles"] == 1 and counts["users"] == 1
    mails = svc.repo.outbox()
    assert sorted((m.kind, m.to_addr) for m in mails) == [
        ("cancelled_listener", "one@example.org"),
        ("cancelled_listener", "two@example.org"),
    ]
    for m in mails:
        msg = email.message_from_string(m.message)
        ics = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        cal = Calendar.from_ical(ics.get_payload(decode=True))
        assert str(cal["method"]) == "CANCEL" and int(cal.walk("VEVENT")[0]["sequence"]) == 1
    with pytest.raises(NotFound):
        svc.public_profile(t.id)
    assert svc.repo.profiles() == [] and store.count_rows(user.id)["users"] == 0
