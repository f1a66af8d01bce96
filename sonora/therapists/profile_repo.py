"""Therapist profiles and admin flags in the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from sonora.accounts.models import User
from sonora.accounts.repo import AccountRepo, UserRecord
from sonora.store.base import new_id
from sonora.store.errors import NotFound, StoreError
from sonora.therapists.models import (
    TherapistProfile,
)
from sonora.therapists.records import (
    CONSULT_FIELDS,
    PROFILE_FIELDS,
    TherapistRecord,
)

__all__ = ["ProfileRows"]


class ProfileRows:
    """Profile part of :class:`~sonora.therapists.repo.TherapistRepo`."""

    store: AccountRepo
    clock: Any

    # -- accounts and admins -----------------------------------------------------------
    def user_by_email(self, email: str) -> UserRecord | None:
        """The account with this email, if any."""
        with self.store.reading() as s:
            row = s.scalars(select(User).where(User.email == email.strip().lower())).first()
            return None if row is None else UserRecord.of(row)

    def set_admin(self, user_id: str, is_admin: bool = True) -> None:
        """Grant (or take away) the admin flag."""
        with self.store.transaction() as s:
            row = s.get(User, user_id)
            if row is None:
                raise NotFound("user", user_id)
            row.is_admin = is_admin

    def is_admin(self, user_id: str) -> bool:
        """Whether the user is an admin (guests never are)."""
        with self.store.reading() as s:
            row = s.get(User, user_id)
            return bool(row is not None and row.is_admin and not row.is_guest)

    # -- profiles ----------------------------------------------------------------------
    def create_profile(
        self, user_id: str, fields: dict[str, Any], *, is_demo: bool = False
    ) -> TherapistRecord:
        """Create the user's therapist profile (one per user; :class:`StoreError` if one exists)."""
        now = self.clock()
        try:
            with self.store.transaction() as s:
                user = s.get(User, user_id)
                if user is None:
                    raise NotFound("user", user_id)
                if s.scalars(
                    select(TherapistProfile.id).where(TherapistProfile.user_id == user_id)
                ).first():
                    raise StoreError("this account already has a therapist profile")
                row = TherapistProfile(
                    id=new_id(),
                    user_id=user_id,
                    is_demo=is_demo,
                    created_at=now,
                    updated_at=now,
                    **{k: fields[k] for k in PROFILE_FIELDS},
                    **{k: fields[k] for k in CONSULT_FIELDS if k in fields},
                )
                s.add(row)
                s.flush()
                return TherapistRecord.of(row, user.email)
        except IntegrityError as exc:  # a concurrent second profile for the same user
            raise StoreError("this account already has a therapist profile") from exc

    def update_profile(self, therapist_id: str, fields: dict[str, Any]) -> TherapistRecord:
        """Change a profile; a new country or registration number voids the verification."""
        with self.store.transaction() as s:
            row = s.get(TherapistProfile, therapist_id)
            if row is None:
                raise NotFound("therapist", therapist_id)
            credential_changed = (
                fields.get("country", row.country) != row.country
                or fields.get("registration_number", row.registration_number)
                != row.registration_number
            )
            for k in (*PROFILE_FIELDS, *CONSULT_FIELDS):
                if k in fields:
                    setattr(row, k, fields[k])
            if credential_changed:
                row.verified_at = row.verified_until = row.verified_by = None
                row.verification_note = None
            row.updated_at = self.clock()
            s.flush()
            return TherapistRecord.of(row, self._email(s, row.user_id))

    @staticmethod
    def _email(s: Any, user_id: str) -> str | None:
        return s.scalar(select(User.email).where(User.id == user_id))

    def profile(self, therapist_id: str) -> TherapistRecord:
        """A profile by id (:class:`NotFound` otherwise); callers decide who may see it."""
        with self.store.reading() as s:
            row = s.execute(
                select(TherapistProfile, User.email)
                .join(User, User.id == TherapistProfile.user_id)
                .where(TherapistProfile.id == therapist_id)
            ).first()
            if row is None:
                raise NotFound("therapist", therapist_id)
            return TherapistRecord.of(row[0], row[1])

    def profile_of_user(self, user_id: str) -> TherapistRecord | None:
        """The signed-in user's own profile, if they have one."""
        with self.store.reading() as s:
            row = s.scalars(
                select(TherapistProfile).where(TherapistProfile.user_id == user_id)
            ).first()
            return None if row is None else TherapistRecord.of(row, self._email(s, user_id))

    def profiles(
        self, *, listed_at: dt.datetime | None = None, country: str | None = None
    ) -> list[TherapistRecord]:
        """Profiles (only those listed at ``listed_at`` when given), oldest first."""
        q = select(TherapistProfile, User.email).join(User, User.id == TherapistProfile.user_id)
        if listed_at is not None:
            q = q.where(TherapistProfile.verified_until > listed_at)
        if country:
            q = q.where(TherapistProfile.country == country)
        with self.store.reading() as s:
            rows = s.execute(q.order_by(TherapistProfile.created_at, TherapistProfile.id)).all()
            return [TherapistRecord.of(r[0], r[1]) for r in rows]

    def delete_demo(self) -> int:
        """Delete every demo profile and its user account; returns how many."""
        with self.store.transaction() as s:
            ids = list(s.scalars(select(TherapistProfile.user_id).where(TherapistProfile.is_demo)))
            for uid in ids:
                s.execute(delete(TherapistProfile).where(TherapistProfile.user_id == uid))
                s.execute(delete(User).where(User.id == uid))
            return len(ids)
