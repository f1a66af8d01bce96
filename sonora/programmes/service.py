"""Consent, programmes and progress, as one object the web app and CLI share.

Who sees what
-------------
* A listener shares with one therapist only: one they have a confirmed consult with
  (booked while signed in).  They choose the scope — check-in/out numbers, session
  history, notes (off unless ticked) — see it, and revoke it at once.
* Sharing is *active* while it is not revoked and the therapist's verification has not
  run out; it ends with the therapist's verification, and with either account.
* Every therapist action takes the signed-in user and works on *that user's* verified
  profile; anything else — another therapist's client, a revoked or lapsed share, a
  programme not theirs — is :class:`~sonora.store.errors.NotFound`, exactly like
  something that does not exist.
* Every look by a therapist at what a listener shares is written to the access log
  the listener reads, with what was looked at and the scope at that moment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sonora.accounts.repo import UserRecord
from sonora.errors import ParameterError
from sonora.listening.repo import HistoryEntry
from sonora.programmes.privacy import ProgrammesAccountPart
from sonora.programmes.progress import Progress, progress
from sonora.programmes.repo import (
    SCOPES,
    LogRecord,
    ProgrammeRecord,
    ProgrammeStore,
    ShareRecord,
    SqlProgrammeRepo,
    TherapistInfo,
)
from sonora.programmes.spec import clean_programme
from sonora.store.base import utcnow
from sonora.store.database import SqlDatabase
from sonora.store.errors import NotFound

__all__ = ["Programmes", "Viewer"]

#: Who is looking at a programme.
Viewer = str  # "listener" or "therapist"


class Programmes:
    """Therapist-guided programmes.

    Parameters
    ----------
    store : SqlDatabase
        The migrated database.
    history : callable
        ``history(listener_id) -> list[HistoryEntry]``: a listener's sessions
        (:meth:`sonora.listening.repo.ListeningRepo.history`).
    clock : callable, optional
        Current UTC time (tests move it).
    repo : ProgrammeStore, optional
        Storage (default: :class:`~sonora.programmes.repo.SqlProgrammeRepo`).
    """

    def __init__(
        self,
        store: SqlDatabase,
        history: Callable[[str], list[HistoryEntry]],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        repo: ProgrammeStore | None = None,
    ) -> None:
        self.repo: ProgrammeStore = repo or SqlProgrammeRepo(store)
        self._sql = store
        self.history = history
        self.clock = clock

    # -- the listener's side -----------------------------------------------------------
    def consulted(self, user: UserRecord) -> list[tuple[TherapistInfo, str]]:
        """Verified therapists this listener has a confirmed consult with (may share)."""
        now = self.clock()
        return [(t, n) for t, n in self.repo.consulted(user.id) if t.verified(now)]

    def shares(self, user: UserRecord) -> list[ShareRecord]:
        """Everything this listener shares, or shared (revoked and lapsed included)."""
        return self.repo.shares_of_listener(user.id)

    def set_share(self, user: UserRecord, therapist_id: str, scope: Any) -> ShareRecord:
        """Share ``scope`` with one therapist (replacing what was shared with them).

        Parameters
        ----------
        scope : sequence of str or mapping of str to bool
            Some of ``"numbers"``, ``"history"``, ``"notes"``; at least one.

        Raises
        ------
        NotFound
            When the listener has no confirmed consult with a verified therapist of
            that id.
        ParameterError
            ``scope``: an unknown part, or none at all (revoke instead).
        """
        if user.is_guest:
            raise ParameterError("account", "sign up first: sharing needs an account")
        if not any(t.id == therapist_id for t, _ in self.consulted(user)):
            raise NotFound("therapist", therapist_id)
        parts = _scope(scope)
        return self.repo.save_share(user.id, therapist_id, parts, self.clock())

    def revoke(self, user: UserRecord, therapist_id: str) -> None:
        """Stop sharing with this therapist, at once (``NotFound`` if nothing is shared)."""
        if not self.repo.revoke(user.id, therapist_id, self.clock()):
            raise NotFound("share", therapist_id)

    def access_log(self, user: UserRecord) -> list[LogRecord]:
        """Every look at this listener's shared data, newest first."""
        return self.repo.access_log(user.id)

    def programmes(self, user: UserRecord) -> list[ProgrammeRecord]:
        """Programmes written for this listener, newest first."""
        return self.repo.programmes_of_listener(user.id)

    def active_programmes(
        self, user: UserRecord, day: dt.date | None = None
    ) -> list[ProgrammeRecord]:
        """Programmes running today whose therapist the listener still shares with."""
        day = day or self.clock().date()
        now = self.clock()
        out = []
        for p in self.repo.programmes_of_listener(user.id):
            if not p.runs_on(day):
                continue
            share = self.repo.share_between(user.id, p.therapist_id)
            if share is not None and share.active(now):
                out.append(p)
        return out

    def allowed_families(self, user: UserRecord) -> set[str]:
        """Sound families the running programmes keep sessions within (empty: no limit).

        Only "one sound family" and "let Sonora choose within these" limit sessions;
        chosen scenes and library rules are shown on the programme's page.
        """
        out: set[str] = set()
        for p in self.active_programmes(user):
            if p.listen.get("kind") in ("family", "sonora_chooses"):
                out.update(p.listen.get("families") or ())
        return out

    def record_answers(
        self, user: UserRecord, answers: Mapping[str, Any], checkin_id: str | None = None
    ) -> int:
        """Store a check-in's answers to the running programmes' extra questions.

        ``answers`` holds ``"<programme id>:<question id>" -> 0..10``; empty values are
        skipped.  Checked first (:meth:`clean_answers`), stored in one transaction.
        """
        return self.store_answers(user, self.clean_answers(user, answers), checkin_id)

    def store_answers(
        self, user: UserRecord, rows: Sequence[tuple[str, str, float]], checkin_id: str | None
    ) -> int:
        """Store answers checked by :meth:`clean_answers` (one transaction)."""
        if not rows:
            return 0
        return self.repo.add_answers(user.id, rows, checkin_id, self.clock())

    def clean_answers(
        self, user: UserRecord, answers: Mapping[str, Any]
    ) -> list[tuple[str, str, float]]:
        """Check answers (see :meth:`record_answers`) without storing anything; returns
        ``(programme id, question id, value)`` rows."""
        rows: list[tuple[str, str, float]] = []
        active = {p.id: p for p in self.active_programmes(user)}
        for key, raw in answers.items():
            if raw in (None, ""):
                continue
            pid, _, qid = str(key).partition(":")
            p = active.get(pid)
            if p is None or not any(q["id"] == qid for q in p.questions):
                raise ParameterError(
                    f"programme_answers.{key}", "not a question of a running programme"
                )
            try:
                v = float(raw)
            except (TypeError, ValueError):
                v = -1.0
            if not 0 <= v <= 10 or v != v:
                text = next(q["text"] for q in p.questions if q["id"] == qid)
                raise ParameterError(
                    f"programme_answers.{key}", f"{text!r}: expected 0 to 10, got {raw!r}"
                )
            rows.append((pid, qid, v))
        return rows

    def set_reminders(
        self, user: UserRecord, programme_id: str, data: Mapping[str, Any]
    ) -> ProgrammeRecord:
        """The listener's own reminders: ``email`` (bool) on ``weekdays`` (0 = Monday)."""
        raw = data.get("weekdays") or []
        if isinstance(raw, str):
            raw = [raw]
        days = []
        for d in raw:
            try:
                n = int(d)
            except (TypeError, ValueError):
                n = -1
            if not 0 <= n <= 6:
                raise ParameterError("weekdays", f"expected days 0 (Monday) to 6, got {d!r}")
            days.append(n)
        email = data.get("email") in (True, "on", "true", "1")
        if email and not days:
            raise ParameterError("weekdays", "choose at least one day for email reminders")
        return self.repo.set_reminders(user.id, programme_id, email, days)

    # -- the therapist's side ----------------------------------------------------------
    def _therapist(self, user: UserRecord | None) -> TherapistInfo:
        """The signed-in user's own profile, verified now (``NotFound`` otherwise)."""
        if user is None:
            raise NotFound("therapist", "")
        t = self.repo.therapist_of_user(user.id)
        if t is None or not t.verified(self.clock()):
            raise NotFound("therapist", "")
        return t

    def is_therapist(self, user: UserRecord | None) -> bool:
        """Whether this user has a currently verified therapist profile."""
        try:
            self._therapist(user)
        except NotFound:
            return False
        return True

    def clients(self, user: UserRecord) -> list[ShareRecord]:
        """The listeners sharing with this therapist now (no access is logged: only
        the names the listeners gave when booking are shown)."""
        t = self._therapist(user)
        now = self.clock()
        return [s for s in self.repo.shares_with(t.id) if s.active(now)]

    def client(
        self, user: UserRecord, share_id: str, *, what: str = "client overview"
    ) -> tuple[ShareRecord, list[ProgrammeRecord], Progress | None]:
        """One client's shared data and their programmes with this therapist (logged).

        Returns the share, the programmes and, if the listener shares their history, a
        :class:`Progress` over the newest programme (or ``None``).
        """
        t = self._therapist(user)
        share = self.repo.share(share_id)
        if share is None or share.therapist.id != t.id or not share.active(self.clock()):
            raise NotFound("client", share_id)
        self.repo.log(share.listener_id, t, what, share.scope, self.clock())
        progs = self.repo.programmes_between(share.listener_id, t.id)
        latest = self._progress(progs[0], share.scope) if progs else None
        return share, progs, latest

    def create_programme(
        self, user: UserRecord, share_id: str, data: Mapping[str, Any]
    ) -> ProgrammeRecord:
        """Write a programme for a client sharing with this therapist."""
        t = self._therapist(user)
        share = self.repo.share(share_id)
        if share is None or share.therapist.id != t.id or not share.active(self.clock()):
            raise NotFound("client", share_id)
        spec = clean_programme(data, today=self.clock().date())
        return self.repo.add_programme(share.listener_id, t.id, spec, self.clock())

    # -- either side -------------------------------------------------------------------
    def open(
        self, user: UserRecord | None, programme_id: str, *, what: str
    ) -> tuple[Viewer, ProgrammeRecord, Progress]:
        """A programme and its progress for its listener, or for its therapist while
        the listener shares with them (their view is logged as ``what``).

        Raises
        ------
        NotFound
            For anyone else, and for the therapist once sharing was revoked or their
            verification lapsed.
        """
        p = self.repo.programme(programme_id)
        if p is None or user is None:
            raise NotFound("programme", programme_id)
        if p.listener_id == user.id:
            return "listener", p, self._progress(p, SCOPES)
        t = self._therapist(user) if self.is_therapist(user) else None
        if t is None or t.id != p.therapist_id:
            raise NotFound("programme", programme_id)
        share = self.repo.share_between(p.listener_id, t.id)
        if share is None or not share.active(self.clock()):
            raise NotFound("programme", programme_id)
        self.repo.log(p.listener_id, t, what, share.scope, self.clock())
        return "therapist", p, self._progress(p, share.scope)

    def _progress(self, p: ProgrammeRecord, scope: Sequence[str]) -> Progress:
        return progress(
            p,
            self.history(p.listener_id),
            self.repo.answers(p.id),
            scope=scope,
            today=self.clock().date(),
        )

    # -- reminders ---------------------------------------------------------------------
    def send_reminders(
        self, *, base_url: str, mail_from: str, day: dt.date | None = None
    ) -> list[ProgrammeRecord]:
        """Queue today's reminder emails in the outbox: one per programme running today
        whose listener chose email on this weekday, at most one a day however often this
        runs (``reminded_on`` is set in the same transaction, conditionally).

        Returns the programmes reminded.
        """
        from sonora.therapists.mail import compose

        day = day or self.clock().date()
        now = self.clock()
        sent = []
        for p, email in self.repo.reminder_candidates(day):
            share = self.repo.share_between(p.listener_id, p.therapist_id)
            if not email or share is None or not share.active(now):
                continue
            text = (
                f"A reminder you asked for: your listening programme from your music "
                f"therapist, {p.therapist_name}, runs until {p.end_date:%d %B %Y}.\n\n"
                f"Rhythm: {p.sessions_per_week} sessions a week, "
                f"{p.minutes_min}-{p.minutes_max} minutes. {p.rhythm_note}\n\n"
                f"Start a session: {base_url}/checkin\n"
                f"The programme and your progress: {base_url}/programmes/{p.id}\n\n"
                f"Change or stop these reminders on the programme's page.\n"
                f"Sonora is not monitored in real time. In an emergency, call your local "
                f"emergency number or a crisis line.\n"
            )
            mail = {
                "kind": "programme_reminder",
                "to_addr": email,
                "subject": f"Your listening today: {p.title}",
                "message": compose(
                    sender=mail_from,
                    to_addr=email,
                    to_name="",
                    subject=f"Your listening today: {p.title}",
                    text=text,
                ),
            }
            if self.repo.mark_reminded(p.id, day, [mail], now):
                sent.append(p)
        return sent

    # -- privacy -----------------------------------------------------------------------
    def account_part(self) -> ProgrammesAccountPart:
        """This feature's part of an account's export and deletion."""
        return ProgrammesAccountPart()


def _scope(scope: Any) -> tuple[str, ...]:
    if isinstance(scope, Mapping):
        unknown = [k for k in scope if k not in SCOPES]
        parts = [k for k in SCOPES if scope.get(k) in (True, "on", "true", "1")]
    elif isinstance(scope, str):
        unknown = [k for k in scope.split(",") if k and k not in SCOPES]
        parts = [k for k in SCOPES if k in scope.split(",")]
    elif isinstance(scope, Sequence):
        unknown = [str(k) for k in scope if k not in SCOPES]
        parts = [k for k in SCOPES if k in scope]
    else:
        raise ParameterError("scope", f"expected some of {', '.join(SCOPES)}")
    if unknown:
        raise ParameterError(
            "scope", f"{unknown[0]!r} is not shareable; choose from {', '.join(SCOPES)}"
        )
    if not parts:
        raise ParameterError(
            "scope", f"choose at least one of {', '.join(SCOPES)} (or stop sharing instead)"
        )
    return tuple(parts)
