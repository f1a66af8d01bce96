"""Generated music with known tempo, key, mode and loudness, in every format Sonora reads.

No downloads and no binary fixtures: each track is synthesised from a :class:`TrackSpec`
(seeded, so the same spec gives the same samples) and encoded like a listener's files
are: FLAC, WAV and Ogg Vorbis through soundfile, MP3, AAC (``.m4a``) and Ogg Opus through
PyAV, each with title/artist/album/genre tags.

The music is deliberately *music-like* rather than a click track, so a tempo estimator
has the problems real music gives it:

* ``straight``: kick on beats 1 and 3, snare on 2 and 4, hi-hat eighths (the eighths
  tempt an estimator to double);
* ``swing``: hi-hat eighths swung (the off-beat at 2/3 of the beat), brushed snare;
* ``rubato``: no drums, the tempo drifts ±3 % around the stated tempo (a slow sine);
* ``sparse``: a soft kick on beat 1 of every bar only, a shaker now and then; bass and
  melody carry the beat (tempts an estimator to halve, or to lock onto the bar).

Harmony: a I–IV–I–V (major) or i–iv–i–V (harmonic minor) progression, one chord per bar,
as a soft pad; a bass note on every beat; a plucked melody from the scale.  ``voice``
adds a sung-like line (a harmonic tone through vowel formants with a 5.5 Hz vibrato),
which the voice/instrumental estimate should notice.

Used by ``tests/library`` and ``benchmarks/library.py`` (which puts this folder on
``sys.path``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal

__all__ = [
    "FORMATS",
    "KEY_NAMES",
    "STYLES",
    "TrackSpec",
    "encode",
    "random_specs",
    "synthesise",
    "write_track",
]

#: File formats (extension) the generator writes.
FORMATS = ("flac", "wav", "ogg", "opus", "mp3", "m4a")
#: Rhythm styles, see the module docstring.
STYLES = ("straight", "swing", "rubato", "sparse")
#: Pitch-class names, index = semitones above C.
KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor: a raised 7th for the V chord


@dataclass(frozen=True)
class TrackSpec:
    """What a generated track is (the ground truth the analysis is scored against).

    Attributes
    ----------
    bpm : float
        Tempo in beats (quarter notes) per minute; the mean tempo for ``rubato``.
    tonic : int
        Key tonic as a pitch class, 0 = C … 11 = B.
    mode : str
        ``"major"`` or ``"minor"``.
    style : str
        One of :data:`STYLES`.
    loudness_lufs : float
        Integrated loudness (BS.1770) of the synthesised audio, LUFS.
    duration_s : float
        Length in seconds.
    voice : bool
        Whether a sung-like line is present.
    arc : str
        ``"steady"``, ``"settle"`` (ends ~8 dB quieter and darker) or ``"build"``.
    seed : int
        Seed of every random choice (melody, drum ghost notes, noise).
    fmt : str
        One of :data:`FORMATS` (the file extension).
    title, artist, album, genre : str
        Tags written into the file.
    """

    bpm: float
    tonic: int = 0
    mode: str = "major"
    style: str = "straight"
    loudness_lufs: float = -18.0
    duration_s: float = 30.0
    voice: bool = False
    arc: str = "steady"
    seed: int = 0
    fmt: str = "flac"
    title: str = "Generated"
    artist: str = "Sonora Test Band"
    album: str = "Generated Tracks"
    genre: str = "Ambient"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key_name(self) -> str:
        """E.g. ``"F# minor"``."""
        return f"{KEY_NAMES[self.tonic]} {self.mode}"

    @property
    def sample_rate(self) -> int:
        """The synthesis rate: 48 kHz for Opus (its native rate), else 44.1 kHz."""
        return 48_000 if self.fmt == "opus" else 44_100


def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12)


def _beat_times(spec: TrackSpec) -> np.ndarray:
    """Beat onsets in seconds (rubato: the tempo drifts ±3 % on a slow sine)."""
    n = int(spec.duration_s * spec.bpm / 60) + 2
    if spec.style != "rubato":
        return np.arange(n) * 60.0 / spec.bpm
    rng = np.random.default_rng(spec.seed + 7)
    period_beats = rng.uniform(12, 24)
    phase = rng.uniform(0, 2 * np.pi)
    k = np.arange(n)
    local_bpm = spec.bpm * (1 + 0.03 * np.sin(2 * np.pi * k / period_beats + phase))
    return np.concatenate([[0.0], np.cumsum(60.0 / local_bpm)[:-1]])


def _add(out: np.ndarray, start_s: float, sound: np.ndarray, sr: int) -> None:
    i = round(start_s * sr)
    if i >= len(out) or i < 0:
        return
    j = min(len(out), i + len(sound))
    out[i:j] += sound[: j - i]


def _pluck(freq_hz: float, dur_s: float, sr: int, *, bright: float = 1.0) -> np.ndarray:
    t = np.arange(int(dur_s * sr)) / sr
    y = np.zeros_like(t)
    for h in range(1, 6):
        if freq_hz * h > sr / 2.5:
            break
        y += (bright**h / h) * np.sin(2 * np.pi * freq_hz * h * t) * np.exp(-t * (2.5 + 1.5 * h))
    attack = np.minimum(1.0, t / 0.004)
    return (y * attack).astype(np.float64)


def _bass(freq_hz: float, dur_s: float, sr: int) -> np.ndarray:
    t = np.arange(int(dur_s * sr)) / sr
    y = np.sin(2 * np.pi * freq_hz * t) + 0.35 * np.sin(4 * np.pi * freq_hz * t)
    return y * np.exp(-t * 4.0) * np.minimum(1.0, t / 0.006)


def _kick(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.35 * sr)) / sr
    f = 45 + 90 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t * 9)


def _noise_hit(sr: int, rng: np.random.Generator, *, dur_s: float, lo_hz: float, decay: float):
    n = int(dur_s * sr)
    t = np.arange(n) / sr
    sos = signal.butter(2, [lo_hz, min(0.45 * sr, lo_hz * 4)], btype="band", fs=sr, output="sos")
    return signal.sosfilt(sos, rng.standard_normal(n)) * np.exp(-t * decay)


def _voice(freq_hz: float, dur_s: float, sr: int, vowel: int) -> np.ndarray:
    """A sung-like note: harmonics with vibrato through two vowel formants."""
    t = np.arange(int(dur_s * sr)) / sr
    vib = 1 + 0.012 * np.sin(2 * np.pi * 5.5 * t) * np.minimum(1.0, t / 0.3)
    phase = 2 * np.pi * np.cumsum(freq_hz * vib) / sr
    formants = ((700, 1200), (400, 2000), (300, 900))[vowel % 3]
    y = np.zeros_like(t)
    for h in range(1, 16):
        fh = freq_hz * h
        if fh > sr / 2.5:
            break
        g = sum(1.0 / (1 + ((fh - f) / 120.0) ** 2) for f in formants) + 0.02
        y += g * np.sin(h * phase) / h**0.5
    env = np.minimum(1.0, t / 0.08) * np.minimum(1.0, (dur_s - t) / 0.12)
    return y * np.clip(env, 0, 1)


def synthesise(spec: TrackSpec) -> np.ndarray:
    """The track's audio, float32 ``(2, frames)`` at ``spec.sample_rate``, at its loudness.

    Parameters
    ----------
    spec : TrackSpec
        What to make.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(2, round(duration_s * sample_rate))``, integrated loudness
        ``spec.loudness_lufs`` (±0.1 LU), peaks below 0 dBFS.
    """
    from sonora.engine.loudness import integrated_lufs

    sr = spec.sample_rate
    rng = np.random.default_rng(spec.seed)
    n = int(spec.duration_s * sr)
    music = np.zeros(n)
    drums = np.zeros(n)
    voice = np.zeros(n)
    pad = np.zeros(n)
    scale = _MAJOR if spec.mode == "major" else _MINOR
    root = 48 + spec.tonic  # C3 .. B3
    beats = _beat_times(spec)
    beats = beats[beats < spec.duration_s]
    beat_s = 60.0 / spec.bpm
    # chords per bar: degree indices into the scale (I IV I V)
    progression = (0, 3, 0, 4)
    kick = _kick(sr, rng)
    for b, t0 in enumerate(beats):
        bar, pos = divmod(b, 4)
        degree = progression[bar % 4]
        chord = [scale[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        if pos == 0:  # a soft pad for the bar (no attack: harmony, not rhythm)
            bar_end = beats[b + 4] if b + 4 < len(beats) else t0 + 4 * beat_s
            dur = bar_end - t0
            tt = np.arange(int(dur * sr)) / sr
            env = np.minimum(1.0, tt / 0.35) * np.minimum(1.0, (dur - tt) / 0.2)
            tone = sum(np.sin(2 * np.pi * _midi_hz(root + 12 + c) * tt) for c in chord)
            _add(pad, t0, 0.08 * tone * np.clip(env, 0, 1), sr)
        # bass: the chord root on every beat, accented on 1
        _add(
            music,
            t0,
            (0.55 if pos == 0 else 0.4)
            * _bass(_midi_hz(root - 12 + chord[0]), min(beat_s, 1.2), sr),
            sr,
        )
        # melody: a chord tone on most beats, a passing eighth now and then
        if rng.random() < 0.85:
            note = root + 12 + chord[int(rng.integers(3))] + (12 if rng.random() < 0.3 else 0)
            _add(music, t0, 0.3 * _pluck(_midi_hz(note), min(1.5 * beat_s, 2.0), sr), sr)
        if rng.random() < 0.25:
            note = root + 12 + scale[int(rng.integers(7))]
            _add(music, t0 + beat_s / 2, 0.15 * _pluck(_midi_hz(note), beat_s / 2, sr), sr)
        # drums
        off = beat_s * (2 / 3 if spec.style == "swing" else 1 / 2)
        if spec.style in ("straight", "swing"):
            if pos in (0, 2):
                _add(drums, t0, 0.7 * kick, sr)
            if pos in (1, 3):
                hit = _noise_hit(
                    sr,
                    rng,
                    dur_s=0.2,
                    lo_hz=1500 if spec.style == "straight" else 2500,
                    decay=25 if spec.style == "straight" else 14,
                )
                _add(drums, t0, (0.35 if spec.style == "straight" else 0.18) * hit, sr)
            hat = _noise_hit(sr, rng, dur_s=0.06, lo_hz=6000, decay=70)
            _add(drums, t0, 0.12 * hat, sr)
            _add(drums, t0 + off, 0.09 * hat, sr)
        elif spec.style == "sparse":
            if pos == 0:
                _add(drums, t0, 0.45 * kick, sr)
            if rng.random() < 0.15:
                _add(
                    drums, t0 + off, 0.05 * _noise_hit(sr, rng, dur_s=0.1, lo_hz=5000, decay=40), sr
                )
        if spec.voice and pos in (0, 2):
            note = root + 12 + chord[int(rng.integers(3))]
            _add(
                voice, t0, 0.12 * _voice(_midi_hz(note), 1.9 * beat_s, sr, int(rng.integers(3))), sr
            )
    mono = music + drums + pad + voice
    t = np.arange(n) / sr
    if spec.arc != "steady":  # a slow gain ramp of 8 dB and a darkening/brightening
        ramp_db = (
            -8.0 * t / spec.duration_s if spec.arc == "settle" else -8.0 * (1 - t / spec.duration_s)
        )
        mono = mono * 10 ** (ramp_db / 20)
    stereo = np.stack([mono, np.roll(mono, int(0.0007 * sr)) * 0.97 + 0.03 * mono])
    fade = np.minimum(1.0, np.minimum(t / 0.02, (spec.duration_s - t) / 0.5))
    stereo *= fade
    measured = integrated_lufs(stereo, sr)
    stereo *= 10 ** ((spec.loudness_lufs - measured) / 20)
    peak = float(np.max(np.abs(stereo)))
    if peak > 0.98:  # soft-limit the rare loud peak (rarely more than a dB of change)
        stereo = np.tanh(stereo / 0.98) * 0.98
    return stereo.astype(np.float32)


def encode(audio: np.ndarray, sample_rate: int, path: str | Path, spec: TrackSpec) -> Path:
    """Write ``(2, frames)`` float audio to ``path`` in ``spec.fmt``, tagged, atomically.

    FLAC, WAV and Ogg Vorbis are written with soundfile in 8192-frame blocks
    (libsndfile's Vorbis encoder crashed the interpreter when handed 60 s in one
    write); MP3 (LAME), AAC in MP4 (``.m4a``) and Ogg Opus with PyAV.
    """
    path = Path(path)
    tags = {"title": spec.title, "artist": spec.artist, "album": spec.album, "genre": spec.genre}
    fd, tmp = tempfile.mkstemp(prefix=".gen-", suffix="." + spec.fmt, dir=path.parent)
    os.close(fd)
    try:
        if spec.fmt in ("flac", "wav", "ogg"):
            _encode_soundfile(audio, sample_rate, tmp, spec.fmt, tags)
        else:
            _encode_av(audio, sample_rate, tmp, spec.fmt, tags)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _encode_soundfile(audio, sample_rate, tmp, fmt, tags) -> None:
    import soundfile as sf

    fmt_sf, subtype = {
        "flac": ("FLAC", "PCM_16"),
        "wav": ("WAV", "PCM_16"),
        "ogg": ("OGG", "VORBIS"),
    }[fmt]
    with sf.SoundFile(tmp, "w", sample_rate, audio.shape[0], subtype, format=fmt_sf) as f:
        for k, v in tags.items():
            setattr(f, k, v)
        for i in range(0, audio.shape[1], 8192):
            f.write(np.ascontiguousarray(audio[:, i : i + 8192].T))


def _encode_av(audio, sample_rate, tmp, fmt, tags) -> None:
    import av

    codec, container_fmt, bitrate = {
        "mp3": ("libmp3lame", "mp3", 160_000),
        "m4a": ("aac", "ipod", 160_000),
        "opus": ("libopus", "ogg", 96_000),
    }[fmt]
    with av.open(tmp, "w", format=container_fmt) as out:
        for k, v in tags.items():
            out.metadata[k] = v
        stream = out.add_stream(codec, rate=sample_rate)
        stream.bit_rate = bitrate
        stream.layout = "stereo"
        pts = 0
        block = 4096
        for i in range(0, audio.shape[1], block):
            x = np.ascontiguousarray(audio[:, i : i + block], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(
                x.T.reshape(1, -1).copy(), format="flt", layout="stereo"
            )
            frame.sample_rate = sample_rate
            frame.pts = pts
            pts += x.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def write_track(spec: TrackSpec, folder: str | Path, name: str | None = None) -> Path:
    """Synthesise and encode ``spec`` into ``folder`` (``name`` defaults from the spec)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if name is None:
        name = f"{spec.seed:04d}-{spec.bpm:.0f}bpm-{spec.style}.{spec.fmt}"
    return encode(synthesise(spec), spec.sample_rate, folder / name, spec)


