"""Errors of the therapist directory that callers outside the service catch."""

from __future__ import annotations

import datetime as dt

from sonora.errors import SonoraError

__all__ = ["SlotUnavailable"]


class SlotUnavailable(SonoraError):
    """The chosen slot was just taken; ``next_slots`` are the next free ones (UTC)."""

    def __init__(self, start: dt.datetime, next_slots: list[dt.datetime]) -> None:
        self.start = start
        self.next_slots = next_slots
        self.field = "start"
        super().__init__("start: that time was just taken by someone else; please choose another")
