"""Triage speed: cold CPU of ``sonora triage``, warm cost per note, BLAS threads.

Prints, each next to a reference measured in the same run:

* cold: CPU seconds (user + system) of ``sonora triage NOTE`` in a fresh process
  (median of runs), and of loading the sentence model alone, compact copy vs the
  original package (if the test extra installed it);
* warm: per note, wall and CPU p50/p95 of :func:`sonora.care.triage.triage` over the
  labelled notes, and of one MiniLM encode, against the previous forward pass (kept
  below verbatim: padded scatter, ``np.add.at`` pooling, out-of-place GELU and layer
  norm) on the same weights;
* BLAS on 1 thread vs 2, and :meth:`MiniLM.encode_many` per note vs one at a time.

Targets (issue #10): cold <= 1 s CPU, warm <= 20 ms per note. Timings on a shared
machine are pessimistic: the load average is printed with them.

Usage::

    python benchmarks/triage_speed.py [--notes 300] [--cold-runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from sonora.care import embedding
from sonora.care.evaluate import load_labelled
from sonora.care.minilm import MiniLM, _Layer, original_dir
from sonora.care.triage import triage

NOTE = "I feel fine"


def _child_cpu_s(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cold(runs: int) -> None:
    sonora = str(Path(sys.executable).with_name("sonora"))
    cli = [_child_cpu_s([sonora, "triage", NOTE]) for _ in range(runs)]
    print(f"cold `sonora triage {NOTE!r}`, CPU s (user+sys), median of {runs}: ", end="")
    print(f"{statistics.median(cli):.2f} (min {min(cli):.2f}, max {max(cli):.2f}; target 1.00)")
    load = "from sonora.care.minilm import MiniLM; MiniLM({}).encode(['a quiet evening'])"
    py = [sys.executable, "-c"]
    base = statistics.median(_child_cpu_s([*py, "import numpy, tokenizers"]) for _ in range(runs))
    compact = statistics.median(_child_cpu_s([*py, load.format("")]) for _ in range(runs)) - base
    line = f"cold model load + first encode (beyond importing numpy): compact {compact:.3f} s"
    source = original_dir()
    if source is not None:
        arg = f"__import__('pathlib').Path({str(source)!r})"
        full = statistics.median(_child_cpu_s([*py, load.format(arg)]) for _ in range(runs)) - base
        line += f", original float32 package {full:.3f} s (ratio {compact / full:.2f}x)"
    print(line)


def _previous_encode(m: MiniLM, texts: list[str]) -> np.ndarray:
    """The forward pass before this benchmark's changes, kept as the speed reference."""
    ids = m.tokenize(texts)
    lengths = np.array([len(i) for i in ids], dtype=np.int64)
    n, lmax = len(ids), int(lengths.max())
    flat_ids = np.fromiter((t for s in ids for t in s), dtype=np.int64, count=int(lengths.sum()))
    seq_idx = np.repeat(np.arange(n), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pos_idx = np.arange(len(flat_ids)) - np.repeat(starts, lengths)

    def norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        c = x - x.mean(axis=-1, keepdims=True)
        return c / np.sqrt(np.mean(c * c, axis=-1, keepdims=True) + m.eps) * w + b

    def gelu(x: np.ndarray) -> np.ndarray:
        z = np.abs(x) * np.float32(0.7071067811865476)
        t = 1.0 / (1.0 + np.float32(0.3275911) * z)
        poly = t * np.float32(1.061405429)
        for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
            poly = t * (np.float32(c) + poly)
        return x * 0.5 * (1.0 + np.copysign(1.0 - poly * np.exp(-z * z), x))

    x = norm(m._word[flat_ids].astype(np.float32) + m._pos[pos_idx] + m._type0, m._ln_w, m._ln_b)
    mask = np.where(np.arange(lmax)[None, :] < lengths[:, None], 0.0, -1e9).astype(np.float32)
    mask = mask[:, None, None, :]
    h, d = m.heads, m.hidden // m.heads
    scale = np.float32(1.0 / np.sqrt(d))
    layer: _Layer
    for layer in m._layers:
        qkv = x @ layer.qkv_w + layer.qkv_b
        padded = np.zeros((n, lmax, 3 * m.hidden), dtype=np.float32)
        padded[seq_idx, pos_idx] = qkv
        padded = padded.reshape(n, lmax, 3, h, d).transpose(2, 0, 3, 1, 4)
        q, k, v = padded[0], padded[1], padded[2]
        scores = (q @ k.transpose(0, 1, 3, 2)) * scale + mask
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, lmax, m.hidden)[seq_idx, pos_idx]
        x = norm(ctx @ layer.out_w + layer.out_b + x, layer.ln1_w, layer.ln1_b)
        up = gelu(x @ layer.up_w + layer.up_b)
        x = norm(up @ layer.down_w + layer.down_b + x, layer.ln2_w, layer.ln2_b)
    sums = np.zeros((n, m.hidden), dtype=np.float64)
    np.add.at(sums, seq_idx, x)
    pooled = sums / lengths[:, None]
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _per_call(fn: Any, items: list[Any]) -> tuple[list[float], list[float]]:
    wall: list[float] = []
    cpu: list[float] = []
    for item in items:
        t, c = time.perf_counter(), time.process_time()
        fn(item)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def _p(values: list[float]) -> str:
    p50, p95 = np.percentile(values, 50) * 1e3, np.percentile(values, 95) * 1e3
    return f"p50 {p50:5.1f} ms, p95 {p95:5.1f} ms"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=300, help="labelled notes to time")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes per figure")
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores shared)")
    if args.cold_runs > 0:
        _cold(args.cold_runs)

    notes = [n.text for n in load_labelled()]
    step = max(1, len(notes) // args.notes)
    notes = notes[::step][: args.notes]
    triage("warming up")  # loads the model, the prototypes, the rules and the reader
    m = embedding.encoder()
    for note in notes[:20]:
        triage(note)
    wall, cpu = _per_call(triage, notes)
    print(f"\nwarm triage() per note ({len(notes)} labelled notes; target p50 <= 20 ms):")
    print(f"  wall {_p(wall)}   CPU {_p(cpu)}")

    batches = [[n] for n in notes]
    with threadpool_limits(1, "blas"):
        _, prev = _per_call(lambda b: _previous_encode(m, b), batches)
    _, now = _per_call(m.encode, batches)
    drift = max(float(np.abs(m.encode(b) - _previous_encode(m, b)).max()) for b in batches[:50])
    print("one MiniLM encode per note, CPU (BLAS on 1 thread):")
    print(f"  now      {_p(now)}")
    print(f"  previous {_p(prev)}   ratio p50 {np.median(now) / np.median(prev):.2f}x")
    print(f"  largest difference now vs previous (50 notes): {drift:.1e}")

    for threads in (1, 2):
        with threadpool_limits(threads, "blas"):
            w, c = _per_call(m._forward, [m.tokenize(b) for b in batches[:100]])
        print(f"  BLAS {threads} thread(s): wall {_p(w)}   CPU {_p(c)}")

    t = time.process_time()
    m.encode_many(notes)
    many = (time.process_time() - t) / len(notes)
    print(
        f"encode_many over {len(notes)} notes: {many * 1e3:.1f} ms CPU per note "
        f"(ratio {many / np.median(now):.2f}x one at a time)"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
