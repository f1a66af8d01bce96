"""Emails about bookings and verification, and their delivery through the outbox."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any

import jinja2

from sonora.settings import Settings
from sonora.therapists import mail as mailer
from sonora.therapists.availability import (
    check_timezone,
)
from sonora.therapists.credentials import (
    credential_for,
)
from sonora.therapists.fields import consult_how
from sonora.therapists.invites import consult_invite
from sonora.therapists.repo import (
    BookingRecord,
    Mail,
    TherapistRecord,
    TherapistRepo,
)

__all__ = ["Notifications"]

log = logging.getLogger("sonora.therapists")


def _deliverable(address: str | None) -> bool:
    """Whether to email ``address`` (demo accounts use undeliverable ``.invalid`` ones)."""
    return bool(address) and not str(address).endswith(".invalid")


def _when(start: dt.datetime, end: dt.datetime, tz: Any, tz_name: str) -> str:
    a, b = start.astimezone(tz), end.astimezone(tz)
    return f"{a:%A %d %B %Y, %H:%M}–{b:%H:%M} {a.tzname()} ({tz_name})"


@functools.cache
def _mail_templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sonora.therapists", "templates/mail"),
        autoescape=False,  # plain-text email, never HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )


def render_mail(name: str, **context: Any) -> str:
    """The text of an email from its template in ``sonora/therapists/templates/mail``."""
    return _mail_templates().get_template(name).render(**context)


class Notifications:
    """Email part of :class:`~sonora.therapists.service.Therapists`."""

    repo: TherapistRepo
    settings: Settings
    clock: Callable[[], dt.datetime]
    background: mailer.BackgroundSender | None
    on_mail: Callable[[], None] | None

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
        tz_l = check_timezone(b.listener_tz, "tz")
        tz_t = check_timezone(t.timezone, "timezone")
        when_t = _when(b.starts_at, b.ends_at, tz_t, t.timezone)
        link = self.link(token) if token else ""
        cancelled = what == "cancelled"
        base = self.settings.base_url
        verb = {"booked": "booked", "cancelled": "cancelled", "moved": "moved"}[what]
        level = (b.care or {}).get("level")
        common = {"t": t, "b": b, "why": why, "verb": verb, "base": base, "cancelled": cancelled}
        common["how"] = consult_how(t)  # a video link, a phone call or a place
        to_listener = render_mail(
            "booking_listener.txt",
            **common,
            who=self._who(t),
            note=note,
            rebook=(f"{base}/therapists/{t.id}" if t.status(self.clock()) == "verified" else "")
            or f"{base}/therapists",
            when=_when(b.starts_at, b.ends_at, tz_l, b.listener_tz),
            link=link,
        )
        to_therapist = render_mail(
            "booking_therapist.txt",
            **common,
            when=when_t,
            flag=level if level in ("crisis", "clinical") and not cancelled else "",
        )
        listener_ics = consult_invite(b, t, audience="listener", link=link, cancelled=cancelled)
        therapist_ics = consult_invite(b, t, audience="therapist", cancelled=cancelled)
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
        return [self._mail(kind, t.email, t.display_name, subject, text)]

    def _verified_mails(self, t: TherapistRecord) -> list[Mail]:
        """ "Your credential is verified" (queued with the admin's decision)."""
        cred = credential_for(t.country)
        until = t.verified_until.date().isoformat() if t.verified_until else "?"
        text = render_mail(
            "verified_therapist.txt", t=t, cred=cred, until=until, base=self.settings.base_url
        )
        return self._therapist_mail(
            t, "verified_therapist", f"Your {cred.short} credential is verified on Sonora", text
        )

    def _recheck_mails(self, t: TherapistRecord) -> list[Mail]:
        """ "Your verification runs out on …" (the re-check reminder)."""
        cred = credential_for(t.country)
        until = t.verified_until.date().isoformat() if t.verified_until else "?"
        past = t.verified_until is not None and t.verified_until <= self.clock()
        text = render_mail(
            "recheck_therapist.txt",
            t=t,
            cred=cred,
            until=until,
            past=past,
            base=self.settings.base_url,
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
        elif self.on_mail is not None:
            self.on_mail()
