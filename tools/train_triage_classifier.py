"""Train the linear crisis reader and choose its threshold by leave-one-round-out.

Reads ``sonora/care/data/triage_labelled.csv`` (plus any ``--extra`` CSVs with
``text``/``level`` columns, each its own round named after the file), fits an
L2-regularised logistic regression (crisis against the rest; crisis notes weighted
up, clinical negatives weighted half) on the hashed n-grams of
:func:`sonora.care.classifier.features`, and estimates it honestly: for each round
written by independent writers (``--blind``, by default round9-round13 = blind
rounds A, B, D, E, F), the model is trained on every *other* row and scores the
left-out round. It prints per round and pooled: the rule system alone (as it is in
this checkout), the reader alone and either of them, at each candidate threshold;
then picks the threshold with the highest pooled crisis recall whose pooled
everyday-read-as-crisis stays <= ``--max-everyday`` (default 2 %), trains on every
row and writes ``sonora/care/data/triage_linear.npz``.

Needs scipy (in the ``test`` extra); the shipped reader needs only numpy.

Usage::

    .venv/bin/python tools/train_triage_classifier.py [--dry-run] [--extra a.csv ...]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

from sonora.care import classifier
from sonora.care.evaluate import LabelledNote, load_labelled

OUT = Path(__file__).resolve().parents[1] / "sonora" / "care" / "data" / "triage_linear.npz"
BLIND = ("round9", "round10", "round11", "round12", "round13")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def matrix(texts: list[str]) -> sparse.csr_matrix:
    """Unit-length binary rows of hashed features, shape (len(texts), DIMENSION)."""
    rows, cols, vals = [], [], []
    for i, t in enumerate(texts):
        idx = classifier.features(t)
        if idx.size:
            rows.extend([i] * idx.size)
            cols.extend(idx.tolist())
            vals.extend([1.0 / np.sqrt(idx.size)] * idx.size)
    return sparse.csr_matrix(
        (vals, (rows, cols)), shape=(len(texts), classifier.DIMENSION), dtype=np.float64
    )


def fit(
    x: sparse.csr_matrix, levels: np.ndarray, l2: float, crisis_weight: float
) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by L-BFGS; returns (weights, bias)."""
    y = (levels == "crisis").astype(np.float64)
    c = np.where(levels == "crisis", crisis_weight, np.where(levels == "clinical", 0.5, 1.0))
    d = x.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        ll = c * (np.logaddexp(0.0, z) - y * z)
        g = c * (p - y)
        grad = np.empty_like(theta)
        grad[:d] = x.T @ g + l2 * w
        grad[d] = g.sum()
        return float(ll.sum() + 0.5 * l2 * w @ w), grad

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:d], float(res.x[d])


def probabilities(x: sparse.csr_matrix, w: np.ndarray, b: float) -> np.ndarray:
    """Crisis probability of each row."""
    return 1.0 / (1.0 + np.exp(-np.clip(x @ w + b, -60, 60)))


def read_extra(paths: list[Path]) -> list[LabelledNote]:
    """Rows of extra CSVs, each file its own split (its stem)."""
    out = []
    for p in paths:
        with p.open(encoding="utf-8", newline="") as fh:
            out += [LabelledNote(r["text"], r["level"], p.stem) for r in csv.DictReader(fh)]
    return out


def figures(levels: np.ndarray, called: np.ndarray) -> tuple[int, int, int, int]:
    """(crisis caught, crisis n, everyday called crisis, everyday n)."""
    cr, ev = levels == "crisis", levels == "everyday"
    return int((called & cr).sum()), int(cr.sum()), int((called & ev).sum()), int(ev.sum())


