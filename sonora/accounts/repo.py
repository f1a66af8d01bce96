"""The accounts repository: users, sign-ins, profiles, and an account's export/deletion.

Every method runs in one transaction and returns plain frozen records (never live ORM
objects).  Export and deletion ask every feature for its part
(:mod:`sonora.accounts.privacy`) inside one transaction.

Examples
--------
>>> from sonora.core.database import Database
>>> db = Database.open("sqlite://")          # in memory, migrated
>>> user = db.create_user()
>>> db.get_profile(user.id).onboarded
False
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sonora.accounts.models import AuthToken, Profile, User
from sonora.accounts.privacy import AccountPart, UserRows, iso, rows_of
from sonora.store.base import new_id, utcnow
from sonora.store.database import SqlDatabase
from sonora.store.errors import NotFound, StoreError
from sonora.store.hot import fetch

__all__ = [
    "ACCOUNT_ROWS",
    "EXPORT_VERSION",
    "AccountRepo",
    "EmailTaken",
    "ProfileRecord",
    "UserRecord",
    "hash_token",
    "user_by_token_query",
]

#: Export format version (bump when the shape of :meth:`AccountRepo.export_user` changes).
EXPORT_VERSION = 1


class EmailTaken(StoreError):
    """An account with that email address already exists."""


def hash_token(token: str) -> str:
    """SHA-256 hex of a cookie token: only this is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


#: A sign-in token's user and their profile: runs on every signed-in request, so the
#: statement is built once (building a SELECT cost as much CPU as running it; #15).
_USER_FOR_TOKEN = (
    select(
        User.id,
        User.email,
        User.is_guest,
        User.created_at,
        User.last_seen_at,
        AuthToken.expires_at,
        Profile.data,
        Profile.onboarded,
    )
    .join(AuthToken, AuthToken.user_id == User.id)
    .outerjoin(Profile, Profile.user_id == User.id)
    .where(AuthToken.id == bindparam("token_id"))
)


def user_by_token_query() -> Select[Any]:
    """The statement :meth:`AccountRepo.user_for_token` runs (parameter ``token_id``,
    :func:`hash_token` of the cookie): a user, their token's expiry and their profile."""
    return _USER_FOR_TOKEN


# -- records ---------------------------------------------------------------------------
@dataclass(frozen=True)
class UserRecord:
    """A listener: guest or account."""

    id: str
    email: str | None
    is_guest: bool
    created_at: dt.datetime
    #: The profile read with the user by :meth:`AccountRepo.user_for_token` (one query
    #: for a request's user and profile); ``None`` when not read with it.
    profile: ProfileRecord | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, row: User) -> UserRecord:
        return cls(row.id, row.email, row.is_guest, row.created_at)


@dataclass(frozen=True)
class ProfileRecord:
    """Onboarding answers and preferences."""

    user_id: str
    data: dict[str, Any]
    onboarded: bool


def _export_account(s: Session, user_id: str) -> dict[str, Any]:
    user = s.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    profile = s.get(Profile, user_id)
    return {
        "user": {
            "id": user.id,
            "email": user.email,
            "is_guest": user.is_guest,
            "created_at": iso(user.created_at),
            "last_seen_at": iso(user.last_seen_at),
        },
        "profile": None
        if profile is None
        else {
            "data": profile.data,
            "onboarded": profile.onboarded,
            "updated_at": iso(profile.updated_at),
        },
        "sign_ins": [
            {"created_at": iso(t.created_at), "expires_at": iso(t.expires_at)}
            for t in rows_of(s, AuthToken, user_id)
        ],
    }


#: The account's own rows (profile and sign-ins; the ``users`` row itself goes last).
#: Password hashes and sign-in token hashes are not exported: they are secrets about
#: the account, not the listener's data.
ACCOUNT_ROWS = UserRows((Profile, AuthToken), _export_account)


