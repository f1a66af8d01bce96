"""Storage errors a caller is expected to handle (shared by every feature's repository)."""

from __future__ import annotations

from sonora.errors import SonoraError

__all__ = ["NotFound", "StoreError"]


class StoreError(SonoraError):
    """Base class of storage errors a caller is expected to handle."""


class NotFound(StoreError, LookupError):
    """No such row for this listener (it may exist for someone else)."""

    def __init__(self, what: str, ident: str) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"{what} {ident!r} not found")
