"""What a track is like: tempo, loudness, energy, brightness, key, voice, its shape.

Every figure here is an **estimate** made from the audio alone (no tags, no online
look-up) and is labelled so wherever it is shown.

Why our own numpy/scipy code rather than librosa: librosa would pull numba and llvmlite
(~150 MB) into every install, against the small-venv goal of ``make run`` (issue #19).
The pieces needed here are short: one STFT, a spectral-flux onset envelope, an
autocorrelation tempogram, a chroma vector and key profiles.  ``benchmarks/library.py``
measures this module against librosa's beat tracker (when the bench extra is
installed) on generated tracks with known tempo and key.

Tempo: :mod:`sonora.library.tempo` (how octave errors on slow music are avoided).

Audio in: mono float32 at :data:`ANALYSIS_RATE_HZ` (:func:`decode`: PyAV when installed,
else libsndfile or the ``ffmpeg`` program; loudness is measured on the original channels
and rate while decoding).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sonora.errors import ParameterError
from sonora.library.tempo import PRIOR_BPM, estimate_tempo, onset_envelope

__all__ = [
    "ANALYSIS_RATE_HZ",
    "KEY_NAMES",
    "PRIOR_BPM",
    "AnalysisError",
    "Decoded",
    "TrackAnalysis",
    "analyse_audio",
    "analyse_file",
    "decode",
    "estimate_key",
    "estimate_tempo",
]

#: Rate the analysis runs at, Hz (enough for chroma, onsets and brightness).
ANALYSIS_RATE_HZ = 22_050
#: Longest stretch of a track analysed, s (the rest is only measured for loudness).
MAX_ANALYSED_S = 600.0
#: Pitch-class names, index = semitones above C.
KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

_N_FFT = 2048
_HOP = 256  # 11.6 ms at 22.05 kHz: tempo resolution before refinement ~0.7 % at 150 BPM

# Key profiles: Albrecht & Shanahan (2013, Music Perception 31(1)), pitch-class
# distributions of a corpus.  On the generated test tracks they confused tonic and
# dominant far less than Krumhansl & Kessler's (1982) probe-tone ratings (100 % vs
# 98 % of 96 tracks with the same chroma; 45 % for both with log-compressed chroma).
_AS_MAJOR = np.array(
    [0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081]
)
_AS_MINOR = np.array(
    [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]
)


class AnalysisError(ParameterError):
    """A file that cannot be decoded or is too short to analyse."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__("path", f"{path}: {message}")


@dataclass(frozen=True)
class Decoded:
    """A decoded file: mono analysis audio plus what was measured while decoding.

    Attributes
    ----------
    mono : numpy.ndarray
        float32, shape ``(frames,)`` at ``rate_hz`` (at most :data:`MAX_ANALYSED_S`).
    rate_hz : int
    duration_s : float
        The whole file's duration.
    loudness_lufs : float
        BS.1770 integrated loudness of the whole file on its own channels and rate.
    true_peak_dbtp : float
    tags : dict
        Lower-case tag names (title, artist, album, genre, …) to text.
    codec : str
    """

    mono: np.ndarray
    rate_hz: int
    duration_s: float
    loudness_lufs: float
    true_peak_dbtp: float
    tags: dict[str, str]
    codec: str


def decode(path: str | Path, *, rate_hz: int = ANALYSIS_RATE_HZ) -> Decoded:
    """Decode an audio file (FLAC, MP3, Ogg Vorbis/Opus, AAC/M4A, WAV, …).

    The decoder is the first that can be had of:

    1. PyAV (the optional ``ffmpeg`` extra) reads everything FFmpeg reads;
    2. without it, libsndfile (soundfile) reads FLAC, WAV, Ogg Vorbis/Opus and MP3, and
       the ``ffmpeg``/``ffprobe`` programs, when on ``PATH``, read the rest (AAC/M4A/MP4…)
       and MP3 (libsndfile's MP3 reader has stopped early on long VBR files).

    PyAV is not installed by default: its PyPI wheels bundle an FFmpeg built with GPL
    codecs, and Sonora is MIT.  The ``ffmpeg`` program is a separate program the user
    installed, run as a child process (nothing is linked).

    The file is opened read-only and never written.  Loudness and peak are measured
    block by block on the original channels (at most two), so memory holds only the
    mono analysis signal.

    Parameters
    ----------
    path : str or Path
    rate_hz : int
        Rate of the returned mono signal, Hz.

    Raises
    ------
    AnalysisError
        The file has no audio stream or cannot be decoded; when no installed decoder
        reads it, the message says what to install.
    """
    from sonora.engine.encoders import have_pyav

    if have_pyav():
        return _decode_av(path, rate_hz=rate_hz)
    return _decode_without_pyav(path, rate_hz=rate_hz)