class AccountRepo(SqlDatabase):
    """Users, sign-ins and profiles; export and deletion of a whole account.

    ``account_parts`` lists the other features' parts of an account (children
    first); the account's own rows and its ``users`` row are always handled last.
    """

    #: The other features' parts of an account, in deletion order.
    account_parts: Sequence[AccountPart] = ()

    # -- users and sign-ins ------------------------------------------------------------
    def create_user(self) -> UserRecord:
        """Create a guest listener (no email, no password) with an empty profile."""
        with self.transaction() as s:
            user = User(id=new_id(), is_guest=True, created_at=utcnow(), last_seen_at=utcnow())
            s.add(user)
            s.flush()  # parent row first: there are no ORM relationships to order inserts
            s.add(Profile(user_id=user.id, data={}, onboarded=False, updated_at=utcnow()))
            s.flush()
            return UserRecord.of(user)

    def get_user(self, user_id: str) -> UserRecord:
        """The listener ``user_id`` (:class:`NotFound` if gone)."""
        with self.reading() as s:
            row = s.get(User, user_id)
            if row is None:
                raise NotFound("user", user_id)
            return UserRecord.of(row)

    def credentials(self, email: str) -> tuple[UserRecord, str] | None:
        """``(user, password_hash)`` for an account email, or ``None``."""
        with self.reading() as s:
            row = s.scalars(select(User).where(User.email == email.lower())).first()
            if row is None or row.password_hash is None:
                return None
            return UserRecord.of(row), row.password_hash

    def register(self, user_id: str, *, email: str, password_hash: str) -> UserRecord:
        """Turn a guest into an account, keeping everything they have done.

        Raises
        ------
        EmailTaken
            If another account uses ``email``.
        NotFound
            If the user does not exist.
        """
        email = email.lower()
        try:
            with self.transaction() as s:
                row = s.get(User, user_id)
                if row is None:
                    raise NotFound("user", user_id)
                taken = s.scalars(select(User.id).where(User.email == email)).first()
                if taken is not None and taken != user_id:
                    raise EmailTaken(email)
                row.email = email
                row.password_hash = password_hash
                row.is_guest = False
                s.flush()
                return UserRecord.of(row)
        except IntegrityError as exc:  # a concurrent sign-up with the same email
            raise EmailTaken(email) from exc

    def password_hash_of(self, user_id: str) -> str | None:
        """The stored password hash of ``user_id`` (``None``: none, or no such user)."""
        with self.reading() as s:
            return s.scalars(select(User.password_hash).where(User.id == user_id)).first()

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the stored hash (e.g. rehash with newer argon2 parameters)."""
        with self.transaction() as s:
            s.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))

    def merge_guest(self, guest_id: str, into_user_id: str) -> None:
        """Move a guest's sessions into an account (at log-in), then delete the guest.

        The account keeps its own profile if it finished onboarding; otherwise it takes
        the guest's.  The guest's matcher state is dropped (the account's wins).
        """
        if guest_id == into_user_id:
            return
        with self.transaction() as s:
            guest = s.get(User, guest_id)
            if guest is None or not guest.is_guest:
                return
            for part in self.account_parts:
                part.move(s, guest_id, into_user_id)
            mine = s.get(Profile, into_user_id)
            theirs = s.get(Profile, guest_id)
            if theirs is not None and theirs.onboarded and (mine is None or not mine.onboarded):
                if mine is None:
                    s.add(
                        Profile(
                            user_id=into_user_id,
                            data=dict(theirs.data),
                            onboarded=True,
                            updated_at=utcnow(),
                        )
                    )
                else:
                    mine.data = dict(theirs.data)
                    mine.onboarded = True
                    mine.updated_at = utcnow()
            self.delete_user_in(s, guest_id)

    def issue_token(self, user_id: str, *, days: int) -> str:
        """Create a sign-in token for a cookie; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.transaction() as s:
            s.add(
                AuthToken(
                    id=hash_token(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + dt.timedelta(days=days),
                )
            )
        return token

    def user_for_token(self, token: str) -> UserRecord | None:
        """The listener a cookie token belongs to, or ``None`` (unknown or expired)."""
        if not token or len(token) > 256:
            return None
        with self.connection() as conn:  # the user and their profile in one query
            rows = fetch(conn, _USER_FOR_TOKEN, {"token_id": hash_token(token)})
        return self.user_from_row(rows[0] if rows else None)

    def user_from_row(self, row: Any) -> UserRecord | None:
        """The listener of a row of :func:`user_by_token_query` (``None``: no row, or the
        token has expired); notes that they were seen, at most every five minutes.

        For a caller that ran the query inside a larger statement (the rate limits'
        count, :mod:`sonora.web.limits`).
        """
        now = utcnow()
        if row is None or row.id is None or row.expires_at <= now:
            return None
        if now - row.last_seen_at > dt.timedelta(minutes=5):
            with self.transaction() as s:
                s.execute(update(User).where(User.id == row.id).values(last_seen_at=now))
        profile = (
            ProfileRecord(row.id, {}, False)
            if row.data is None
            else ProfileRecord(row.id, dict(row.data), bool(row.onboarded))
        )
        return UserRecord(row.id, row.email, row.is_guest, row.created_at, profile)

    def revoke_token(self, token: str) -> None:
        """Forget one sign-in (log out)."""
        with self.transaction() as s:
            s.execute(delete(AuthToken).where(AuthToken.id == hash_token(token)))

    def purge_guests(self, *, idle_days: int) -> int:
        """Delete guests not seen for ``idle_days`` and everything of theirs."""
        cutoff = utcnow() - dt.timedelta(days=idle_days)
        with self.transaction() as s:
            ids = list(s.scalars(select(User.id).where(User.is_guest, User.last_seen_at < cutoff)))
            for uid in ids:
                self.delete_user_in(s, uid)
            s.execute(delete(AuthToken).where(AuthToken.expires_at < utcnow()))
            return len(ids)

    # -- profile -----------------------------------------------------------------------
    def get_profile(self, user_id: str) -> ProfileRecord:
        """Onboarding answers and preferences (empty before onboarding)."""
        with self.reading() as s:
            row = s.get(Profile, user_id)
            if row is None:
                return ProfileRecord(user_id, {}, False)
            return ProfileRecord(user_id, dict(row.data), row.onboarded)

    def save_profile(
        self, user_id: str, data: dict[str, Any], *, onboarded: bool = True
    ) -> ProfileRecord:
        """Replace the profile's data."""
        with self.transaction() as s:
            if s.get(User, user_id) is None:
                raise NotFound("user", user_id)
            row = s.get(Profile, user_id)
            if row is None:
                row = Profile(user_id=user_id, data={}, onboarded=False)
                s.add(row)
            row.data = dict(data)
            row.onboarded = onboarded
            row.updated_at = utcnow()
            return ProfileRecord(user_id, dict(row.data), row.onboarded)

    # -- export and deletion: one unit of work -----------------------------------------
    def _parts(self, extra: Sequence[AccountPart]) -> list[AccountPart]:
        return [*extra, *self.account_parts, ACCOUNT_ROWS]

    def export_user(self, user_id: str, *, parts: Sequence[AccountPart] = ()) -> dict[str, Any]:
        """Everything stored about this listener, as one JSON-ready mapping.

        Parameters
        ----------
        user_id : str
            The account.
        parts : sequence of AccountPart
            Further features' parts (e.g. the therapist directory's), asked first.
        """
        with self.transaction() as s:
            if s.get(User, user_id) is None:
                raise NotFound("user", user_id)
            out: dict[str, Any] = {
                "format": "sonora-export",
                "version": EXPORT_VERSION,
                "exported_at": utcnow().isoformat(),
            }
            for part in reversed(self._parts(parts)):
                out.update(part.export(s, user_id))
            return out

    def delete_user(self, user_id: str, *, parts: Sequence[AccountPart] = ()) -> dict[str, int]:
        """Delete the listener and everything of theirs, in one transaction.

        Returns
        -------
        dict
            Rows deleted per table (and whatever counts the parts add).
        """
        with self.transaction() as s:
            if s.get(User, user_id) is None:
                raise NotFound("user", user_id)
            return self.delete_user_in(s, user_id, parts=parts)

    def delete_user_in(
        self, s: Session, user_id: str, *, parts: Sequence[AccountPart] = ()
    ) -> dict[str, int]:
        """Delete the listener inside the caller's transaction ``s`` (every part asked)."""
        counts: dict[str, int] = {}
        for part in self._parts(parts):
            for table, n in part.delete(s, user_id).items():
                counts[table] = counts.get(table, 0) + n
        res = s.execute(delete(User).where(User.id == user_id))
        counts["users"] = int(res.rowcount or 0)
        return counts

    def count_rows(self, user_id: str, *, parts: Sequence[AccountPart] = ()) -> dict[str, int]:
        """Rows held for this listener in every table (deletion is checked with this)."""
        with self.transaction() as s:
            out: dict[str, int] = {}
            for part in self._parts(parts):
                out.update(part.count(s, user_id))
            out["users"] = int(s.scalar(select(User.id).where(User.id == user_id)) is not None)
            return out
