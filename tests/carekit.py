"""The real sentence encoder with its vectors kept on disk between test runs.

Encoding the labelled set's 2,500-odd notes (and the prototypes) with MiniLM is the
costliest step of the care tests. A vector depends only on the text, the model's
files and the code that runs them, so :class:`DiskCachedEncoder` keeps each vector in
a folder outside the repository (``SONORA_TEST_CACHE``, default
``<tmp>/sonora-test-cache-<uid>``), in a file named by a SHA-256 of those inputs:
changing the weights, the tokenizer, :mod:`sonora.care.minilm` or numpy starts a new
file, and a text never seen is encoded by the model itself. :func:`cached_json`
keeps a whole result the same way, named by a hash of every file it is computed
from. Nothing is committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

import numpy as np

from sonora.care import embedding, minilm

__all__ = ["CARE_DIR", "DiskCachedEncoder", "cache_dir", "cached_json"]

#: The care package: its code and data (rules, prototypes, the reader's weights).
CARE_DIR = Path(embedding.__file__).parent


def cache_dir() -> Path:
    """The folder for test caches (``SONORA_TEST_CACHE``, else one in the temp folder)."""
    default = Path(tempfile.gettempdir()) / f"sonora-test-cache-{os.getuid()}"
    return Path(os.environ.get("SONORA_TEST_CACHE", default))


def _fingerprint(files: Iterable[Path]) -> str:
    """SHA-256 (24 hex digits) of the files' names and bytes and the Python, numpy and
    tokenizers versions."""
    h = hashlib.sha256(f"{sys.version}|{np.__version__}|{metadata.version('tokenizers')}".encode())
    for path in sorted(files):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


class DiskCachedEncoder:
    """:meth:`encode` as the bundled MiniLM's, each text's vector read from disk if kept.

    Parameters
    ----------
    folder : pathlib.Path, optional
        Where the vectors are kept (default :func:`cache_dir`).
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.model = embedding.encoder()
        inputs = [p for p in Path(self.model.path).iterdir() if p.is_file()]
        inputs.append(Path(minilm.__file__))
        folder = cache_dir() if folder is None else Path(folder)
        self.path = folder / f"minilm-{_fingerprint(inputs)}.npz"
        self._lock = threading.Lock()
        self._kept: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path) as f:
                self._kept = dict(zip(f["texts"].tolist(), f["vectors"], strict=True))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length sentence vectors, shape ``(len(texts), 384)``, float32.

        Texts not kept yet are encoded together by the model (one call, as the
        model's own ``encode`` would) and written to the cache file.
        """
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._kept))
            if missing:
                self._kept.update(zip(missing, self.model.encode(missing), strict=True))
                self._save()
            if not texts:
                return np.zeros((0, self.model.dimension), dtype=np.float32)
            return np.stack([self._kept[t] for t in texts]).astype(np.float32, copy=False)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp.npz")
        texts = list(self._kept)
        np.savez(tmp, texts=np.array(texts), vectors=np.stack([self._kept[t] for t in texts]))
        os.replace(tmp, self.path)  # whole file or none, even with two workers writing


def cached_json(name: str, inputs: Iterable[Path], compute: Callable[[], object]) -> object:
    """``compute()``, or what it returned before from the same ``inputs``.

    Parameters
    ----------
    name : str
        Names the cache file, with a hash of the inputs.
    inputs : iterable of pathlib.Path
        Every file the result depends on; folders count as every file below them.
    compute : callable
        Makes the result (anything :func:`json.dumps` writes; read back as JSON).

    Returns
    -------
    object
        The result, read from ``<cache_dir>/<name>-<hash>.json`` when kept.
    """
    files = []
    for path in inputs:
        path = Path(path)
        below = (p for p in path.rglob("*") if "__pycache__" not in p.parts)
        files += [p for p in below if p.is_file()] if path.is_dir() else [path]
    out = cache_dir() / f"{name}-{_fingerprint(files)}.json"
    if out.is_file():
        return json.loads(out.read_text(encoding="utf-8"))
    result = compute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, out)
    return json.loads(out.read_text(encoding="utf-8"))
