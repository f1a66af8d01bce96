"""What the check-in form needs of the music library (issue #16), without the library's
API (which imports :mod:`sonora.web.api`, itself importing the pages lazily)."""

from __future__ import annotations

from sonora.core.app import Core

__all__ = ["music_ready", "playlist_of_plan"]


def music_ready(core: Core, user_id: str) -> bool:
    """Whether the check-in form offers "my music" (the library is on and has a track)."""
    return core.library.enabled and core.library.has_tracks(user_id)


def playlist_of_plan(core: Core, user_id: str, plan_id: str) -> str | None:
    """The id of the playlist made for this plan's check-in (``None``: a sound session)."""
    rec = core.listening.get_plan(user_id, plan_id)
    found = core.library.playlist_for_checkin(user_id, rec.checkin_id)
    return None if found is None else str(found["id"])
