"""Playlists for a goal under the iso principle, explained, charted and exported.

The iso principle (music therapy practice): start where the listener is, then lead
step by step to where they want to be.  :func:`build_arc` picks the first track nearest
the listener's current tension and energy (from the check-in), then, greedily, the
track that moves furthest toward the goal while each step stays within
:class:`StepLimits` in tempo, energy and loudness and never leads away from the goal
(once within a step of it, the arc stays there).  Dislikes are respected (artists,
genres) and, for sleep, tracks estimated to have a voice are left out.

The mapping from a 0–10 check-in to a starting tempo and energy is a plain heuristic
(our own, stated here and in the explanation), not a published formula.

Exports: :func:`to_m3u8` (paths relative to where the playlist is saved) and
:func:`to_xspf` (XSPF 1, with tempo and energy per track as ``<meta>``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote
from xml.etree import ElementTree as ET

from sonora.errors import ParameterError
from sonora.library.repo import Track

__all__ = [
    "GOAL_TARGETS",
    "Arc",
    "StepLimits",
    "arc_svg",
    "build_arc",
    "chart_svg",
    "to_m3u8",
    "to_xspf",
]

#: Where each goal leads: (tempo BPM, energy 0–1, loudness LUFS).
GOAL_TARGETS: dict[str, tuple[float, float, float]] = {
    "sleep": (60.0, 0.15, -26.0),
    "unwind": (70.0, 0.30, -22.0),
    "ease_anxiety": (66.0, 0.25, -23.0),
    "focus": (90.0, 0.45, -18.0),
}


@dataclass(frozen=True)
class StepLimits:
    """Largest change between consecutive tracks.

    Attributes
    ----------
    tempo_bpm : float
    energy : float
        On the analysis's 0–1 energy scale.
    loudness_lu : float
    """

    tempo_bpm: float = 8.0
    energy: float = 0.15
    loudness_lu: float = 4.0


@dataclass
class Arc:
    """An ordered playlist and why it is so."""

    goal: str
    tracks: list[Track]
    limits: StepLimits
    start: tuple[float, float]
    target: tuple[float, float, float]
    notes: list[str] = field(default_factory=list)

    def explanation(self) -> str:
        """The arc in words, for the listener."""
        if not self.tracks:
            return " ".join(self.notes) or "No tracks fit."
        first, last = self.tracks[0], self.tracks[-1]
        text = (
            f"Starts near where you are (about {first.tempo_bpm:.0f} BPM, energy "
            f"{first.energy:.2f}) and moves in {len(self.tracks) - 1} small steps (at most "
            f"{self.limits.tempo_bpm:g} BPM, {self.limits.energy:g} energy and "
            f"{self.limits.loudness_lu:g} LU each) to about {last.tempo_bpm:.0f} BPM, energy "
            f"{last.energy:.2f}, for {self.goal.replace('_', ' ')}. Tempo and energy are "
            "estimates."
        )
        return " ".join([text, *self.notes])


def _usable(t: Track) -> bool:
    return t.error is None and None not in (t.tempo_bpm, t.energy, t.loudness_lufs)


def _within(a: Track, b: Track, lim: StepLimits) -> bool:
    return (
        abs(a.tempo_bpm - b.tempo_bpm) <= lim.tempo_bpm  # type: ignore[operator]
        and abs(a.energy - b.energy) <= lim.energy  # type: ignore[operator]
        and abs(a.loudness_lufs - b.loudness_lufs) <= lim.loudness_lu  # type: ignore[operator]
    )


def _to_goal(t: Track, target: tuple[float, float, float], lim: StepLimits) -> float:
    """Distance to the goal in steps (each dimension divided by its step limit)."""
    return max(
        abs(t.tempo_bpm - target[0]) / lim.tempo_bpm,  # type: ignore[operator]
        abs(t.energy - target[1]) / lim.energy,  # type: ignore[operator]
        abs(t.loudness_lufs - target[2]) / lim.loudness_lu,  # type: ignore[operator]
    )


def build_arc(
    tracks: Iterable[Track],
    *,
    goal: str,
    tension: float,
    energy: float,
    minutes: float = 30.0,
    limits: StepLimits | None = None,
    disliked_artists: Sequence[str] = (),
    disliked_genres: Sequence[str] = (),
    voice_ok_for_sleep: bool = False,
    target: tuple[float, float, float] | None = None,
) -> Arc:
    """An iso-principle arc from the listener's state toward ``goal``.

    Parameters
    ----------
    tracks : iterable of Track
        The listener's analysed tracks.
    goal : {"sleep", "unwind", "ease_anxiety", "focus"}
    tension, energy : float
        Check-in answers, 0–10.
    minutes : float
        Playlist length to fill, 5–720 min.
    limits : StepLimits, optional
    disliked_artists, disliked_genres : sequence of str
        Left out (case-insensitive).
    voice_ok_for_sleep : bool
        Keep tracks likely with voice in sleep arcs (left out by default).
    target : tuple of (float, float, float), optional
        Where the arc leads, (tempo BPM, energy 0–1, loudness LUFS); default
        :data:`GOAL_TARGETS` for the goal (the app passes what it learnt helps).
    """
    if goal not in GOAL_TARGETS:
        raise ParameterError("goal", f"one of {', '.join(GOAL_TARGETS)} (got {goal!r})")
    for name, v in (("tension", tension), ("energy", energy)):
        if not 0 <= v <= 10:
            raise ParameterError(name, f"0 to 10 (got {v})")
    if not 5 <= minutes <= 720:
        raise ParameterError("minutes", f"5 to 720 (got {minutes})")
    lim = limits or StepLimits()
    target = target or GOAL_TARGETS[goal]
    # heuristic: arousal 0–1 from the check-in -> 60–120 BPM and energy 0.1–0.8
    arousal = (tension + energy) / 20.0
    start = (60.0 + 60.0 * arousal, 0.1 + 0.7 * arousal)
    bad_artists = {a.casefold() for a in disliked_artists}
    bad_genres = {g.casefold() for g in disliked_genres}
    notes: list[str] = []
    pool = [t for t in tracks if _usable(t)]
    pool = [
        t
        for t in pool
        if t.artist.casefold() not in bad_artists and t.genre.casefold() not in bad_genres
    ]
    if goal == "sleep" and not voice_ok_for_sleep:
        voiced = [t for t in pool if (t.voice or 0.0) >= 0.5]
        pool = [t for t in pool if (t.voice or 0.0) < 0.5]
        if voiced:
            notes.append(f"{len(voiced)} track(s) likely with voice left out for sleep.")
    if not pool:
        return Arc(goal, [], lim, start, target, [*notes, "No analysed track fits yet."])
    first = min(
        pool,
        key=lambda t: (
            abs(t.tempo_bpm - start[0]) / lim.tempo_bpm  # type: ignore[operator]
            + abs(t.energy - start[1]) / lim.energy
        ),  # type: ignore[operator]
    )
    arc, used = [first], {first.id}
    total_s = first.duration_s or 0.0
    while total_s < minutes * 60.0:
        here = arc[-1]
        # never away from the goal: no farther than here, or within a step of the goal
        bound = max(_to_goal(here, target, lim), 1.0)
        nexts = [
            t
            for t in pool
            if t.id not in used and _within(here, t, lim) and _to_goal(t, target, lim) <= bound
        ]
        if not nexts:
            notes.append(
                "The arc ends where no further track is within a step and no farther from the goal."
            )
            break
        best = min(nexts, key=lambda t: (_to_goal(t, target, lim), t.id))
        arc.append(best)
        used.add(best.id)
        total_s += best.duration_s or 0.0
    return Arc(goal, arc, lim, start, target, notes)


def arc_svg(arc: Arc, *, width: int = 320, height: int = 120) -> str:
    """A small inline SVG: tempo (solid) and energy (dashed) per track."""
    return chart_svg(
        [t.tempo_bpm or 0.0 for t in arc.tracks],
        [t.energy or 0.0 for t in arc.tracks],
        width=width,
        height=height,
    )


def chart_svg(
    tempos_bpm: Sequence[float], energies: Sequence[float], *, width: int = 320, height: int = 120
) -> str:
    """The arc chart from figures per track (a stored playlist has no :class:`Track`).

    Parameters
    ----------
    tempos_bpm, energies : sequence of float
        One value per track, in order (BPM; 0–1).
    width, height : int
        Size of the drawing, CSS pixels.

    Returns
    -------
    str
        ``<svg>`` markup (empty for no tracks): tempo solid (40–160 BPM), energy dashed.
    """
    n = len(tempos_bpm)
    if n == 0:
        return ""
    xs = [20 + (width - 40) * (i / max(n - 1, 1)) for i in range(n)]

    def line(values: list[float], lo: float, hi: float) -> str:
        ys = [height - 15 - (height - 30) * (v - lo) / (hi - lo) for v in values]
        return " ".join(
            f"{x:.1f},{max(5.0, min(height - 5.0, y)):.1f}" for x, y in zip(xs, ys, strict=True)
        )

    tempo = line(list(tempos_bpm), 40.0, 160.0)
    energy = line(list(energies), 0.0, 1.0)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart arc-chart" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Tempo and energy per track (estimates)">'
        f'<polyline fill="none" stroke="currentColor" stroke-width="2" points="{tempo}"/>'
        f'<polyline fill="none" stroke="currentColor" stroke-dasharray="4 3" points="{energy}"/>'
        f'<text x="4" y="12" font-size="10" fill="currentColor">tempo (solid), energy (dashed), estimates</text></svg>'
    )


def to_m3u8(entries: Sequence[tuple[str, Track]], playlist_dir: str) -> str:
    """Extended M3U (UTF-8): ``(absolute path, track)`` pairs, paths relative to
    ``playlist_dir`` with ``/`` separators."""
    lines = ["#EXTM3U"]
    for path, t in entries:
        secs = round(t.duration_s) if t.duration_s else -1
        who = f"{t.artist} - {t.name}" if t.artist else t.name
        lines.append(f"#EXTINF:{secs},{who}")
        lines.append(os.path.relpath(path, playlist_dir).replace(os.sep, "/"))
    return "\n".join(lines) + "\n"


def to_xspf(arc: Arc, entries: Sequence[tuple[str, Track]], playlist_dir: str) -> str:
    """XSPF 1 with relative locations and tempo/energy per track as ``<meta>``."""
    ns = "http://xspf.org/ns/0/"
    ET.register_namespace("", ns)
    root = ET.Element(f"{{{ns}}}playlist", version="1")
    ET.SubElement(root, f"{{{ns}}}title").text = f"Sonora: toward {arc.goal.replace('_', ' ')}"
    ET.SubElement(root, f"{{{ns}}}annotation").text = arc.explanation()
    tl = ET.SubElement(root, f"{{{ns}}}trackList")
    for path, t in entries:
        el = ET.SubElement(tl, f"{{{ns}}}track")
        rel = os.path.relpath(path, playlist_dir).replace(os.sep, "/")
        ET.SubElement(el, f"{{{ns}}}location").text = quote(rel)
        ET.SubElement(el, f"{{{ns}}}title").text = t.name
        if t.artist:
            ET.SubElement(el, f"{{{ns}}}creator").text = t.artist
        if t.duration_s:
            ET.SubElement(el, f"{{{ns}}}duration").text = str(round(t.duration_s * 1000))
        for rel_name, value in (
            ("https://sonora.invalid/tempo_bpm_estimate", f"{t.tempo_bpm:.1f}"),
            ("https://sonora.invalid/energy_estimate", f"{t.energy:.3f}"),
        ):
            ET.SubElement(el, f"{{{ns}}}meta", rel=rel_name).text = value
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