def _decode_av(path: str | Path, *, rate_hz: int) -> Decoded:
    """:func:`decode` through PyAV."""
    import av  # lazy: importing PyAV costs ~40 ms that most commands never need

    from sonora.engine.loudness import LoudnessMeter

    path = str(path)
    try:
        container = av.open(path, "r")
    except (av.error.FFmpegError, OSError) as exc:
        raise AnalysisError(path, f"cannot open ({exc.__class__.__name__})") from exc
    with container:
        if not container.streams.audio:
            raise AnalysisError(path, "no audio stream")
        stream = container.streams.audio[0]
        tags = {k.lower(): str(v) for k, v in container.metadata.items()}
        tags.update({k.lower(): str(v) for k, v in stream.metadata.items()})
        native_rate = int(stream.rate or stream.codec_context.sample_rate)
        channels = min(2, int(stream.codec_context.channels or 2))
        layout = "stereo" if channels == 2 else "mono"
        to_native = av.AudioResampler(format="fltp", layout=layout, rate=native_rate)
        to_mono = av.AudioResampler(format="flt", layout="mono", rate=rate_hz)
        meter = LoudnessMeter(native_rate, channels, true_peak=False)
        peak = 0.0
        pieces: list[np.ndarray] = []
        have = 0
        limit = int(MAX_ANALYSED_S * rate_hz)
        frames_native = 0
        try:
            for frame in container.decode(stream):
                frame.pts = None
                for f in to_native.resample(frame):
                    x = f.to_ndarray()
                    meter.add(x)
                    frames_native += x.shape[1]
                    peak = max(peak, float(np.max(np.abs(x))) if x.size else 0.0)
                if have < limit:
                    for f in to_mono.resample(frame):
                        y = f.to_ndarray().reshape(-1)
                        pieces.append(y)
                        have += len(y)
            for f in to_mono.resample(None):
                pieces.append(f.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise AnalysisError(path, f"cannot decode ({exc.__class__.__name__})") from exc
    mono = np.concatenate(pieces)[:limit].astype(np.float32) if pieces else np.zeros(0, np.float32)
    return Decoded(
        mono=mono,
        rate_hz=rate_hz,
        duration_s=frames_native / native_rate if native_rate else 0.0,
        loudness_lufs=float(meter.integrated_lufs),
        true_peak_dbtp=20 * math.log10(peak) if peak > 0 else -240.0,
        tags=tags,
        codec=stream.codec_context.codec.name.removesuffix("float"),  # "mp3float" -> "mp3"
    )


#: What to install when no decoder here reads a file.
INSTALL_HINT = (
    "install the ffmpeg program (e.g. `apt install ffmpeg`) or PyAV "
    "(`.venv/bin/pip install -e '.[ffmpeg]'`)"
)
#: libsndfile subtype -> codec name as FFmpeg gives it (what PyAV reports).
_SF_CODECS = {
    "FLAC": "flac",
    "MPEG_LAYER_III": "mp3",
    "VORBIS": "vorbis",
    "OPUS": "opus",
    "PCM_16": "pcm_s16le",
    "PCM_24": "pcm_s24le",
    "PCM_32": "pcm_s32le",
    "FLOAT": "pcm_f32le",
    "DOUBLE": "pcm_f64le",
    "PCM_U8": "pcm_u8",
}
#: Frames read per block when decoding without PyAV.
_BLOCK_FRAMES = 65_536


def _decode_without_pyav(path: str | Path, *, rate_hz: int) -> Decoded:
    """:func:`decode` through libsndfile or the ``ffmpeg`` program (no PyAV)."""
    import shutil

    import soundfile as sf

    path = str(path)
    has_ffmpeg = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
    if has_ffmpeg and Path(path).suffix.lower() == ".mp3":
        return _decode_ffmpeg(path, rate_hz=rate_hz)
    try:
        f = sf.SoundFile(path, "r")
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        if not Path(path).is_file():
            raise AnalysisError(path, "no such file") from exc
        if has_ffmpeg:
            return _decode_ffmpeg(path, rate_hz=rate_hz)
        raise AnalysisError(
            path, f"libsndfile cannot read this file and no ffmpeg is installed: {INSTALL_HINT}"
        ) from exc
    with f:
        tags = {}
        for key in ("title", "artist", "album", "genre", "date", "comment", "tracknumber"):
            try:
                value = getattr(f, key)
            except (AttributeError, RuntimeError):
                continue
            if value:
                tags[key] = str(value)
        native_rate = int(f.samplerate)
        codec = "flac" if f.format == "FLAC" else _SF_CODECS.get(f.subtype, f.subtype.lower())

        def blocks():
            try:
                for block in f.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
                    yield block.T
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AnalysisError(path, f"cannot decode ({exc})") from exc

        return _measure(blocks(), native_rate, min(2, f.channels), rate_hz, tags, codec)


def _decode_ffmpeg(path: str, *, rate_hz: int) -> Decoded:
    """:func:`decode` through the ``ffprobe`` and ``ffmpeg`` programs (32-bit float PCM)."""
    import json
    import subprocess

    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         "-select_streams", "a:0", path],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or ["unreadable"])[-1]
        raise AnalysisError(path, f"cannot open (ffprobe: {detail})")
    info = json.loads(probe.stdout or "{}")
    streams = info.get("streams") or []
    if not streams:
        raise AnalysisError(path, "no audio stream")
    stream = streams[0]
    tags = {k.lower(): str(v) for k, v in (info.get("format", {}).get("tags") or {}).items()}
    tags.update({k.lower(): str(v) for k, v in (stream.get("tags") or {}).items()})
    native_rate = int(stream.get("sample_rate") or 0)
    if native_rate <= 0:
        raise AnalysisError(path, "audio stream has no sample rate")
    channels = min(2, int(stream.get("channels") or 2))
    codec = str(stream.get("codec_name", "unknown")).removesuffix("float")
    proc = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0", "-vn",
         "-ac", str(channels), "-ar", str(native_rate), "-f", "f32le", "-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    frame_bytes = 4 * channels

    def blocks():
        rest = b""
        try:
            while chunk := proc.stdout.read(_BLOCK_FRAMES * frame_bytes):
                data = rest + chunk
                usable = len(data) - len(data) % frame_bytes
                rest = data[usable:]
                if usable:
                    yield np.frombuffer(data[:usable], np.float32).reshape(-1, channels).T
        finally:
            proc.stdout.close()
            err = proc.stderr.read().decode(errors="replace").strip()
            proc.stderr.close()
            code = proc.wait()
        if code != 0:
            detail = (err.splitlines() or [f"exit status {code}"])[-1]
            raise AnalysisError(path, f"cannot decode (ffmpeg: {detail})")

    return _measure(blocks(), native_rate, channels, rate_hz, tags, codec)


