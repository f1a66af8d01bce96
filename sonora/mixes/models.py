"""Tables of the mixes feature (migration ``0004_pwa_mixes``).

mixes            a kept plan: name, favourite flag, plan JSON, mixer gains, share token
client_requests  ``Idempotency-Key`` of a check-in sent by a browser's offline queue and
                 the check-in/plan it made
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sonora.store.base import Base, id_column, timestamp_column

__all__ = ["ClientRequest", "MixRow"]


class MixRow(Base):
    """A plan kept as a favourite or named mix (``share_token`` set once shared)."""

    __tablename__ = "mixes"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    favourite: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    gains: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    source_plan_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    share_token: Mapped[str | None] = mapped_column(String(43), unique=True, nullable=True)
    created_at: Mapped[dt.datetime] = timestamp_column()

    __table_args__ = (Index("ix_mixes_user_created", "user_id", "created_at"),)


class ClientRequest(Base):
    """One ``Idempotency-Key`` per listener and the check-in it produced."""

    __tablename__ = "client_requests"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    checkin_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    plan_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = timestamp_column()

    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_client_requests_user_key"),)
