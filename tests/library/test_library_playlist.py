"""Iso-principle arcs (steps within the limits, dislikes, no voice for sleep) and their
M3U8 / XSPF exports read back with a line parser and xml.etree."""

from __future__ import annotations

import random
from itertools import pairwise
from xml.etree import ElementTree as ET

import pytest

from sonora.errors import ParameterError
from sonora.library.playlist import StepLimits, arc_svg, build_arc, to_m3u8, to_xspf
from sonora.library.repo import Track


def _track(i: int, bpm: float, energy: float, lufs: float, **kw) -> Track:
    base = dict(
        id=f"{i:032x}", folder_id="f", rel_path=f"Album/{i:02d} song.flac", size_bytes=1,
        mtime_ns=1, title=f"Song {i}", artist="Band", album="A", genre="ambient", codec="flac",
        duration_s=240.0, tempo_bpm=bpm, energy=energy, loudness_lufs=lufs, voice=0.1,
        key="C major", analysis={}, error=None,
    )  # fmt: skip
    base.update(kw)
    return Track(**base)


@pytest.fixture
def library():
    rng = random.Random(4)
    out = []
    for i in range(80):
        bpm = rng.uniform(50, 150)
        e = min(1.0, max(0.0, (bpm - 50) / 120 + rng.uniform(-0.1, 0.1)))
        out.append(_track(i, bpm, e, -30 + 14 * e + rng.uniform(-1, 1)))
    return out


def test_sleep_arc_starts_near_the_listener_and_never_steps_over_the_limits(library):
    lim = StepLimits(tempo_bpm=8, energy=0.15, loudness_lu=4)
    arc = build_arc(library, goal="sleep", tension=8, energy=7, minutes=60, limits=lim)
    assert len(arc.tracks) >= 5
    first = arc.tracks[0]
    assert abs(first.tempo_bpm - (60 + 60 * 0.75)) < 15  # a tense, awake listener starts fast
    for a, b in pairwise(arc.tracks):
        assert abs(a.tempo_bpm - b.tempo_bpm) <= lim.tempo_bpm
        assert abs(a.energy - b.energy) <= lim.energy
        assert abs(a.loudness_lufs - b.loudness_lufs) <= lim.loudness_lu
    assert arc.tracks[-1].tempo_bpm < first.tempo_bpm - 20  # led toward sleep
    assert len({t.id for t in arc.tracks}) == len(arc.tracks)
    assert "estimates" in arc.explanation() and "small steps" in arc.explanation()
    svg = ET.fromstring(arc_svg(arc))
    assert svg.tag.endswith("svg") and len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 2


def test_dislikes_and_voices_for_sleep_are_left_out(library):
    extra = [
        _track(100, 100, 0.4, -22, artist="Loud Co"),
        _track(101, 100, 0.4, -22, genre="Metal"),
        _track(102, 100, 0.4, -22, voice=0.9),
    ]
    arc = build_arc(
        library + extra, goal="sleep", tension=5, energy=5, minutes=720,
        disliked_artists=["loud co"], disliked_genres=["metal"],
    )  # fmt: skip
    ids = {t.id for t in arc.tracks}
    assert not ids & {t.id for t in extra}
    assert "voice left out" in arc.explanation()
    focus = build_arc(library + extra, goal="focus", tension=5, energy=5, minutes=720)
    assert "voice left out" not in focus.explanation()  # voices are left out for sleep only


def test_bad_input_names_the_field(library):
    for kw, field in (
        ({"goal": "party"}, "goal"),
        ({"tension": 11}, "tension"),
        ({"minutes": 1}, "minutes"),
    ):
        args = {"goal": "sleep", "tension": 5, "energy": 5, "minutes": 30, **kw}
        with pytest.raises(ParameterError) as err:
            build_arc(library, **args)
        assert err.value.field == field


def test_m3u8_and_xspf_list_the_right_files_relative(library, tmp_path):
    arc = build_arc(library, goal="unwind", tension=6, energy=4, minutes=30)
    music = tmp_path / "Music"
    entries = [(str(music / t.rel_path), t) for t in arc.tracks]
    m3u = to_m3u8(entries, str(tmp_path))
    lines = m3u.splitlines()
    assert lines[0] == "#EXTM3U"
    paths = [ln for ln in lines[1:] if ln and not ln.startswith("#")]
    infos = [ln for ln in lines if ln.startswith("#EXTINF:")]
    assert paths == [f"Music/{t.rel_path}" for t in arc.tracks]
    assert len(infos) == len(paths) and infos[0].startswith("#EXTINF:240,Band - Song")
    root = ET.fromstring(to_xspf(arc, entries, str(tmp_path)))
    ns = {"x": "http://xspf.org/ns/0/"}
    locs = [e.text for e in root.findall("x:trackList/x:track/x:location", ns)]
    assert locs == [
        f"Music/Album/{t.rel_path.split('/')[1].replace(' ', '%20')}" for t in arc.tracks
    ]
    metas = root.findall("x:trackList/x:track/x:meta", ns)
    tempos = [float(m.text) for m in metas if m.get("rel").endswith("tempo_bpm_estimate")]
    assert tempos == pytest.approx([t.tempo_bpm for t in arc.tracks], abs=0.06)