class _MonoResampler:
    """Streaming polyphase resampler (scipy's ``resample_poly`` on overlapping segments).

    Each segment is filtered with :data:`_PAD_PERIODS` periods of real neighbours on
    both sides (the filter is far shorter), so the joined output equals one
    ``resample_poly`` over the whole signal to float precision.

    Parameters
    ----------
    from_hz, to_hz : int
        Input and output rates, Hz.
    """

    def __init__(self, from_hz: int, to_hz: int) -> None:
        g = math.gcd(from_hz, to_hz)
        self.up, self.down = to_hz // g, from_hz // g
        self.pad = self.down * max(1, math.ceil(256 / self.down))  # input frames
        self.segment = self.down * max(1, math.ceil(_BLOCK_FRAMES / self.down))
        self._buf = np.zeros(self.pad, np.float32)  # the zeros resample_poly pads with

    def _run(self, x: np.ndarray, keep: int) -> np.ndarray:
        from scipy.signal import resample_poly

        y = resample_poly(x, self.up, self.down)
        start = self.pad * self.up // self.down
        return np.asarray(y[start : start + keep], np.float32)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Resample the next float32 mono block; returns what is ready (may be empty)."""
        self._buf = np.concatenate([self._buf, np.asarray(x, np.float32)])
        out = []
        while len(self._buf) >= 2 * self.pad + self.segment:
            part = self._buf[: 2 * self.pad + self.segment]
            out.append(self._run(part, self.segment * self.up // self.down))
            self._buf = self._buf[self.segment :]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def flush(self) -> np.ndarray:
        """The rest of the output (call once, after the last block)."""
        rest = len(self._buf) - self.pad
        if rest <= 0:
            return np.zeros(0, np.float32)
        part = np.concatenate([self._buf, np.zeros(self.pad, np.float32)])
        return self._run(part, math.ceil(rest * self.up / self.down))


def _measure(
    blocks: Any,
    native_rate: int,
    channels: int,
    rate_hz: int,
    tags: dict[str, str],
    codec: str,
) -> Decoded:
    """Loudness, peak and the mono analysis signal from native-rate blocks.

    Parameters
    ----------
    blocks : iterable of numpy.ndarray
        float32 ``(file channels, frames)`` at ``native_rate``; beyond two channels only
        the first two (front left/right) are measured.
    native_rate : int
        The file's rate, Hz.
    channels : int
        1 or 2.
    rate_hz : int
        Rate of the mono analysis signal, Hz.
    """
    from sonora.engine.loudness import LoudnessMeter

    meter = LoudnessMeter(native_rate, channels, true_peak=False)
    resampler = _MonoResampler(native_rate, rate_hz) if native_rate != rate_hz else None
    limit = int(MAX_ANALYSED_S * rate_hz)
    pieces: list[np.ndarray] = []
    have = 0
    peak = 0.0
    frames_native = 0
    for block in blocks:
        x = np.ascontiguousarray(block[:channels], dtype=np.float32)
        if not x.shape[1]:
            continue
        meter.add(x)
        frames_native += x.shape[1]
        peak = max(peak, float(np.max(np.abs(x))))
        if have < limit:
            mono = x.mean(axis=0, keepdims=True)
            y = resampler.process(mono[0]) if resampler is not None else mono[0]
            pieces.append(np.asarray(y, np.float32))
            have += len(y)
    if resampler is not None and have < limit:
        pieces.append(resampler.flush())
    mono = np.concatenate(pieces)[:limit].astype(np.float32) if pieces else np.zeros(0, np.float32)
    return Decoded(
        mono=mono,
        rate_hz=rate_hz,
        duration_s=frames_native / native_rate,
        loudness_lufs=float(meter.integrated_lufs),
        true_peak_dbtp=20 * math.log10(peak) if peak > 0 else -240.0,
        tags=tags,
        codec=codec,
    )


@dataclass(frozen=True)
class TrackAnalysis:
    """Sonora's estimates about one track (all from the audio; all estimates).

    Attributes
    ----------
    duration_s : float
    tempo_bpm : float
        Estimated beats per minute.
    tempo_confidence : float
        0 (a guess) to 1 (one clear, unambiguous pulse).
    loudness_lufs : float
        BS.1770 integrated loudness.
    energy : float
        0 (still, soft, dark) to 1 (loud, busy, bright): a mix of loudness, onset rate
        and brightness, comparable between tracks.
    energy_curve : list of float
        Short-term level, dB relative to the track's loudest second, one value per
        ``curve_step_s``.
    brightness_curve : list of float
        Spectral centroid, Hz, one value per ``curve_step_s``.
    brightness_hz : float
        Median spectral centroid.
    key : str
        E.g. ``"A minor"``.
    key_confidence : float
        0–1: how far the best key profile stands above the next.
    voice : float
        0 (instrumental) to 1 (a voice is very likely): an estimate from pitch
        vibrato; no speech model.
    shape : str
        ``"settles"``, ``"builds"`` or ``"steady"``.
    shape_change_db : float
        Level of the last third minus the first third, dB.
    shape_at_s : float
        Where the change is centred (the steepest stretch), s.
    onset_rate_hz : float
        Note/beat onsets per second.
    """

    duration_s: float
    tempo_bpm: float
    tempo_confidence: float
    loudness_lufs: float
    energy: float
    energy_curve: list[float]
    brightness_curve: list[float]
    brightness_hz: float
    key: str
    key_confidence: float
    voice: float
    shape: str
    shape_change_db: float
    shape_at_s: float
    onset_rate_hz: float
    curve_step_s: float = 1.0
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what the database keeps)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrackAnalysis:
        """The inverse of :meth:`to_json` (unknown keys ignored)."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})


