"""Email for consult bookings: messages with an .ics invite, senders, and the outbox loop.

Messages are composed when a booking changes and stored, whole, in the ``outbox`` table
in the same transaction as the change; a sender delivers them later.  If the mail
server is down nothing is lost: a failed message is tried again with exponential
backoff (30 s, 1 min, 2 min … at most 1 hour apart) until it goes.

Senders
-------
:class:`FileSender`
    Development: each message becomes ``<outbox dir>/<id>.eml`` (written to a
    temporary name, then renamed).  Re-sending the same message overwrites the same file.
:class:`SmtpSender`
    Production: SMTP with STARTTLS (port 587), implicit TLS (465) or plain (25, local
    relays), optional login.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from icalendar import Calendar, Event, vCalAddress, vText

from sonora.store.base import utcnow
from sonora.therapists.repo import OutboxRecord, TherapistRepo

__all__ = [
    "FileSender",
    "Sender",
    "SmtpSender",
    "address",
    "backoff_s",
    "compose",
    "deliver_due",
    "invite",
]

log = logging.getLogger("sonora.mail")

#: First retry after this many seconds; doubles per failure up to :data:`BACKOFF_MAX_S`.
BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 3600.0


def backoff_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure (30, 60, 120 … ≤ 3600).

    >>> [backoff_s(n) for n in (1, 2, 3, 10)]
    [30.0, 60.0, 120.0, 3600.0]
    """
    return float(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


def invite(
    *,
    uid: str,
    start: dt.datetime,
    end: dt.datetime,
    summary: str,
    description: str,
    organizer_email: str,
    organizer_name: str,
    attendee_email: str,
    attendee_name: str,
    sequence: int,
    cancelled: bool = False,
    url: str = "",
    location: str = "",
    published: bool = False,
) -> bytes:
    """An iCalendar (RFC 5545) invite for one consult, times in UTC.

    Parameters
    ----------
    published : bool, default False
        A calendar file the listener downloads and imports (RFC 5546 ``PUBLISH``: the
        event is posted, no reply is expected, so no ``ATTENDEE``; a cancelled consult
        is ``STATUS:CANCELLED``) instead of an emailed scheduling message (RFC 5546
        ``REQUEST``, or ``CANCEL`` once cancelled, to the attendee; iMIP, RFC 6047).

    Returns
    -------
    bytes
        ``METHOD:REQUEST`` (or ``CANCEL``), or ``METHOD:PUBLISH`` when ``published``,
        calendar with one ``VEVENT``.
    """
    cal = Calendar()
    cal.add("prodid", "-//Sonora//free consult//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH" if published else "CANCEL" if cancelled else "REQUEST")
    ev = Event()
    ev.add("uid", uid)
    ev.add("dtstamp", utcnow())
    ev.add("dtstart", start.astimezone(dt.UTC))
    ev.add("dtend", end.astimezone(dt.UTC))
    ev.add("summary", summary)
    ev.add("description", description)
    ev.add("sequence", sequence)
    ev.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if url:
        ev.add("url", url)
    if location:  # how the consult happens: a video link, a phone call or a place
        ev.add("location", location)
    org = vCalAddress(f"mailto:{organizer_email}")
    org.params["cn"] = vText(organizer_name)
    ev.add("organizer", org)
    if published:  # RFC 5546 3.2.1: a PUBLISH has no ATTENDEE
        cal.add_component(ev)
        return cal.to_ical()
    att = vCalAddress(f"mailto:{attendee_email}")
    att.params["cn"] = vText(attendee_name)
    att.params["role"] = vText("REQ-PARTICIPANT")
    ev.add("attendee", att)
    cal.add_component(ev)
    return cal.to_ical()


#: SMTP line endings; headers folded only beyond RFC 5322's 998-character limit.
#: (Python 3.11's folding at 78 drops the quotes around a long display name that holds
#: a double quote and a comma, turning one address into two; names are at most 120
#: characters, so an address header never needs folding.)
HEADER_POLICY = SMTP.clone(max_line_length=998)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def address(name: str, addr: str) -> Address:
    r"""A header address built by :mod:`email.headerregistry` (quoting done for us).

    Control characters (CR, LF...) in the display name become spaces, so a name can
    never start a new header.

    >>> print(address('Sam "The Boss" Lee, Jr.', "sam@example.org"))
    "Sam \"The Boss\" Lee, Jr." <sam@example.org>
    """
    return Address(display_name=_CONTROL.sub(" ", name or "").strip(), addr_spec=addr)


def compose(
    *,
    sender: str,
    to_addr: str,
    to_name: str,
    subject: str,
    text: str,
    ics: bytes | None = None,
    cancelled: bool = False,
) -> str:
    """A whole email (plain text, optional ``invite.ics``) as RFC 5322 text."""
    msg = EmailMessage(policy=HEADER_POLICY)
    msg["From"] = address(*parseaddr(sender))
    msg["To"] = address(to_name, to_addr)
    msg["Subject"] = subject
    msg["Date"] = utcnow().strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg["Message-ID"] = make_msgid(domain="sonora.invalid")
    msg.set_content(text)
    if ics is not None:
        method = "CANCEL" if cancelled else "REQUEST"
        msg.add_attachment(
            ics,
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": method},
        )
    return msg.as_string()


class Sender(Protocol):
    """Something that delivers one stored message (raises on failure)."""

    def send(self, record: OutboxRecord) -> None:
        """Deliver ``record`` or raise."""


@dataclass
class FileSender:
    """Write each message to ``folder / "<id>.eml"`` (development)."""

    folder: Path

    def send(self, record: OutboxRecord) -> None:
        """Write the message atomically (temporary name, then rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{record.id}.eml"
        tmp = path.with_suffix(".eml.tmp")
        tmp.write_text(record.message, encoding="utf-8")
        os.replace(tmp, path)


@dataclass
class SmtpSender:
    """Send through an SMTP server (production)."""

    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    security: str = "starttls"
    timeout_s: float = 20.0

    def send(self, record: OutboxRecord) -> None:
        """Send one message; raises :class:`smtplib.SMTPException` or :class:`OSError`."""
        ctx = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=ctx)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=ctx)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.sendmail(
                _from_of(record.message), [record.to_addr], record.message.encode("utf-8")
            )


def _from_of(message: str) -> str:
    from email import message_from_string
    from email.utils import parseaddr

    return parseaddr(message_from_string(message).get("From", ""))[1]


@dataclass
class DeliveryReport:
    """What one pass over the outbox did."""

    sent: int = 0
    failed: int = 0
    errors: list[str] | None = None


def deliver_due(
    repo: TherapistRepo,
    sender: Sender,
    *,
    now: Callable[[], dt.datetime] = utcnow,
    limit: int = 50,
) -> DeliveryReport:
    """Send every message that is due; failures are rescheduled with backoff.

    Parameters
    ----------
    repo : TherapistRepo
    sender : Sender
    now : callable
        Clock (tests move it forward).
    limit : int
        Most messages in one pass.
    """
    report = DeliveryReport(errors=[])
    for rec in repo.claim_due(now(), limit=limit):
        try:
            sender.send(rec)
        except Exception as exc:  # any failure: keep the message, try again later
            attempts = rec.attempts + 1
            retry = now() + dt.timedelta(seconds=backoff_s(attempts))
            repo.mark_failed(rec.id, f"{type(exc).__name__}: {exc}", retry)
            report.failed += 1
            assert report.errors is not None
            report.errors.append(f"{rec.to_addr}: {type(exc).__name__}: {exc}")
            log.warning("email to %s failed (attempt %d): %s", rec.to_addr, attempts, exc)
        else:
            repo.mark_sent(rec.id, now())
            report.sent += 1
    return report


class BackgroundSender:
    """A daemon thread that empties the outbox every ``interval_s`` (and when woken)."""

    def __init__(self, repo: TherapistRepo, sender: Sender, interval_s: float) -> None:
        self.repo, self.sender, self.interval_s = repo, sender, interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sonora-outbox", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Send what is due now instead of at the next tick."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current pass."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deliver_due(self.repo, self.sender)
            except Exception as exc:  # the database may be briefly away: try next tick
                log.error("outbox pass failed: %s", exc)
            self._wake.wait(self.interval_s)
            self._wake.clear()


def sender_name(display: str, address: str) -> str:
    """``"Sonora <sonora@example.org>"``."""
    return formataddr((display, address))
