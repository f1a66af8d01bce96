"""The email outbox in the database: queued with the change that caused it, claimed, retried."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, update

from sonora.accounts.repo import AccountRepo
from sonora.store.base import new_id
from sonora.therapists.models import (
    OutboxMessage,
)
from sonora.therapists.records import (
    Mail,
    OutboxRecord,
)

__all__ = ["OutboxRows"]


class OutboxRows:
    """Outbox part of :class:`~sonora.therapists.repo.TherapistRepo`."""

    store: AccountRepo
    clock: Any

    # -- outbox ------------------------------------------------------------------------
    def queue(self, mails: Sequence[Mail], booking_id: str | None = None) -> None:
        """Put emails in the outbox (one transaction)."""
        with self.store.transaction() as s:
            self._queue(s, mails, booking_id, self.clock())

    def claim_due(
        self, now: dt.datetime, *, lease_s: float = 300.0, limit: int = 20
    ) -> list[OutboxRecord]:
        """Emails due now, each claimed for ``lease_s`` so another sender skips it.

        A claim moves ``next_attempt_at`` forward only if nobody changed it first, so
        two senders never both take the same message.
        """
        with self.store.reading() as s:
            due = list(
                s.execute(
                    select(OutboxMessage.id, OutboxMessage.next_attempt_at)
                    .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at)
                    .limit(limit)
                ).all()
            )
        out: list[OutboxRecord] = []
        lease_until = now + dt.timedelta(seconds=lease_s)
        for mid, at in due:
            with self.store.transaction() as s:
                res = s.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == mid,
                        OutboxMessage.next_attempt_at == at,
                        OutboxMessage.sent_at.is_(None),
                    )
                    .values(next_attempt_at=lease_until)
                )
                if not res.rowcount:
                    continue
                r = s.get(OutboxMessage, mid)
                assert r is not None
                out.append(OutboxRecord.of(r))
        return out

    def mark_sent(self, message_id: str, now: dt.datetime) -> None:
        """Note that an email went out."""
        with self.store.transaction() as s:
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(sent_at=now, attempts=OutboxMessage.attempts + 1, last_error=None)
            )

    def mark_failed(self, message_id: str, error: str, retry_at: dt.datetime) -> None:
        """Note a failed attempt and when to try again."""
        with self.store.transaction() as s:
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(
                    attempts=OutboxMessage.attempts + 1,
                    last_error=error[:2000],
                    next_attempt_at=retry_at,
                )
            )

    def outbox(self, *, unsent_only: bool = False) -> list[OutboxRecord]:
        """Every email in the outbox, oldest first."""
        q = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        if unsent_only:
            q = q.where(OutboxMessage.sent_at.is_(None))
        with self.store.reading() as s:
            return [OutboxRecord.of(r) for r in s.scalars(q)]

    def outbox_counts(self) -> dict[str, int]:
        """``{"sent": n, "waiting": n, "failing": n}`` (failing: waiting after a failure)."""
        with self.store.reading() as s:
            sent = s.scalar(select(func.count()).where(OutboxMessage.sent_at.is_not(None))) or 0
            waiting = s.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None))) or 0
            failing = (
                s.scalar(
                    select(func.count()).where(
                        OutboxMessage.sent_at.is_(None), OutboxMessage.attempts > 0
                    )
                )
                or 0
            )
            return {"sent": int(sent), "waiting": int(waiting), "failing": int(failing)}

    @staticmethod
    def _queue(s: Any, mails: Iterable[Mail], booking_id: str | None, now: dt.datetime) -> None:
        for m in mails:
            s.add(
                OutboxMessage(
                    id=new_id(),
                    kind=m.kind,
                    to_addr=m.to_addr,
                    subject=m.subject[:300],
                    message=m.message,
                    booking_id=booking_id,
                    created_at=now,
                    next_attempt_at=now,
                    attempts=0,
                )
            )