def _stft_mag(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Magnitude STFT, shape ``(n_fft // 2 + 1, frames)``, Hann window, float32."""
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = 1 + (len(x) - n_fft) // hop
    idx = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:frames]
    win = np.hanning(n_fft).astype(np.float32)
    return np.abs(np.fft.rfft(idx * win, axis=1)).T.astype(np.float32)


def chroma(x: np.ndarray, rate_hz: int) -> np.ndarray:
    """Mean 12-bin chroma (C first) of ``x``, 55–2000 Hz, sum 1.

    Square-root magnitudes: a log compression lifts the noise floor and the leakage
    between bins until they blur the pitch classes (45 % keys right instead of 100 %
    on the generated tracks).
    """
    n_fft, hop = 8192, 4096
    mag = _stft_mag(x, n_fft, hop)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate_hz)
    band = (freqs >= 55) & (freqs <= 2000)
    midi = 69 + 12 * np.log2(freqs[band] / 440.0)
    pc = np.mod(np.round(midi), 12).astype(int)
    # weight bins by how close they sit to a semitone centre (less leakage between)
    w = np.cos(np.pi * (midi - np.round(midi))) ** 2
    power = np.sqrt(mag[band]) * w[:, None]
    frame_energy = power.sum(axis=0)
    keep = frame_energy > 0.1 * (frame_energy.max() + 1e-12)  # skip silence
    c = np.zeros(12)
    np.add.at(c, pc, power[:, keep].sum(axis=1))
    return c / (c.sum() + 1e-12)


