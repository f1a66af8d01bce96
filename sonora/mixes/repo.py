"""Storage of mixes and offline check-in keys (one transaction per method)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from sonora.mixes.models import ClientRequest, MixRow
from sonora.store import NotFound
from sonora.store.base import new_id, utcnow
from sonora.store.database import SqlDatabase as Store

__all__ = ["MixRecord", "MixRepo"]


@dataclass(frozen=True)
class MixRecord:
    """A kept mix, detached from the database session."""

    id: str
    user_id: str
    name: str
    favourite: bool
    plan: dict[str, Any]
    gains: list[float] | None
    source_plan_id: str | None
    share_token: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: MixRow) -> MixRecord:
        return cls(
            id=row.id,
            user_id=row.user_id,
            name=row.name,
            favourite=bool(row.favourite),
            plan=dict(row.plan),
            gains=None if row.gains is None else [float(g) for g in row.gains],
            source_plan_id=row.source_plan_id,
            share_token=row.share_token,
            created_at=row.created_at,
        )


class MixRepo:
    """Mixes and client request keys in the store's database.

    Parameters
    ----------
    store : Store
        The application's store (its engine and transactions are used).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- mixes -------------------------------------------------------------------------
    def add(
        self,
        user_id: str,
        *,
        name: str,
        plan: dict[str, Any],
        gains: list[float] | None,
        favourite: bool,
        source_plan_id: str | None,
    ) -> MixRecord:
        """Keep a plan as a mix."""
        with self.store.transaction() as s:
            row = MixRow(
                id=new_id(),
                user_id=user_id,
                name=name,
                favourite=favourite,
                plan=plan,
                gains=gains,
                source_plan_id=source_plan_id,
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            return MixRecord.of(row)

    def list(self, user_id: str) -> list[MixRecord]:
        """This listener's mixes, favourites first, newest first within each."""
        with self.store.reading() as s:
            rows = s.scalars(
                select(MixRow)
                .where(MixRow.user_id == user_id)
                .order_by(MixRow.favourite.desc(), MixRow.created_at.desc(), MixRow.id)
            )
            return [MixRecord.of(r) for r in rows]

    def get(self, user_id: str, mix_id: str) -> MixRecord:
        """A mix of this listener (:class:`~sonora.store.NotFound` otherwise)."""
        with self.store.reading() as s:
            row = s.get(MixRow, mix_id)
            if row is None or row.user_id != user_id:
                raise NotFound("mix", mix_id)
            return MixRecord.of(row)

    def by_token(self, token: str) -> MixRecord:
        """A shared mix by its share token (:class:`~sonora.store.NotFound` otherwise)."""
        with self.store.reading() as s:
            row = s.scalars(select(MixRow).where(MixRow.share_token == token)).first()
            if row is None:
                raise NotFound("shared mix", token)
            return MixRecord.of(row)

    def update(
        self,
        user_id: str,
        mix_id: str,
        *,
        name: str | None = None,
        favourite: bool | None = None,
        shared: bool | None = None,
    ) -> MixRecord:
        """Rename, (un)favourite, or start/stop sharing a mix."""
        with self.store.transaction() as s:
            row = s.get(MixRow, mix_id)
            if row is None or row.user_id != user_id:
                raise NotFound("mix", mix_id)
            if name is not None:
                row.name = name
            if favourite is not None:
                row.favourite = favourite
            if shared is True and row.share_token is None:
                row.share_token = secrets.token_urlsafe(32)
            elif shared is False:
                row.share_token = None
            s.flush()
            return MixRecord.of(row)

    def remove(self, user_id: str, mix_id: str) -> None:
        """Delete a mix (its share link stops working)."""
        with self.store.transaction() as s:
            res = s.execute(delete(MixRow).where(MixRow.id == mix_id, MixRow.user_id == user_id))
            if not res.rowcount:
                raise NotFound("mix", mix_id)

    # -- idempotency keys --------------------------------------------------------------
    def reserve(self, user_id: str, key: str) -> ClientRequestState:
        """Claim ``key`` for this listener; says whether it was new or what it made."""
        try:
            with self.store.transaction() as s:
                s.add(ClientRequest(id=new_id(), user_id=user_id, key=key, created_at=utcnow()))
                s.flush()
            return ClientRequestState(new=True, checkin_id=None, plan_id=None)
        except IntegrityError:
            with self.store.reading() as s:
                row = s.scalars(
                    select(ClientRequest).where(
                        ClientRequest.user_id == user_id, ClientRequest.key == key
                    )
                ).one()
                return ClientRequestState(new=False, checkin_id=row.checkin_id, plan_id=row.plan_id)

    def complete(self, user_id: str, key: str, *, checkin_id: str, plan_id: str) -> None:
        """Record what the request with ``key`` made."""
        with self.store.transaction() as s:
            row = s.scalars(
                select(ClientRequest).where(
                    ClientRequest.user_id == user_id, ClientRequest.key == key
                )
            ).one()
            row.checkin_id = checkin_id
            row.plan_id = plan_id

    def release(self, user_id: str, key: str) -> None:
        """Forget a claimed key whose request failed (so a retry can succeed)."""
        with self.store.transaction() as s:
            s.execute(
                delete(ClientRequest).where(
                    ClientRequest.user_id == user_id, ClientRequest.key == key
                )
            )

    # -- export / delete ---------------------------------------------------------------
    def export(self, user_id: str) -> dict[str, Any]:
        """This listener's mixes and offline request keys, JSON-ready."""
        with self.store.reading() as s:
            mixes = [
                {
                    "id": m.id,
                    "name": m.name,
                    "favourite": m.favourite,
                    "plan": m.plan,
                    "mixer_gains": m.gains,
                    "from_plan_id": m.source_plan_id,
                    "shared": m.share_token is not None,
                    "created_at": m.created_at.isoformat(),
                }
                for m in s.scalars(
                    select(MixRow).where(MixRow.user_id == user_id).order_by(MixRow.created_at)
                )
            ]
        with self.store.reading() as s:
            keys = [
                {"key": c.key, "checkin_id": c.checkin_id, "created_at": c.created_at.isoformat()}
                for c in s.scalars(
                    select(ClientRequest)
                    .where(ClientRequest.user_id == user_id)
                    .order_by(ClientRequest.created_at)
                )
            ]
        return {"mixes": mixes, "offline_checkins": keys}

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Delete every mix and key of this listener; rows deleted per table."""
        with self.store.transaction() as s:
            a = s.execute(delete(MixRow).where(MixRow.user_id == user_id)).rowcount
            b = s.execute(delete(ClientRequest).where(ClientRequest.user_id == user_id)).rowcount
        return {"mixes": int(a or 0), "client_requests": int(b or 0)}


@dataclass(frozen=True)
class ClientRequestState:
    """What :meth:`MixRepo.reserve` found: a new key, or the check-in it already made."""

    new: bool
    checkin_id: str | None
    plan_id: str | None
