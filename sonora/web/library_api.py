"""JSON API of the music library (issue #16): folders, scans, tracks, playlists.

Tempo, key and voice are Sonora's estimates and the API says so (``estimates``).
Starting a scan is limited per account (``SONORA_LIMIT_SCANS_PER_ACCOUNT``, by the
rate-limit middleware and again by the service, which the CLI shares).  A playlist is
made from a check-in (``POST /api/library/playlists``, counted with the check-ins'
limits); its check-out is its plan's (``POST /api/plans/{plan_id}/outcome``).  Exports
count with the downloads' limits.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sonora.library.playlist import chart_svg
from sonora.library.repo import Folder, Scan, Track
from sonora.library.service import OFF_MESSAGE, ScanLimitReached
from sonora.web.api import CheckInIn
from sonora.web.deps import CoreDep, UserDep, api_csrf

__all__ = ["folder_json", "playlist_json", "router", "scan_json", "track_json"]

router = APIRouter(prefix="/api/library", dependencies=[Depends(api_csrf)], tags=["library"])

#: What the listener reads next to tempo, key and voice.
ESTIMATES_NOTE = "Tempo, key and voice are Sonora's estimates from the audio, not facts."


class FolderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=4096, description="A folder inside an allowed root.")


def folder_json(f: Folder) -> dict[str, Any]:
    return {"id": f.id, "path": f.path}


def scan_json(s: Scan | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "id": s.id, "state": s.state, "active": s.active, "progress": round(s.progress, 3),
        "files_seen": s.files_seen, "to_analyse": s.to_analyse, "analysed": s.analysed,
        "failed": s.failed, "removed": s.removed, "message": s.message,
    }  # fmt: skip


def track_json(t: Track) -> dict[str, Any]:
    return {
        "id": t.id, "name": t.name, "artist": t.artist, "album": t.album, "genre": t.genre,
        "codec": t.codec, "duration_s": t.duration_s, "tempo_bpm_estimate": t.tempo_bpm,
        "key_estimate": t.key, "voice_estimate": t.voice, "energy": t.energy,
        "loudness_lufs": t.loudness_lufs, "error": t.error,
    }  # fmt: skip


def limit_response(exc: ScanLimitReached) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "field": "scan"},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


@router.get("")
async def library(user: UserDep, core: CoreDep) -> dict[str, Any]:
    """This listener's folders, latest scan and tracks (with Sonora's estimates)."""
    lib = core.library

    def read() -> dict[str, Any]:
        return {
            "enabled": lib.enabled,
            "message": "" if lib.enabled else OFF_MESSAGE,
            "estimates": ESTIMATES_NOTE,
            "folders": [folder_json(f) for f in lib.folders(user.id)],
            "scan": scan_json(lib.latest_scan(user.id)),
            "tracks": [track_json(t) for t in lib.tracks(user.id)],
        }

    return await run_in_threadpool(read)


@router.post("/folders", status_code=201)
async def add_folder(body: FolderIn, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Add a folder of music (inside ``SONORA_LIBRARY_ROOTS``; never modified)."""
    folder = await run_in_threadpool(core.library.add_folder, user.id, body.path)
    return folder_json(folder)


@router.post("/scans", status_code=202, response_model=None)
async def start_scan(user: UserDep, core: CoreDep) -> dict[str, Any] | JSONResponse:
    """Queue a scan of all this listener's folders (or return the one under way)."""
    try:
        scan = await run_in_threadpool(core.library.start_scan, user.id)
    except ScanLimitReached as exc:
        return limit_response(exc)
    return scan_json(scan) or {}


@router.get("/scan")
async def latest_scan(user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Progress of this listener's latest scan (``scan`` is null before the first)."""
    return {"scan": scan_json(await run_in_threadpool(core.library.latest_scan, user.id))}


#: Content types of the formats a scan reads (browsers need them to play).
_MEDIA_TYPES = {
    ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".opus": "audio/ogg", ".m4a": "audio/mp4", ".aac": "audio/aac", ".mp4": "audio/mp4",
    ".wav": "audio/wav",
}  # fmt: skip


@router.get("/tracks/{track_id}/audio", response_model=None)
async def track_audio(track_id: str, user: UserDep, core: CoreDep) -> FileResponse:
    """The track's file, with HTTP range requests (seeking), for this listener only."""
    path = await run_in_threadpool(core.library.audio_path, user.id, track_id)
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
        headers={"Cache-Control": "private, no-store"},
    )


# -- playlists ---------------------------------------------------------------------------
class PlaylistIn(CheckInIn):
    """A check-in whose session is a playlist of your own music."""

    sound_layer: bool = Field(
        default=False, description="Play the session's Sonora sound under and between tracks"
    )


class PlaylistTrackOut(BaseModel):
    """One track of an arc with Sonora's estimates at build time."""

    id: str
    name: str
    artist: str
    duration_s: float | None
    tempo_bpm_estimate: float
    energy_estimate: float
    loudness_lufs: float
    audio_url: str