def estimate_key(chroma_vec: np.ndarray) -> tuple[int, str, float]:
    """Tonic (0 = C), mode and a 0–1 confidence from a chroma vector.

    Correlates the chroma with the 24 rotated Albrecht–Shanahan profiles.
    """
    c = np.asarray(chroma_vec, dtype=np.float64)
    if float(np.std(c)) < 1e-12:  # silence or noise: no key at all
        return 0, "major", 0.0
    scores = []
    for mode, prof in (("major", _AS_MAJOR), ("minor", _AS_MINOR)):
        for tonic in range(12):
            r = np.corrcoef(c, np.roll(prof, tonic))[0, 1]
            scores.append((float(r) if np.isfinite(r) else -1.0, tonic, mode))
    scores.sort(reverse=True)
    (r1, tonic, mode), (r2, _, _) = scores[0], scores[1]
    confidence = float(np.clip((r1 - r2) / 0.15, 0.0, 1.0) * np.clip(r1, 0.0, 1.0))
    return tonic, mode, confidence


def _voice_score(mag: np.ndarray, freqs: np.ndarray, frame_rate_hz: float) -> float:
    """0–1 likelihood of a sung line, from vibrato-like frequency modulation.

    A voice's partials glide by a few percent at 4–8 Hz (vibrato, pitch changes): in a
    spectrogram neighbouring bins then swell and fade in *opposite* phase.  Drums,
    plucked notes and pads modulate the whole band together or not at all.  The score
    is the share of 4–8 Hz modulation energy in 300–3000 Hz left after removing what
    all bins share; fitted on generated tracks (a synthetic voice), so an estimate.
    """
    from scipy import signal

    band = (freqs >= 300) & (freqs <= 3000)
    logm = np.log1p(100.0 * mag[band])
    if logm.shape[1] < frame_rate_hz * 3:
        return 0.0
    sos = signal.butter(2, [4.0, 8.0], btype="band", fs=frame_rate_hz, output="sos")
    m = signal.sosfilt(sos, logm, axis=1)
    common = m.mean(axis=0, keepdims=True)
    diff = np.diff(m - common, axis=0)  # neighbouring bins in opposite phase
    ratio = float(np.mean(diff**2) / (np.mean(logm.var(axis=1)) + 1e-9))
    return float(1.0 / (1.0 + math.exp(-(ratio - _VOICE_MID) / _VOICE_SCALE)))


_VOICE_MID = 0.022
_VOICE_SCALE = 0.004


