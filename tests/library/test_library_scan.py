"""Allowed roots, incremental scans, scan jobs that survive a restart, export/delete."""

from __future__ import annotations

import hashlib
import os

import pytest
import trackgen as tg

from sonora.core.database import Database
from sonora.errors import ParameterError
from sonora.library.repo import SqlLibraryRepo
from sonora.library.scan import ScanRunner, allowed_folder, scan_folder


def test_folders_outside_the_allowed_roots_are_refused(tmp_path):
    music = tmp_path / "Music"
    music.mkdir()
    (music / "escape").symlink_to("/etc")
    assert allowed_folder(str(music), [str(tmp_path)]) == music.resolve()
    for bad in ("/etc", str(music / "escape"), "Music", str(tmp_path / ".." / "..")):
        with pytest.raises(ParameterError) as err:
            allowed_folder(bad, [str(tmp_path)])
        assert err.value.field == "path"
    with pytest.raises(ParameterError, match="SONORA_LIBRARY_ROOTS"):
        allowed_folder(str(music), [])


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    root = tmp_path_factory.mktemp("music")
    for i, fmt in enumerate(("flac", "mp3", "opus")):
        tg.write_track(tg.TrackSpec(bpm=60 + 20 * i, fmt=fmt, duration_s=8.0, seed=i), root / "A")
    (root / "A" / "cover.jpg").write_bytes(b"\xff\xd8")
    return root


def _digest(root):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def test_scans_are_incremental_and_never_touch_the_files(music, tmp_path):
    db = Database.open("sqlite://")
    repo = SqlLibraryRepo(db)
    user = db.create_user()
    folder = repo.add_folder(user.id, str(music))
    before = _digest(music)
    first = scan_folder(repo, user.id, folder.id, music)
    assert (first.files_seen, first.analysed, first.failed) == (3, 3, 0)
    again = scan_folder(repo, user.id, folder.id, music)
    assert (again.files_seen, again.analysed) == (3, 0)
    flac = next(music.rglob("*.flac"))
    st = flac.stat()
    os.utime(flac, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    changed = scan_folder(repo, user.id, folder.id, music)
    assert changed.analysed == 1
    assert _digest(music) == before
    tracks = repo.tracks(user.id)
    assert {t.codec for t in tracks} == {"flac", "mp3", "opus"}
    assert all(t.tempo_bpm and t.key for t in tracks)
    # export lists them; delete removes Sonora's rows and leaves the music
    exported = db.export_user(user.id)["library"]
    assert len(exported["tracks"]) == 3 and exported["folders"][0]["path"] == str(music)
    db.delete_user(user.id)
    assert repo.tracks(user.id) == []
    assert _digest(music) == before


def test_a_scan_left_running_by_a_restart_is_finished(music, tmp_path):
    db = Database.open(f"sqlite:///{tmp_path}/lib.db")
    repo = SqlLibraryRepo(db)
    user = db.create_user()
    repo.add_folder(user.id, str(music))
    scan = repo.new_scan(user.id)
    repo.update_scan(scan.id, state="running")  # the process died mid-scan
    runner = ScanRunner(SqlLibraryRepo(Database.open(f"sqlite:///{tmp_path}/lib.db")), [str(music)])
    runner.start()
    runner.wait_idle(120)
    runner.stop()
    done = repo.scan(scan.id)
    assert done.state == "done" and done.analysed == 3 and done.progress == 1.0
