"""JSON API of the music library (issue #16): folders, scans, tracks.

Tempo, key and voice are Sonora's estimates and the API says so (``estimates``).
Starting a scan is limited per account (``SONORA_LIMIT_SCANS_PER_ACCOUNT``, by the
rate-limit middleware and again by the service, which the CLI shares).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sonora.library.repo import Folder, Scan, Track
from sonora.library.service import OFF_MESSAGE, ScanLimitReached
from sonora.web.deps import CoreDep, UserDep, api_csrf

__all__ = ["folder_json", "router", "scan_json", "track_json"]

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
