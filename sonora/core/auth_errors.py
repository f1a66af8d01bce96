"""The error of sign-up, log-in and sign-up links (re-exported by :mod:`sonora.core.app`)."""

from __future__ import annotations

__all__ = ["AuthError"]


class AuthError(Exception):
    """Sign-up or log-in refused; ``field`` names what to fix."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        self.field = field
        self.message = message
        self.status = status
        super().__init__(f"{field}: {message}")