class PlaylistOut(BaseModel):
    """An arc of your music for a goal, explained (figures are estimates)."""

    id: str
    goal: str
    plan_id: str
    checkin_id: str | None
    created_at: str
    sound_layer: bool
    explanation: str
    estimates: str
    shape: str
    limits: dict[str, float]
    largest_step: dict[str, float]
    learned_target: bool
    tracks: list[PlaylistTrackOut]
    chart_svg: str
    outcome: dict[str, Any] | None
    exports: dict[str, str]


class PlaylistsOut(BaseModel):
    """Your playlists, newest first."""

    playlists: list[PlaylistOut]


class PrefsIn(BaseModel):
    """What to leave out of your playlists."""

    model_config = ConfigDict(extra="forbid")
    disliked_artists: list[str] = Field(default_factory=list, max_length=100)
    disliked_genres: list[str] = Field(default_factory=list, max_length=100)
    voice_ok_for_sleep: bool = False


class PrefsOut(BaseModel):
    """What is left out of your playlists."""

    disliked_artists: list[str]
    disliked_genres: list[str]
    voice_ok_for_sleep: bool


def playlist_json(p: dict[str, Any]) -> dict[str, Any]:
    """A stored playlist as :class:`PlaylistOut` (and the page) show it."""
    tracks = p.get("tracks") or []
    base = f"/api/library/playlists/{p['id']}/export?format="
    return {
        "id": p["id"], "goal": p["goal"], "plan_id": p.get("plan_id", ""),
        "checkin_id": p.get("checkin_id"), "created_at": p["created_at"].isoformat(),
        "sound_layer": bool(p.get("sound_layer")), "explanation": p.get("explanation", ""),
        "estimates": "Tempo and energy are Sonora's estimates from the audio, not facts.",
        "shape": p.get("shape", ""), "limits": p.get("limits") or {},
        "largest_step": p.get("largest_step") or {},
        "learned_target": bool(p.get("learned_target")),
        "tracks": [
            {
                "id": t["id"], "name": t["name"], "artist": t.get("artist", ""),
                "duration_s": t.get("duration_s"), "tempo_bpm_estimate": t["tempo_bpm"],
                "energy_estimate": t["energy"], "loudness_lufs": t["loudness_lufs"],
                "audio_url": f"/api/library/tracks/{t['id']}/audio",
            }
            for t in tracks
        ],
        "chart_svg": chart_svg([t["tempo_bpm"] for t in tracks], [t["energy"] for t in tracks]),
        "outcome": p.get("outcome"),
        "exports": {"m3u8": base + "m3u8", "xspf": base + "xspf"},
    }  # fmt: skip


@router.post("/playlists", status_code=201, response_model=PlaylistOut)
async def create_playlist(body: PlaylistIn, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Check in and get an arc of your music toward your goal (check out of its plan)."""
    answers = body.model_dump(exclude_none=True, exclude={"sound_layer"})
    _, _, playlist = await run_in_threadpool(
        lambda: core.check_in_music(user, answers, sound_layer=body.sound_layer)
    )
    return playlist_json(playlist)


@router.get("/playlists", response_model=PlaylistsOut)
async def list_playlists(user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Your latest 20 playlists, newest first."""
    found = await run_in_threadpool(core.library.playlists, user.id)
    return {"playlists": [playlist_json(p) for p in found]}


@router.get("/playlists/{playlist_id}", response_model=PlaylistOut)
async def get_playlist(playlist_id: str, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """One of your playlists."""
    return playlist_json(await run_in_threadpool(core.library.playlist, user.id, playlist_id))


@router.get("/playlists/{playlist_id}/export", response_model=None)
async def export_playlist(
    playlist_id: str,
    user: UserDep,
    core: CoreDep,
    format: str = Query("m3u8", description="m3u8 (relative paths) or xspf (tempo and energy)"),
) -> Response:
    """The playlist for another player; save it in the folder its paths start from."""
    name, text, media = await run_in_threadpool(core.library.export, user.id, playlist_id, format)
    return Response(
        text,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/prefs", response_model=PrefsOut)
async def get_prefs(user: UserDep, core: CoreDep) -> dict[str, Any]:
    """What your playlists leave out."""
    return await run_in_threadpool(core.library.prefs, user.id)


@router.put("/prefs", response_model=PrefsOut)
async def put_prefs(body: PrefsIn, user: UserDep, core: CoreDep) -> dict[str, Any]:
    """Leave artists and genres out of your playlists (and voices out for sleep)."""
    return await run_in_threadpool(
        lambda: core.library.set_prefs(
            user.id,
            disliked_artists=body.disliked_artists,
            disliked_genres=body.disliked_genres,
            voice_ok_for_sleep=body.voice_ok_for_sleep,
        )
    )
