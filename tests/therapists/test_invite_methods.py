"""The iCalendar method of each consult invite (RFC 5546): the emailed invite schedules
(``REQUEST``, then ``CANCEL``); the file a listener downloads to import is published
(``PUBLISH``, no ``ATTENDEE``; a cancelled consult says ``STATUS:CANCELLED``)."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from sonora.therapists.mail import invite

START = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC)


def _cal(**over: object) -> Calendar:
    args: dict[str, object] = {
        "uid": "b1@sonora",
        "start": START,
        "end": START + dt.timedelta(minutes=15),
        "summary": "Free 15-minute consult with A",
        "description": "How: a phone call",
        "organizer_email": "a@example.org",
        "organizer_name": "A",
        "attendee_email": "sam@example.org",
        "attendee_name": "Sam",
        "sequence": 0,
    }
    return Calendar.from_ical(invite(**{**args, **over}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("published", "cancelled", "method", "status", "attendee"),
    [
        (False, False, "REQUEST", "CONFIRMED", True),
        (False, True, "CANCEL", "CANCELLED", True),
        (True, False, "PUBLISH", "CONFIRMED", False),
        (True, True, "PUBLISH", "CANCELLED", False),
    ],
)
def test_invite_method(
    published: bool, cancelled: bool, method: str, status: str, attendee: bool
) -> None:
    cal = _cal(published=published, cancelled=cancelled)
    ev = cal.walk("VEVENT")[0]
    assert str(cal["method"]) == method
    assert str(ev["status"]) == status
    assert ("ATTENDEE" in ev) is attendee
    assert str(ev["organizer"]) == "mailto:a@example.org"
    assert ev.decoded("dtstart") == START