def analyse_audio(
    mono: np.ndarray, rate_hz: int, *, loudness_lufs: float | None = None
) -> TrackAnalysis:
    """Estimate everything about a mono signal.

    Parameters
    ----------
    mono : numpy.ndarray
        float, shape ``(frames,)``, at ``rate_hz``; at least 5 s.
    rate_hz : int
    loudness_lufs : float, optional
        The file's BS.1770 loudness if measured on its own channels (else measured
        here on the mono signal).

    Raises
    ------
    ParameterError
        Naming ``audio`` when it is shorter than 5 s.
    """
    from sonora.engine.loudness import integrated_lufs

    x = np.asarray(mono, dtype=np.float32).reshape(-1)
    duration_s = len(x) / rate_hz
    if duration_s < 5.0:
        raise ParameterError(
            "audio", f"need at least 5 s of audio to analyse (got {duration_s:.1f} s)"
        )
    if loudness_lufs is None:
        loudness_lufs = float(integrated_lufs(x[None, :], rate_hz))
    mag = _stft_mag(x, _N_FFT, _HOP)
    frame_rate = rate_hz / _HOP
    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / rate_hz)
    onsets = onset_envelope(mag, rate_hz)
    tempo_bpm, tempo_conf = estimate_tempo(onsets, frame_rate)
    # onset rate: peaks of the onset envelope above a local threshold
    thr = np.convolve(onsets, np.ones(43) / 43, mode="same") * 1.5 + 1e-3 * onsets.max()
    peaks = (onsets[1:-1] > onsets[:-2]) & (onsets[1:-1] >= onsets[2:]) & (onsets[1:-1] > thr[1:-1])
    onset_rate = float(peaks.sum() / duration_s)
    # energy and brightness per second
    per = round(frame_rate)
    n_sec = max(1, mag.shape[1] // per)
    power = (mag[:, : n_sec * per] ** 2).reshape(mag.shape[0], n_sec, per).sum(axis=2)
    level_db = 10 * np.log10(power.sum(axis=0) + 1e-12)
    level_db = level_db - level_db.max()
    centroid = (freqs[:, None] * power).sum(axis=0) / (power.sum(axis=0) + 1e-12)
    audible = level_db > -40
    brightness_hz = float(np.median(centroid[audible])) if np.any(audible) else 0.0
    tonic, mode, key_conf = estimate_key(chroma(x, rate_hz))
    voice = _voice_score(mag, freqs, frame_rate)
    shape, change_db, at_s = _shape(level_db)
    energy = float(
        np.clip(
            0.45 * np.clip((loudness_lufs + 35.0) / 25.0, 0, 1)
            + 0.35 * np.clip(onset_rate / 6.0, 0, 1)
            + 0.20 * np.clip((brightness_hz - 400.0) / 2600.0, 0, 1),
            0,
            1,
        )
    )
    return TrackAnalysis(
        duration_s=round(duration_s, 3),
        tempo_bpm=round(tempo_bpm, 2),
        tempo_confidence=round(tempo_conf, 3),
        loudness_lufs=round(float(loudness_lufs), 2),
        energy=round(energy, 3),
        energy_curve=[round(float(v), 1) for v in level_db],
        brightness_curve=[round(float(v), 0) for v in centroid],
        brightness_hz=round(brightness_hz, 1),
        key=f"{KEY_NAMES[tonic]} {mode}",
        key_confidence=round(key_conf, 3),
        voice=round(voice, 3),
        shape=shape,
        shape_change_db=round(change_db, 1),
        shape_at_s=round(at_s, 1),
        onset_rate_hz=round(onset_rate, 2),
    )


def _shape(level_db: np.ndarray) -> tuple[str, float, float]:
    """``settles``/``builds``/``steady``, the change in dB and where it is steepest."""
    n = len(level_db)
    if n < 6:
        return "steady", 0.0, 0.0
    third = n // 3
    change = float(np.median(level_db[-third:]) - np.median(level_db[:third]))
    k = max(3, n // 6)
    smooth = np.convolve(level_db, np.ones(k) / k, mode="valid")
    slope = np.diff(smooth)
    i = int(np.argmin(slope) if change < 0 else np.argmax(slope))
    at_s = float(i + k / 2)
    shape = "settles" if change <= -3.0 else "builds" if change >= 3.0 else "steady"
    return shape, change, at_s


def analyse_file(path: str | Path) -> tuple[TrackAnalysis, Decoded]:
    """Decode and analyse a file (read-only).

    Returns
    -------
    (TrackAnalysis, Decoded)
        The estimates, and the decoded audio's facts (tags, codec, duration).
    """
    dec = decode(path)
    if len(dec.mono) < 5 * dec.rate_hz:
        raise AnalysisError(str(path), f"too short to analyse ({dec.duration_s:.1f} s; need 5 s)")
    a = analyse_audio(dec.mono, dec.rate_hz, loudness_lufs=dec.loudness_lufs)
    return TrackAnalysis(**{**a.to_json(), "duration_s": round(dec.duration_s, 3)}), dec
