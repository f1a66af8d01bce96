"""Encoders chosen by file extension, fed in chunks, committed atomically.

``.wav`` (24-bit PCM), ``.flac`` (24-bit), ``.opus`` / ``.ogg`` (Ogg Opus) and ``.mp3``.
Audio is written to a temporary file beside the target and renamed into place only by
:meth:`Encoder.close`; :meth:`Encoder.abort` (or an exception inside a ``with`` block)
removes it, so a failed or interrupted render never leaves a partial file.

Examples
--------
>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "tone.flac")
>>> with open_encoder(path, sample_rate=48_000) as enc:
...     enc.write(np.zeros((2, 4800), dtype=np.float32))
>>> os.path.exists(path)
True
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import soundfile as sf

from sonora.errors import ParameterError

#: extension -> (libsndfile format, subtype, human name)
FORMATS: dict[str, tuple[str, str, str]] = {
    ".wav": ("WAV", "PCM_24", "WAV, 24-bit PCM"),
    ".flac": ("FLAC", "PCM_24", "FLAC, 24-bit lossless"),
    ".opus": ("OGG", "OPUS", "Ogg Opus"),
    ".ogg": ("OGG", "OPUS", "Ogg Opus"),
    ".mp3": ("MP3", "MPEG_LAYER_III", "MP3"),
}
#: Sample rates each lossy codec accepts, Hz.
_CODEC_RATES = {
    "OPUS": (8_000, 12_000, 16_000, 24_000, 48_000),
    "MPEG_LAYER_III": (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000),
}


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process umask, read once at import (reading it means setting it, which is not
#: thread-safe later).
_UMASK = _read_umask()
#: Compression level used when none is given, by libsndfile subtype: the fastest
#: FLAC, and lossy streams at a bitrate that is transparent for calm sound.
DEFAULT_COMPRESSION: dict[str, float] = {"OPUS": 0.8, "MPEG_LAYER_III": 0.6}
#: Ogg Opus bitrate at compression level 0 and 1 (linear in between), bit/s: the
#: mapping libsndfile uses, so settings mean the same whichever library encodes.
_OPUS_BITRATE_RANGE = (510_000, 6_000)
#: Ogg page length for Opus, microseconds: short pages reach a streaming client soon.
_OPUS_PAGE_US = 200_000
#: Limiter ceiling for lossy formats, dBTP.  Opus and MP3 decoders overshoot the
#: encoded signal's true peak (measured at -14 LUFS over the built-in scenes: by up
#: to 1.3 dB, most on broadband noise), so a lossy render is limited 2.5 dB under
#: the promised -1 dBTP; ``tests/test_cli_render.py`` decodes every built-in scene in
#: both formats and checks the decoded true peak.
LOSSY_CEILING_DBTP = -3.5
#: Tag names every format can carry (FLAC/Opus as Vorbis comments, MP3 as ID3v2).
TAG_NAMES = ("title", "artist", "album", "comment", "date", "software")
#: Largest block handed to libsndfile at once.  Its Ogg encoders have crashed the
#: interpreter when given a minute of audio in one call; small blocks are also what a
#: live HTTP stream produces.
MAX_WRITE_FRAMES = 8192


def _flac24_ints(part: np.ndarray) -> np.ndarray:
    """24-bit FLAC samples as libsndfile makes them from clipped float, as int32.

    libsndfile's float-to-FLAC path clips to [-1, 1], rounds ``x * 2^23`` to the
    nearest integer (ties to even, ``lrintf``) and clips at 2^23 - 1; handed int32, it
    keeps the top 24 bits.  Doing the rounding here writes the very same samples
    (``tests/engine/test_encoders.py``) for fewer instructions.  Clipping the scaled
    value at ``2^23 - 1`` rather than ``2^23`` makes the clip after rounding unneeded
    (the only float32 values between round to 2^23 and were clipped back): one pass
    fewer, same integers.

    Parameters
    ----------
    part : numpy.ndarray
        float32 ``(channels, frames)``.

    Returns
    -------
    numpy.ndarray
        int32 ``(frames, channels)`` (interleaved), the 24-bit sample in the top three
        bytes.
    """
    # Scale, clip and round in the (channels, frames) layout (long contiguous loops),
    # then interleave one channel at a time: ~3x fewer instructions than the same
    # steps on the transposed view, whose inner loop is 2 samples long (callgrind).
    # Scaling by 2^23 is exact, so clipping at +-2^23 (- 1) after it is the same clip.
    scaled = np.multiply(part, np.float32(8_388_608.0))
    np.clip(scaled, np.float32(-8_388_608.0), np.float32(8_388_607.0), out=scaled)
    np.rint(scaled, out=scaled)
    ints = np.empty((part.shape[1], part.shape[0]), dtype=np.int32)
    with np.errstate(invalid="ignore"):  # NaN (never rendered) becomes a number
        for ch in range(part.shape[0]):
            ints[:, ch] = scaled[ch]
    ints <<= 8
    return ints


def have_pyav() -> bool:
    """Whether PyAV (the optional ``ffmpeg`` extra) can be imported.

    PyAV's PyPI wheels bundle an FFmpeg built with GPL codecs, so Sonora (MIT) does not
    install it by default.  With it, Ogg Opus is encoded by FFmpeg's libopus (~8 ms of
    CPU per second of stereo audio); without it by libsndfile's (~22 ms, its complexity
    fixed).  Both write standard Ogg Opus at the same bitrate.
    """
    import importlib.util

    try:
        return importlib.util.find_spec("av") is not None
    except (ImportError, ValueError):  # sys.modules["av"] = None blocks it
        return False


def format_for(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Return ``(format, subtype)`` for a file name, by extension.

    Raises
    ------
    ParameterError
        For an unsupported extension, listing the supported ones.
    """
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ParameterError(
            "output", f"unsupported file type {ext or '(none)'!r}; use one of {', '.join(FORMATS)}"
        )
    fmt, sub, _ = FORMATS[ext]
    return fmt, sub


