"""The library service: the roots setting, the per-account scan limit, background jobs
through ``run_scan(core, scan_id)``, and one listener never seeing another's scans."""

from __future__ import annotations

import datetime as dt

import pytest
import trackgen as tg
from webkit import web_settings

from sonora.core.app import Core
from sonora.errors import ParameterError
from sonora.library.service import OFF_MESSAGE, ScanLimitReached, run_scan
from sonora.store import NotFound


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    root = tmp_path_factory.mktemp("roots") / "Music"
    for i, fmt in enumerate(("flac", "mp3")):
        tg.write_track(tg.TrackSpec(bpm=64 + 30 * i, fmt=fmt, duration_s=8.0, seed=i), root / "A")
    return root


def _core(tmp_path, **over):
    return Core(web_settings(tmp_path, **over))


def test_the_roots_setting_is_split_on_the_path_separator(tmp_path):
    s = web_settings(tmp_path, library_roots=" /srv/music : ~/Music ::")
    assert s.library_root_paths[0] == "/srv/music"
    assert s.library_root_paths[1].endswith("/Music") and not s.library_root_paths[1].startswith(
        "~"
    )
    assert len(s.library_root_paths) == 2
    assert web_settings(tmp_path).library_root_paths == []


def test_without_roots_the_library_is_off_and_says_so(tmp_path, music):
    core = _core(tmp_path)
    user = core.accounts.create_user()
    assert not core.library.enabled
    with pytest.raises(ParameterError, match="SONORA_LIBRARY_ROOTS") as err:
        core.library.add_folder(user.id, str(music))
    assert err.value.field == "path"
    with pytest.raises(ParameterError) as err:
        core.library.start_scan(user.id)
    assert err.value.message == OFF_MESSAGE
    assert core.library.folders(user.id) == []
    core.close()


def test_folders_outside_the_roots_are_refused_and_nothing_is_stored(tmp_path, music):
    core = _core(tmp_path, library_roots=str(music.parent))
    user = core.accounts.create_user()
    with pytest.raises(ParameterError) as err:
        core.library.add_folder(user.id, "/etc")
    assert err.value.field == "path" and "inside an allowed folder" in err.value.message
    assert core.library.folders(user.id) == []
    with pytest.raises(ParameterError, match="add a folder"):
        core.library.start_scan(user.id)
    folder = core.library.add_folder(user.id, str(music / "A" / ".."))
    assert folder.path == str(music.resolve())
    assert core.library.add_folder(user.id, str(music)).id == folder.id
    core.close()


def test_background_scans_run_through_the_job_entry_point(tmp_path, music):
    core = _core(tmp_path, library_roots=str(music.parent))
    alice = core.accounts.create_user()
    bob = core.accounts.create_user()
    core.library.add_folder(alice.id, str(music))
    ran: list[str] = []

    def job(scan_id: str) -> None:
        ran.append(scan_id)
        run_scan(core, scan_id)

    core.library.start_background(job)
    scan = core.library.start_scan(alice.id)
    core.library.wait_idle(120)
    done = core.library.scan(alice.id, scan.id)
    assert ran == [scan.id]
    assert (done.state, done.files_seen, done.analysed, done.failed) == ("done", 2, 2, 0)
    assert done.progress == 1.0
    tracks = core.library.tracks(alice.id)
    assert sorted(round(t.tempo_bpm or 0) for t in tracks) == [64, 94]
    assert core.library.tracks(bob.id) == []
    with pytest.raises(NotFound):
        core.library.scan(bob.id, scan.id)
    core.close()


def test_a_queued_scan_is_reused_and_the_limit_counts_per_account(tmp_path, music):
    core = _core(tmp_path, library_roots=str(music.parent), limit_scans_per_account="2/1h")
    alice = core.accounts.create_user()
    bob = core.accounts.create_user()
    for user in (alice, bob):
        core.library.add_folder(user.id, str(music))
    first = core.library.start_scan(alice.id)  # no worker: it stays queued
    assert core.library.start_scan(alice.id).id == first.id
    run_scan(core, first.id)
    second = core.library.start_scan(alice.id)
    run_scan(core, second.id)
    assert run_scan(core, second.id).analysed == 0  # repeating a finished job does nothing
    with pytest.raises(ScanLimitReached) as err:
        core.library.start_scan(alice.id)
    assert 3000 < err.value.retry_after_s <= 3601
    assert core.library.start_scan(bob.id).user_id == bob.id  # Bob has his own allowance
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, seconds=5)
    assert core.library.start_scan(alice.id, now=later).state == "queued"
    core.close()


def test_playback_paths_stay_inside_the_folder(tmp_path):
    root = tmp_path / "roots" / "Music"
    tg.write_track(tg.TrackSpec(bpm=70, fmt="wav", duration_s=4.0, seed=5), root, "a.wav")
    core = _core(tmp_path, library_roots=str(tmp_path / "roots"))
    user = core.accounts.create_user()
    core.library.add_folder(user.id, str(root))
    run_scan(core, core.library.start_scan(user.id).id)
    (track,) = core.library.tracks(user.id)
    assert core.library.audio_path(user.id, track.id) == (root / "a.wav").resolve()
    (root / "a.wav").unlink()
    (root / "a.wav").symlink_to("/etc/hostname")  # swapped for a link after the scan
    with pytest.raises(NotFound):
        core.library.audio_path(user.id, track.id)
    other = core.accounts.create_user()
    with pytest.raises(NotFound):
        core.library.audio_path(other.id, track.id)
    core.close()
