"""Decoding a music file for analysis, measuring its loudness and true peak on the way.

:func:`decode` reads a file (PyAV when installed, else libsndfile or the ``ffmpeg``
program) block by block: the BS.1770 loudness and the true peak are measured on the
file's own channels and rate, and only a mono signal at the analysis rate is kept
(:mod:`sonora.library.analysis` estimates tempo, key and the rest from it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonora.errors import ParameterError

__all__ = [
    "ANALYSIS_RATE_HZ",
    "INSTALL_HINT",
    "MAX_ANALYSED_S",
    "AnalysisError",
    "Decoded",
    "decode",
]

#: Rate the analysis runs at, Hz (enough for chroma, onsets and brightness).
ANALYSIS_RATE_HZ = 22_050
#: Longest stretch of a track analysed, s (the rest is only measured for loudness).
MAX_ANALYSED_S = 600.0


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
        True peak of the whole file (BS.1770 Annex 2, 4x oversampled), dBTP; -240 for
        digital silence.
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


class _NativeMeter:
    """What is measured on a file's own channels and rate while it is decoded.

    BS.1770 integrated loudness and true peak (4x oversampled) come from the engine's
    one streaming meter (:class:`sonora.engine.loudness.LoudnessMeter`), so a track's
    true peak is measured exactly as a render's is.

    Parameters
    ----------
    native_rate : int
        The file's rate, Hz.
    channels : int
        1 or 2.
    """

    def __init__(self, native_rate: int, channels: int) -> None:
        from sonora.engine.loudness import LoudnessMeter

        self.native_rate = native_rate
        self.meter = LoudnessMeter(native_rate, channels, true_peak=True)
        self.frames = 0

    def add(self, block: np.ndarray) -> None:
        """Measure one float32 ``(channels, frames)`` block at the native rate."""
        if block.size:
            self.meter.add(block)
            self.frames += block.shape[1]

    def decoded(
        self, pieces: list[np.ndarray], limit: int, rate_hz: int, tags: dict[str, str], codec: str
    ) -> Decoded:
        """The :class:`Decoded` of the measured file, its mono pieces joined (at most
        ``limit`` frames at ``rate_hz``)."""
        mono = (
            np.concatenate(pieces)[:limit].astype(np.float32) if pieces else np.zeros(0, np.float32)
        )
        return Decoded(
            mono=mono,
            rate_hz=rate_hz,
            duration_s=self.frames / self.native_rate if self.native_rate else 0.0,
            loudness_lufs=float(self.meter.integrated_lufs),
            true_peak_dbtp=float(self.meter.true_peak_dbtp),
            tags=tags,
            codec=codec,
        )


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

    The file is opened read-only and never written.  Loudness and true peak are measured
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
        native = _NativeMeter(native_rate, channels)
        pieces: list[np.ndarray] = []
        have = 0
        limit = int(MAX_ANALYSED_S * rate_hz)
        try:
            for frame in container.decode(stream):
                frame.pts = None
                for f in to_native.resample(frame):
                    native.add(f.to_ndarray())
                if have < limit:
                    for f in to_mono.resample(frame):
                        y = f.to_ndarray().reshape(-1)
                        pieces.append(y)
                        have += len(y)
            for f in to_mono.resample(None):
                pieces.append(f.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise AnalysisError(path, f"cannot decode ({exc.__class__.__name__})") from exc
    codec = stream.codec_context.codec.name.removesuffix("float")  # "mp3float" -> "mp3"
    return native.decoded(pieces, limit, rate_hz, tags, codec)


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
    """Loudness, true peak and the mono analysis signal from native-rate blocks.

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
    native = _NativeMeter(native_rate, channels)
    resampler = _MonoResampler(native_rate, rate_hz) if native_rate != rate_hz else None
    limit = int(MAX_ANALYSED_S * rate_hz)
    pieces: list[np.ndarray] = []
    have = 0
    for block in blocks:
        x = np.ascontiguousarray(block[:channels], dtype=np.float32)
        if not x.shape[1]:
            continue
        native.add(x)
        if have < limit:
            mono = x.mean(axis=0, keepdims=True)
            y = resampler.process(mono[0]) if resampler is not None else mono[0]
            pieces.append(np.asarray(y, np.float32))
            have += len(y)
    if resampler is not None and have < limit:
        pieces.append(resampler.flush())
    return native.decoded(pieces, limit, rate_hz, tags, codec)