def codec_sample_rate(subtype: str, sample_rate: int) -> int:
    """Sample rate the codec will be fed: the render rate, or 48 kHz if unsupported."""
    rates = _CODEC_RATES.get(subtype)
    if rates is None or sample_rate in rates:
        return sample_rate
    return 48_000


class Encoder:
    """Streaming encoder writing to a temporary file (or a binary stream).

    Parameters
    ----------
    target : path-like or binary file object
        Destination.  A path is written atomically (temp file + rename).
    sample_rate : int
        Sample rate of the audio passed to :meth:`write`, Hz.
    channels : int
        Channel count.
    format : str, optional
        ``"wav"``, ``"flac"``, ``"opus"`` or ``"mp3"``; required for file objects,
        otherwise taken from the extension.
    compression_level : float, optional
        0 (fastest) to 1 (smallest) for FLAC; bitrate trade-off for lossy codecs (Opus:
        0.8 is about 110 kbit/s stereo).  Default: :data:`DEFAULT_COMPRESSION` for the
        format.
    opus_complexity : int
        libopus complexity, 0–10 (Opus only): lower costs less CPU at the same bitrate.
        Used when PyAV is installed (:func:`have_pyav`); libsndfile's is fixed.
    tags : mapping of str to str, optional
        Metadata written into the file, keys from :data:`TAG_NAMES` (``title``,
        ``comment``...).
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | BinaryIO,
        *,
        sample_rate: int,
        channels: int = 2,
        format: str | None = None,
        compression_level: float | None = None,
        opus_complexity: int = 10,
        tags: dict[str, str] | None = None,
    ) -> None:
        tags = dict(tags or {})
        unknown = sorted(set(tags) - set(TAG_NAMES))
        if unknown:
            raise ParameterError(
                "tags", f"unknown tag {unknown[0]!r}; allowed: {', '.join(TAG_NAMES)}"
            )
        if format is not None:
            fmt, sub = format_for(f"x.{format.lstrip('.')}")
        elif isinstance(target, str | os.PathLike):
            fmt, sub = format_for(target)
        else:
            raise ParameterError("format", "required when writing to a stream")
        self.subtype = sub
        #: The kind of file, as ``format`` takes it: ``"wav"``, ``"flac"``, ``"opus"``...
        self.format_name = {"OGG": "opus"}.get(fmt, fmt.lower())
        self.sample_rate = sample_rate
        self.file_rate = codec_sample_rate(sub, sample_rate)
        self.channels = channels
        self._resampler = None
        if self.file_rate != sample_rate:
            from sonora.engine.resample import StreamResampler  # scipy: loaded when needed

            self._resampler = StreamResampler(sample_rate, self.file_rate, channels)
        self.path: Path | None = None
        self._tmp: str | None = None
        if isinstance(target, str | os.PathLike):
            self.path = Path(target)
            parent = self.path.parent if str(self.path.parent) else Path(".")
            if not parent.is_dir():
                raise ParameterError("output", f"folder {str(parent)!r} does not exist")
            if not os.access(parent, os.W_OK):
                raise ParameterError("output", f"folder {str(parent)!r} is not writable")
            try:
                fd, self._tmp = tempfile.mkstemp(
                    prefix=f".{self.path.name}.", suffix=".part" + self.path.suffix, dir=parent
                )
            except OSError as exc:
                raise ParameterError(
                    "output", f"cannot write in {str(parent)!r}: {exc.strerror or exc}"
                ) from exc
            os.close(fd)
            # mkstemp makes the file private (0600); the finished file should get the
            # mode any new file gets here (0666 less the umask), like `cp` would.
            os.chmod(self._tmp, 0o666 & ~_UMASK)
            dest: str | BinaryIO = self._tmp
        else:
            dest = target
        if compression_level is None:
            compression_level = DEFAULT_COMPRESSION.get(sub, 0.0)
        kwargs = {}
        if fmt == "FLAC":
            kwargs["compression_level"] = compression_level
        elif fmt in ("OGG", "MP3"):
            kwargs["compression_level"] = min(max(compression_level, 0.0), 1.0)
        try:
            if sub == "OPUS" and have_pyav():
                self._sf: sf.SoundFile | _AvOpusWriter = _AvOpusWriter(
                    dest,
                    sample_rate=self.file_rate,
                    channels=channels,
                    compression_level=kwargs["compression_level"],
                    complexity=opus_complexity,
                    tags=tags,
                )
            else:
                self._sf = sf.SoundFile(
                    dest,
                    "w",
                    samplerate=self.file_rate,
                    channels=channels,
                    format=fmt,
                    subtype=sub,
                    **kwargs,
                )
                for key, value in tags.items():  # before the first write (FLAC header)
                    setattr(self._sf, key, str(value))
        except Exception:
            self._remove_tmp()
            raise
        self._int = sub.startswith("PCM")  # lossless: larger writes are safe and faster
        # FLAC 24-bit gets integers: the rounding libsndfile would do, done in numpy
        # (~11 % fewer instructions for the whole write, callgrind; same samples)
        self._flac24 = fmt == "FLAC" and sub == "PCM_24"
        self.frames_written = 0

    @property
    def lossy(self) -> bool:
        """Whether the format is lossy (Opus, MP3): what a player hears is decoded."""
        return not self._int

    def write(self, block: np.ndarray) -> None:
        """Append float audio ``(channels, frames)`` in [-1, 1]."""
        x = np.asarray(block, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ParameterError(
                "block", f"expected shape ({self.channels}, frames), got {x.shape}"
            )
        if self._resampler is not None:
            x = self._resampler.process(x)
        self._write(x)

    def _write(self, x: np.ndarray) -> None:
        # Clip first so nothing can wrap around; libsndfile rounds float to PCM itself,
        # except for 24-bit FLAC (see _flac24_ints).
        step = MAX_WRITE_FRAMES if not self._int else MAX_WRITE_FRAMES * 8
        for i in range(0, x.shape[1], step):
            part = x[:, i : i + step]
            if self._flac24:
                self._sf.write(_flac24_ints(part))
            else:
                # clip and interleave in one pass, into the (frames, channels) layout
                frames = np.empty((part.shape[1], part.shape[0]), dtype=np.float32)
                np.clip(part.T, -1.0, 1.0, out=frames)
                self._sf.write(frames)
            self.frames_written += part.shape[1]

    def close(self) -> Path | None:
        """Finish the file and move it into place; returns the final path."""
        if self._resampler is not None:
            tail = self._resampler.flush()  # what it still holds
            if tail.size:
                self._write(tail)
            self._resampler = None
        self._sf.close()
        if self.path is not None and self._tmp is not None:
            os.replace(self._tmp, self.path)
            self._tmp = None
        return self.path

    def abort(self) -> None:
        """Stop and remove the temporary file; the target is left untouched."""
        try:
            self._sf.close()
        except Exception:
            pass
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None

    def __enter__(self) -> Encoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _AvOpusWriter:
    """Ogg Opus through FFmpeg's libopus (PyAV), with a soundfile-like ``write``.

    Why not libsndfile's Opus encoder: on this project's streams it spends ~22 ms of
    CPU per second of stereo 48 kHz audio, FFmpeg's libopus ~8 ms at the same
    bitrate and complexity (``benchmarks/serve.py`` counts streams per core, and the
    encoder was most of each stream's cost).  The output is a standard Ogg Opus file
    (soundfile, browsers and ffmpeg read it).

    Parameters
    ----------
    dest : str or binary file object
        Path or writable stream (seeking is never needed).
    sample_rate : int
        48 000 (or another Opus rate), Hz.
    channels : int
        1 or 2.
    compression_level : float
        0 (largest, 510 kbit/s) to 1 (smallest, 6 kbit/s), as libsndfile maps it.
    complexity : int
        libopus complexity, 0–10.
    """

    def __init__(
        self,
        dest: str | BinaryIO,
        *,
        sample_rate: int,
        channels: int,
        compression_level: float,
        complexity: int = 10,
        tags: dict[str, str] | None = None,
    ) -> None:
        import av

        hi, lo = _OPUS_BITRATE_RANGE
        bitrate = round(hi + (lo - hi) * compression_level)
        self._container = av.open(
            dest,
            "w",
            format="ogg",
            options={"page_duration": str(_OPUS_PAGE_US)},
            buffer_size=4096,
        )
        for key, value in (tags or {}).items():  # OpusTags (Vorbis comments)
            self._container.metadata[key.upper()] = str(value)
        self._stream = self._container.add_stream(
            "libopus",
            rate=sample_rate,
            options={
                "b": str(bitrate),
                "vbr": "constrained",
                "frame_duration": "20",
                "application": "audio",
                "compression_level": str(int(min(max(complexity, 0), 10))),  # libopus complexity
            },
        )
        self._stream.layout = "stereo" if channels == 2 else "mono"
        self._stream.format = "flt"
        self._av = av
        self._layout = self._stream.layout.name
        self._rate = sample_rate
        self._pts = 0
        self._closed = False

    def write(self, data: np.ndarray) -> None:
        """Encode float32 ``(frames, channels)`` audio in [-1, 1]."""
        x = np.ascontiguousarray(data, dtype=np.float32)
        frame = self._av.AudioFrame.from_ndarray(
            x.reshape(1, -1), format="flt", layout=self._layout
        )
        frame.sample_rate = self._rate
        frame.pts = self._pts
        self._pts += x.shape[0]
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the last Ogg page (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()


def open_encoder(
    target: str | os.PathLike[str] | BinaryIO,
    *,
    sample_rate: int,
    channels: int = 2,
    format: str | None = None,
    compression_level: float | None = None,
    opus_complexity: int = 10,
    tags: dict[str, str] | None = None,
) -> Encoder:
    """Function form of :class:`Encoder` (same arguments and defaults)."""
    return Encoder(
        target,
        sample_rate=sample_rate,
        channels=channels,
        format=format,
        compression_level=compression_level,
        opus_complexity=opus_complexity,
        tags=tags,
    )


class ChunkSink:
    """A write-only byte sink for streaming encoders (HTTP responses, pipes).

    libsndfile asks its virtual file for its length and position and seeks to the end;
    this sink answers those from the bytes written so far and hands out new bytes with
    :meth:`drain`.  Use it with the stream formats, ``"opus"`` and ``"mp3"``, whose
    encoders never go back to rewrite a header.

    Examples
    --------
    >>> sink = ChunkSink()
    >>> enc = Encoder(sink, sample_rate=48_000, format="opus")
    >>> enc.write(np.zeros((2, 48_000), dtype=np.float32))
    >>> first = sink.drain()
    >>> first[:4]
    b'OggS'
    """

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._pos = 0

    def write(self, data: bytes) -> int:
        """Append bytes; returns how many were taken."""
        b = bytes(data)
        self._chunks.append(b)
        self._pos += len(b)
        return len(b)

    def tell(self) -> int:
        """Bytes written so far."""
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        """Seeking is only ever to the current end; other requests are ignored."""
        return self._pos

    def read(self, size: int = -1) -> bytes:  # pragma: no cover - never read by encoders
        return b""

    def flush(self) -> None:
        """Nothing to flush: bytes are kept until drained."""

    def drain(self) -> bytes:
        """Return (and forget) the bytes written since the last call."""
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out
