"""The numpy all-MiniLM-L6-v2 encoder against sentence-transformers' own output.

``tests/data/minilm_reference.npz`` was written by
``tools/make_minilm_reference.py`` with sentence-transformers and PyTorch on the
same shipped weights; these tests need neither.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sonora.care import embedding
from sonora.care.minilm import MAX_TOKENS, MiniLM, model_dir, read_safetensors

REFERENCE = Path(__file__).parents[1] / "data" / "minilm_reference.npz"


@pytest.fixture(scope="module")
def model() -> MiniLM:
    """One encoder for the module."""
    return MiniLM()


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    """Texts and their reference embeddings."""
    with np.load(REFERENCE) as f:
        return [str(t) for t in f["texts"]], np.asarray(f["embeddings"])


def test_reference_is_varied(reference: tuple[list[str], np.ndarray]) -> None:
    texts, emb = reference
    assert len(texts) >= 40 and emb.shape == (len(texts), 384)
    assert any(len(t) > 1000 for t in texts)  # longer than 256 word pieces: truncation
    assert "" in texts
    assert any(ord(c) > 0x1F000 for t in texts for c in t)  # emoji


def test_embeddings_match_sentence_transformers_batched(
    model: MiniLM, reference: tuple[list[str], np.ndarray]
) -> None:
    texts, emb = reference
    got = model.encode(texts)
    assert got.dtype == np.float32 and got.shape == emb.shape
    assert float(np.abs(got - emb).max()) <= 1e-4


def test_embeddings_match_one_at_a_time(
    model: MiniLM, reference: tuple[list[str], np.ndarray]
) -> None:
    texts, emb = reference
    for text, ref in zip(texts, emb, strict=True):
        got = model.encode([text])[0]
        assert float(np.abs(got - ref).max()) <= 1e-4, text[:60]


def test_unit_norm_and_meaning(model: MiniLM) -> None:
    e = model.encode(["I feel calm tonight", "I feel peaceful this evening", "tax return form"])
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2
    assert model.encode([]).shape == (0, 384)


def test_long_text_is_truncated(model: MiniLM) -> None:
    ids = model.tokenize([" ".join(["word"] * 1000)])[0]
    assert len(ids) == MAX_TOKENS and ids[0] == 101 and ids[-1] == 102


def test_safetensors_reader_reads_every_tensor() -> None:
    w = read_safetensors(model_dir() / "model.safetensors")
    assert w["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert w["encoder.layer.5.output.dense.weight"].dtype == np.float32
    assert sum(k.startswith("encoder.layer.") for k in w) == 6 * 16


def test_shipped_prototype_embeddings_are_current(model: MiniLM) -> None:
    with np.load(Path(embedding.__file__).parent / "data" / "triage_prototypes.npz") as f:
        assert str(f["digest"]) == embedding.prototype_digest(), (
            "run `python -m sonora.care.embedding` after editing triage_prototypes.toml"
        )
        shipped = np.asarray(f["embeddings"])
    texts, _ = embedding._prototype_texts()
    assert float(np.abs(shipped - model.encode(texts)).max()) <= 1e-5


def test_no_torch_on_the_triage_path() -> None:
    code = (
        "import sys; from sonora.care.triage import triage; "
        "r = triage('I want to kill myself'); "
        "assert r.level == 'crisis'; "
        "bad = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_background_load_becomes_ready() -> None:
    embedding.start_background_load()
    assert embedding.wait_ready(60.0)
    assert embedding.is_ready()
