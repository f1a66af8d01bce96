"""Passwords (argon2id) and email addresses of accounts."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["Passwords", "normalise_email"]

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class Passwords:
    """argon2id hashing with the library's current recommended parameters."""

    def __init__(self) -> None:
        self._ph = PasswordHasher()

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
