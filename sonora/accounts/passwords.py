"""Passwords (argon2id) and email addresses of accounts."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["Passwords", "normalise_email"]

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class Passwords:
    """argon2id hashing; by default with argon2-cffi's recommended parameters.

    Parameters
    ----------
    memory_kib : int, optional
        Memory per hash, KiB (default: the library's, 65536 = 64 MiB).
    time_cost : int, optional
        Passes over that memory (default: the library's, 3).

    Test suites lower both through the settings ``password_hash_memory_kib`` and
    ``password_hash_time_cost``; a hash made with other parameters than these reports
    :meth:`needs_rehash`, so raising them again upgrades each hash at its next log-in.
    """

    def __init__(self, memory_kib: int | None = None, time_cost: int | None = None) -> None:
        defaults = PasswordHasher()
        self._ph = PasswordHasher(
            memory_cost=defaults.memory_cost if memory_kib is None else memory_kib,
            time_cost=defaults.time_cost if time_cost is None else time_cost,
        )

    def hash(self, password: str) -> str:
        """Hash a password."""
        return self._ph.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        """Whether ``password`` matches the stored hash (never raises)."""
        try:
            return self._ph.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether the hash was made with weaker parameters than today's."""
        try:
            return self._ph.check_needs_rehash(stored)
        except InvalidHashError:
            return True


def normalise_email(email: str) -> str:
    """Lower-cased, trimmed email; :class:`ValueError` if it does not look like one."""
    e = (email or "").strip().lower()
    if len(e) > 320 or not _EMAIL_RE.match(e):
        raise ValueError("enter an email address such as name@example.org")
    return e