def main(argv: list[str] | None = None) -> int:
    """Run the leave-one-round-out estimate, choose the threshold, write the weights."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--extra", nargs="*", type=Path, default=[])
    ap.add_argument("--blind", nargs="*", default=list(BLIND))
    ap.add_argument("--l2", type=float, default=0.3)
    ap.add_argument("--crisis-weight", type=float, default=2.0)
    ap.add_argument("--max-everyday", type=float, default=0.02)
    ap.add_argument("--no-system", action="store_true", help="skip the rule system's column")
    ap.add_argument("--embed", type=float, default=1.0, help="scale of MiniLM features (0: none)")
    ap.add_argument("--dry-run", action="store_true", help="estimate only; write nothing")
    args = ap.parse_args(argv)

    notes = load_labelled() + read_extra(args.extra)
    texts = [n.text for n in notes]
    levels = np.array([n.level for n in notes])
    splits = np.array([n.split for n in notes])
    x = matrix(texts)
    if args.embed:
        from sonora.care import embedding

        e = embedding.encoder().encode([classifier.clean(t) for t in texts]) * args.embed
        x = sparse.hstack([x, sparse.csr_matrix(e)], format="csr")
    if args.no_system:
        system = np.zeros(len(notes), dtype=bool)
    else:
        from sonora.care import triage as triage_mod

        # the system without the reader (else the shipped reader, trained on every
        # round, would leak into the left-out rounds' figures)
        triage_mod._reader = lambda text: None  # type: ignore[assignment]
        system = np.array([triage_mod.triage(t).level == "crisis" for t in texts])

    held = np.isin(splits, args.blind)
    prob = np.zeros(len(notes))
    for r in args.blind:
        test = splits == r
        if not test.any():
            print(f"(no rows in {r})")
            continue
        w, b = fit(x[~test], levels[~test], args.l2, args.crisis_weight)
        prob[test] = probabilities(x[test], w, b)

    print(
        f"leave-one-round-out over {', '.join(args.blind)} (l2={args.l2}, "
        f"crisis weight {args.crisis_weight})"
    )
    print("  system alone (as in this checkout; rounds it was tuned on are optimistic):")
    for r in args.blind:
        cr, crn, ev, evn = figures(levels[splits == r], system[splits == r])
        print(f"    {r:<8} crisis {cr:>3}/{crn:<3} everyday as crisis {ev}/{evn}")
    best = None
    print("  threshold: reader alone | system or reader (pooled over the left-out rounds)")
    for t in THRESHOLDS:
        alone = figures(levels[held], prob[held] >= t)
        both = figures(levels[held], (prob[held] >= t) | system[held])
        print(
            f"    {t:.2f}: crisis {alone[0]}/{alone[1]} ({alone[0] / alone[1]:.1%}) ev->crisis "
            f"{alone[2]}/{alone[3]} | crisis {both[0]}/{both[1]} ({both[0] / both[1]:.1%}) "
            f"ev->crisis {both[2]}/{both[3]} ({both[2] / both[3]:.1%})"
        )
        if alone[2] / alone[3] <= args.max_everyday and (best is None or both[0] > best[1]):
            best = (t, both[0])
    if best is None:
        print("no threshold keeps everyday-as-crisis within bounds")
        return 1
    t = best[0]
    print(f"  chosen threshold {t:.2f}; per round, system or reader:")
    for r in args.blind:
        m = splits == r
        cr, crn, ev, evn = figures(levels[m], (prob[m] >= t) | system[m])
        print(f"    {r:<8} crisis {cr:>3}/{crn:<3} everyday as crisis {ev}/{evn}")
    if args.dry_run:
        return 0
    w, b = fit(x, levels, args.l2, args.crisis_weight)
    d = classifier.DIMENSION
    embed_w = w[d:] if args.embed else np.zeros(384)
    np.savez_compressed(
        OUT,
        weights=w[:d].astype(np.float32),
        bias=np.float64(b),
        threshold=np.float64(t),
        embed_weights=embed_w.astype(np.float32),
        embed_scale=np.float64(args.embed),
    )
    fitted = figures(levels, probabilities(x, w, b) >= t)
    print(
        f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB); on its own training rows: crisis "
        f"{fitted[0]}/{fitted[1]}, everyday as crisis {fitted[2]}/{fitted[3]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