def random_specs(n: int, *, seed: int = 0, duration_s: float = 30.0) -> list[TrackSpec]:
    """``n`` varied specs: tempo uniform in 50–150 BPM, every key, mode, style and format.

    Parameters
    ----------
    n : int
        How many.
    seed : int
        The same seed gives the same list.
    duration_s : float
        Length of each track.
    """
    rng = np.random.default_rng(seed)
    genres = ("Ambient", "Jazz", "Folk", "Pop", "Classical", "Electronic")
    specs = []
    for i in range(n):
        specs.append(
            TrackSpec(
                bpm=round(float(rng.uniform(50, 150)), 1),
                tonic=int(rng.integers(12)),
                mode=("major", "minor")[int(rng.integers(2))],
                style=STYLES[i % len(STYLES)],
                loudness_lufs=round(float(rng.uniform(-30, -12)), 1),
                duration_s=duration_s,
                voice=bool(rng.random() < 0.3),
                arc=("steady", "settle", "build")[int(rng.integers(3))],
                seed=seed * 10_000 + i,
                fmt=FORMATS[i % len(FORMATS)],
                title=f"Track {i:03d}",
                artist=f"Artist {i % 7}",
                album=f"Album {i % 5}",
                genre=genres[i % len(genres)],
            )
        )
    return specs
