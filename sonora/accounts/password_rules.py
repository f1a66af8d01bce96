"""Password rules at sign-up: long enough, not common, not the email, not blank.

The common-password list ships with Sonora (``data/common_passwords.txt.gz``: the
10,000 most common passwords of zxcvbn's frequency list, MIT licence), so the check
works offline and sends nothing anywhere.

>>> password_problem("password123", email="sam@example.org", min_length=8)
'this is one of the most common passwords; choose another'
>>> password_problem("sam@example.org", email="sam@example.org", min_length=8)
"don't use your email address as your password"
>>> password_problem("robin-lantern", email="robin@example.org", min_length=8)
"don't start your password with the name of your email address (robin…)"
>>> password_problem("tide-lantern-orchard", email="sam@example.org", min_length=8) is None
True
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

__all__ = ["COMMON_PASSWORDS_FILE", "common_passwords", "password_problem"]

#: The shipped list, one lower-case password per line, most common first.
COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common_passwords.txt.gz"
#: Longest password accepted (argon2 hashes anything, but bodies stay small).
MAX_PASSWORD_LENGTH = 1024


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped common passwords (lower case)."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as fh:
        return frozenset(
            line.rstrip("\n") for line in fh if line.strip() and not line.startswith("#")
        )


def password_problem(password: object, *, email: str, min_length: int) -> str | None:
    """What is wrong with ``password`` for an account with ``email`` (``None``: fine).

    Parameters
    ----------
    password : object
        What was sent.
    email : str
        The (normalised) email of the account.
    min_length : int
        Fewest characters allowed.

    Returns
    -------
    str or None
        A message for the ``password`` field.
    """
    if not isinstance(password, str) or len(password) < min_length:
        return f"use at least {min_length} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"use at most {MAX_PASSWORD_LENGTH} characters"
    if not password.strip():
        return "a password of only spaces is too easy to guess; choose another"
    folded = password.strip().casefold()
    if len(set(folded)) == 1:
        return "a password of one repeated character is too easy to guess; choose another"
    email = email.strip().casefold()
    local = email.split("@", 1)[0]
    if folded in (email, local):
        return "don't use your email address as your password"
    if len(local) >= 4 and folded.startswith(local):
        # Said as it is: "admin pass 123" for admin@… is not "your email address".
        return f"don't start your password with the name of your email address ({local}…)"
    common = common_passwords()
    # Also the common stems with digits or punctuation added at the end ("password123!").
    stem = folded.rstrip("0123456789!?.@#$%*_- ")
    if folded in common or (len(stem) >= 4 and stem in common and stem != folded):
        return "this is one of the most common passwords; choose another"
    return None
