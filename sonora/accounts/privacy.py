"""Export and deletion of an account: one unit of work across every feature.

Each feature that keeps something about a person offers an :class:`AccountPart`: what
it exports, how it deletes its own rows, how many rows it holds.  The account
repository (:meth:`sonora.accounts.repo.AccountRepo.export_user`,
:meth:`~sonora.accounts.repo.AccountRepo.delete_user`) asks every part in turn inside
**one** transaction, so an export is one consistent snapshot and a deletion either
removes everything or nothing.  No feature deletes another feature's rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

__all__ = ["AccountPart", "UserRows", "iso", "rows_by", "rows_of"]


class AccountPart(Protocol):
    """One feature's share of an account."""

    def export(self, s: Session, user_id: str) -> dict[str, Any]:
        """This feature's data about the account, JSON-ready, as top-level export keys."""
        ...

    def delete(self, s: Session, user_id: str) -> dict[str, int]:
        """Delete this feature's rows about the account; rows deleted per table."""
        ...

    def count(self, s: Session, user_id: str) -> dict[str, int]:
        """Rows this feature holds about the account, per table."""
        ...

    def move(self, s: Session, from_user_id: str, to_user_id: str) -> None:
        """Hand rows over to another account (a guest logging in); may do nothing."""
        ...


def iso(v: dt.datetime | dt.date | None) -> str | None:
    """ISO 8601 text of a timestamp or date (``None`` stays ``None``)."""
    return None if v is None else v.isoformat()


def rows_of(s: Session, model: Any, user_id: str) -> list[Any]:
    """Every row of ``model`` whose ``user_id`` is ``user_id``, oldest first."""
    return rows_by(s, model, "user_id", user_id)


def rows_by(s: Session, model: Any, column: str, value: Any, *order: Any) -> list[Any]:
    """Every row of ``model`` whose ``column`` equals ``value``.

    Parameters
    ----------
    s : Session
    model : mapped class
    column : str
        The attribute compared, e.g. ``"listener_id"``.
    value : Any
    *order : column expressions
        The order of the rows; none given: oldest first, then by primary key.

    Returns
    -------
    list of rows
    """
    stmt = select(model).where(getattr(model, column) == value)
    return list(s.scalars(stmt.order_by(*(order or _order(model)))))


@dataclass(frozen=True)
class UserRows:
    """An :class:`AccountPart` for tables keyed by ``user_id``.

    Parameters
    ----------
    models : sequence of mapped classes
        The tables, children first (the order rows are deleted in).
    exporter : callable
        ``exporter(session, user_id) -> dict`` builds this part's export.
    movable : bool
        Whether a guest's rows move to the account they log in to (otherwise they are
        deleted with the guest).
    """

    models: Sequence[Any]
    exporter: Callable[[Session, str], dict[str, Any]]
    movable: bool = False

    def export(self, s: Session, user_id: str) -> dict[str, Any]:
        return self.exporter(s, user_id)

    def delete(self, s: Session, user_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for model in self.models:
            res = s.execute(delete(model).where(model.user_id == user_id))
            counts[model.__tablename__] = int(res.rowcount or 0)  # type: ignore[attr-defined]
        return counts

    def count(self, s: Session, user_id: str) -> dict[str, int]:
        return {
            m.__tablename__: int(
                s.scalar(select(func.count()).select_from(m).where(m.user_id == user_id)) or 0
            )
            for m in self.models
        }

    def move(self, s: Session, from_user_id: str, to_user_id: str) -> None:
        if self.movable:
            for model in self.models:
                s.execute(
                    update(model).where(model.user_id == from_user_id).values(user_id=to_user_id)
                )


def _order(model: Any) -> list[Any]:
    for name in ("created_at", "started_at", "updated_at"):
        col = getattr(model, name, None)
        if col is not None:
            return [col, *model.__table__.primary_key.columns]
    return list(model.__table__.primary_key.columns)
