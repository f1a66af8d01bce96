"""What the rest of Sonora needs from the accounts repository (:class:`AccountStore`).

The application core and the services are typed against this protocol;
:class:`sonora.accounts.repo.AccountRepo` implements it on the database (SQLite or
PostgreSQL).  Every method is one transaction and returns plain frozen records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sonora.accounts.privacy import AccountPart
    from sonora.accounts.repo import ProfileRecord, UserRecord

__all__ = ["AccountStore"]


class AccountStore(Protocol):
    """Users, sign-ins and profiles; export and deletion of a whole account."""

    def create_user(self) -> UserRecord:
        """Create a guest listener (no email, no password) with an empty profile."""
        ...

    def get_user(self, user_id: str) -> UserRecord:
        """The listener ``user_id`` (:class:`~sonora.store.errors.NotFound` if gone)."""
        ...

    def credentials(self, email: str) -> tuple[UserRecord, str] | None:
        """``(user, password_hash)`` for an account email, or ``None``."""
        ...

    def register(self, user_id: str, *, email: str, password_hash: str) -> UserRecord:
        """Turn a guest into an account (:class:`~sonora.accounts.repo.EmailTaken`)."""
        ...

    def password_hash_of(self, user_id: str) -> str | None:
        """The stored password hash of ``user_id`` (a guest's waits for a sign-up link)."""
        ...

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the stored password hash."""
        ...

    def merge_guest(self, guest_id: str, into_user_id: str) -> None:
        """Move a guest's sessions into an account (at log-in), then delete the guest."""
        ...

    def issue_token(self, user_id: str, *, days: int) -> str:
        """Create a sign-in token for a cookie; only its hash is stored."""
        ...

    def user_for_token(self, token: str) -> UserRecord | None:
        """The listener a cookie token belongs to, or ``None`` (unknown or expired)."""
        ...

    def user_from_row(self, row: Any) -> UserRecord | None:
        """The listener of a row of :func:`sonora.accounts.repo.user_by_token_query` run
        inside a larger statement, or ``None`` (no row, or an expired token)."""
        ...

    def revoke_token(self, token: str) -> None:
        """Forget one sign-in (log out)."""
        ...

    def purge_guests(self, *, idle_days: int) -> int:
        """Delete guests not seen for ``idle_days`` and everything of theirs."""
        ...

    def get_profile(self, user_id: str) -> ProfileRecord:
        """Onboarding answers and preferences (empty before onboarding)."""
        ...

    def save_profile(
        self, user_id: str, data: dict[str, Any], *, onboarded: bool = True
    ) -> ProfileRecord:
        """Replace the profile's data."""
        ...

    def export_user(self, user_id: str, *, parts: Sequence[AccountPart] = ()) -> dict[str, Any]:
        """Everything stored about this listener, as one JSON-ready mapping."""
        ...

    def delete_user(self, user_id: str, *, parts: Sequence[AccountPart] = ()) -> dict[str, int]:
        """Delete the listener and everything of theirs, in one transaction."""
        ...

    def count_rows(self, user_id: str, *, parts: Sequence[AccountPart] = ()) -> dict[str, int]:
        """Rows held for this listener in every table."""
        ...
