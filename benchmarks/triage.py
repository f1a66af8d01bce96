"""Triage benchmark: accuracy on the labelled notes, cold and warm cost, memory.

Runs :func:`sonora.care.triage.triage` on every row of
``sonora/care/data/triage_labelled.csv`` and prints, per split and overall:
crisis recall, clinical recall (clinical or crisis), everyday notes flagged as
crisis and as anything, and the confusion matrix. Also prints the time and
memory taken to load the sentence-embedding model (first call, in this fresh
process) and the per-note latency (p50/p95/mean) once warm, next to a reference
measured in the same run: one bare ``model.encode`` of a short sentence.

Cold cost (issue #10: at most 1 s of CPU): the CPU time (user + system) of a
fresh Python process that screens one note, measured with
``resource.getrusage(RUSAGE_CHILDREN)``, both for the triage path alone
(``from sonora.care.triage import triage``) and for ``sonora triage`` end to end
(``python -m sonora.cli triage ... --json``, which also pays for importing the
CLI). A bare ``python -c pass`` is measured in the same run as the reference.

Also prints what the concern gate (:mod:`sonora.care.concern`) catches alone
per split, and a leave-one-round-out estimate of a nearest-neighbour reading of
the labelled notes (each round scored against the others only).

Splits (see :mod:`sonora.care.evaluate`): ``dev``, ``round1``-``round13``
were used for tuning (each round was first measured once as a held-out set; those
first-sight figures are printed too); ``heldout`` (60 notes) was written afterwards,
measured once (first sight: crisis recall 19/20), and only its one crisis miss was
then read (see :mod:`sonora.care.evaluate`). Targets (issue #10): crisis recall 100%,
clinical recall >= 95%, everyday flagged crisis <= 1% and flagged at all <= 5%; first
sight on a fresh round: crisis recall >= 95%.

Exit status is non-zero when the tuning rows miss a target, or, with
``--strict``, when the held-out rows do.

Usage::

    python benchmarks/triage.py [--strict] [--misses] [--no-cold] [--no-loro]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import time

import numpy as np

from sonora.care import concern, embedding, rulebook, rules
from sonora.care.evaluate import (
    FIRST_SIGHT,
    TARGETS,
    Evaluation,
    LabelledNote,
    evaluate,
    is_hard_negative,
    load_labelled,
)
from sonora.care.triage import triage

LEVELS = ("crisis", "clinical", "everyday")


def _rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc, else peak)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


def _row(name: str, ev: Evaluation) -> str:
    n = sum(sum(r.values()) for r in ev.confusion.values())
    return (
        f"{name:<10} {n:>4}  {ev.crisis_recall:>8.1%}  {ev.clinical_recall:>8.1%}  "
        f"{ev.everyday_as_crisis:>9.1%}  {ev.everyday_flagged:>9.1%}"
    )


def _child_cpu_s(args: list[str]) -> float:
    """CPU seconds (user + system) used by one fresh child process running ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, capture_output=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _cold(runs: int = 3) -> None:
    """Print the cold CPU cost of screening one note in a fresh process (median of runs)."""
    note = "long day at work, the train was late, want some rain"
    py = sys.executable
    cases = {
        "python -c pass (reference)": [py, "-c", "pass"],
        "triage path (import + load + one note)": [
            py,
            "-c",
            f"from sonora.care.triage import triage; triage({note!r})",
        ],
        "sonora triage CLI end to end": [py, "-m", "sonora.cli", "triage", note, "--json"],
    }
    print("\ncold cost in a fresh process, CPU seconds (user+system), median of", runs)
    ref = None
    for name, args in cases.items():
        values = sorted(_child_cpu_s(args) for _ in range(runs))
        med = values[len(values) // 2]
        ref = med if ref is None else ref
        verdict = (
            "" if ref is med else ("  (target <= 1 s: " + ("met" if med <= 1.0 else "MISSED") + ")")
        )
        print(f"  {name:<42} {med:6.2f} s  ({med / ref:.1f}x the bare interpreter){verdict}")


def _neutral(text: str) -> str:
    plain, _ = rulebook.rewrite_slang(rules.normalise(text))
    plain, _ = rulebook.rewrite_idioms(plain)
    return rules.neutralise(plain)[0]


def _gate_alone(notes: list[LabelledNote]) -> None:
    """Print what the concern gate catches on its own, per split (no rules, no model)."""
    print("\nconcern gate alone (no phrase rules, no sentence model), per split:")
    by_split: dict[str, list[LabelledNote]] = {}
    for n in notes:
        by_split.setdefault(n.split, []).append(n)
    for split in sorted(by_split):
        rows = by_split[split]

        def fires(n: LabelledNote) -> bool:
            lang = rulebook.detect_language(n.text)
            sigs = concern.concerns(_neutral(n.text), rulebook.fold(n.text), language=lang)
            return any(not concern.is_clinical(s) for s in sigs)

        crisis = [n for n in rows if n.level == "crisis"]
        everyday = [n for n in rows if n.level == "everyday"]
        cr = sum(fires(n) for n in crisis)
        ev = sum(fires(n) for n in everyday)
        print(
            f"  {split:<8} crisis caught {cr:>3}/{len(crisis):<3} everyday read as crisis "
            f"{ev}/{len(everyday)}"
        )


def _leave_one_round_out(notes: list[LabelledNote], k: int = 7) -> None:
    """Leave-one-round-out estimate of a nearest-neighbour reading of the labelled notes.

    For each split, the notes of every *other* split (and the prototypes) are the
    neighbours; a note is called crisis when at least 70 % of the similarity of its
    ``k`` nearest neighbours is crisis and the nearest crisis neighbour has cosine
    >= 0.6 (the strictest setting tried). This is the honest, first-sight figure of
    the only part that learns from the labelled rows; it is printed so that the
    choice not to let it decide is checked in every run.
    """
    matrix = embedding.encoder().encode([_neutral(n.text) for n in notes])
    protos, proto_labels = embedding._prototype_matrix()
    labels = np.array([LEVELS.index(n.level) for n in notes])
    splits = np.array([n.split for n in notes])
    print(f"\nleave-one-round-out, nearest neighbours over the other rounds (k={k}):")
    tot = np.zeros(4, dtype=int)
    for split in sorted(set(splits)):
        test = splits == split
        ref = np.vstack([matrix[~test], protos])
        ref_labels = np.concatenate([labels[~test], proto_labels])
        sims = matrix[test] @ ref.T
        top = np.argsort(-sims, axis=1)[:, :k]
        calls = []
        for i, row in enumerate(top):
            s, lab = sims[i, row], ref_labels[row]
            share = s[lab == 0].sum() / max(s.sum(), 1e-9)
            calls.append(share >= 0.7 and s[lab == 0].max(initial=0.0) >= 0.6)
        calls_a = np.array(calls)
        true = labels[test]
        counts = np.array(
            [
                (calls_a & (true == 0)).sum(),
                (true == 0).sum(),
                (calls_a & (true == 2)).sum(),
                (true == 2).sum(),
            ]
        )
        tot += counts
        print(
            f"  {split:<8} crisis {counts[0]:>3}/{counts[1]:<3} everyday read as crisis "
            f"{counts[2]}/{counts[3]}"
        )
    print(
        f"  {'all':<8} crisis {tot[0] / tot[1]:.1%}, everyday read as crisis {tot[2] / tot[3]:.1%}"
        " (shown for comparison, not used to decide: it transfers poorly to another"
        " writer, see round9 and round10)"
    )


def _confusion(title: str, ev: Evaluation) -> None:
    print(f"\n{title} (rows: true level, columns: screened as)")
    print(f"{'':<10}" + "".join(f"{lvl:>10}" for lvl in LEVELS))
    for true in LEVELS:
        print(f"{true:<10}" + "".join(f"{ev.confusion[true][p]:>10}" for p in LEVELS))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strict", action="store_true", help="also gate on held-out rows")
    parser.add_argument("--misses", action="store_true", help="list every disagreement")
    parser.add_argument("--no-cold", action="store_true", help="skip the fresh-process runs")
    parser.add_argument(
        "--no-loro", action="store_true", help="skip the leave-one-round-out estimate"
    )
    args = parser.parse_args(argv)
    if not args.no_cold:
        _cold()

    notes = load_labelled()
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    triage("warming up")  # loads the model and embeds the prototypes
    load_s = time.perf_counter() - t0
    rss1 = _rss_mb()
    info = embedding.model_info()

    model = embedding.encoder()
    ref: list[float] = []
    for _ in range(30):
        t = time.perf_counter()
        model.encode(["a short note about my day"])
        ref.append(time.perf_counter() - t)

    latencies: list[float] = []
    cpu: list[float] = []
    predicted: dict[str, str] = {}
    for note in notes:
        t, c = time.perf_counter(), time.process_time()
        predicted[note.text] = triage(note.text).level
        latencies.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)

    def predict(text: str) -> str:
        return predicted[text]

    splits = sorted({n.split for n in notes}, key=lambda s: (s == "heldout", s))
    per_split = {s: evaluate([n for n in notes if n.split == s], predict) for s in splits}
    tuned = evaluate([n for n in notes if n.split != "heldout"], predict)
    heldout = evaluate([n for n in notes if n.split == "heldout"], predict)
    overall = evaluate(notes, predict)

    print("Sonora triage benchmark")
    counts = ", ".join(f"{s}={sum(n.split == s for n in notes)}" for s in splits)
    print(f"labelled notes: {len(notes)} ({counts})")
    levels = ", ".join(f"{lvl}={sum(n.level == lvl for n in notes)}" for lvl in LEVELS)
    print(f"by level: {levels}; hard negatives: {sum(is_hard_negative(n) for n in notes)}")
    print(
        f"prototypes: {info['prototypes']}, embedding dimension {info['dimension']}, "
        f"model at {info['model_path']}"
    )
    print(
        f"\nmodel load (first call, incl. tokenizer and weights map, prototypes from file): "
        f"{load_s:.2f} s; import+load alone {info['load_seconds']:.2f} s"
    )
    print(f"resident memory: {rss0:.0f} MB before, {rss1:.0f} MB after (+{rss1 - rss0:.0f} MB)")
    p50, p95 = _percentile(latencies, 50) * 1e3, _percentile(latencies, 95) * 1e3
    r50 = _percentile(ref, 50) * 1e3
    mean = sum(latencies) / len(latencies) * 1e3
    print(
        f"latency per note (warm, {len(latencies)} notes): p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"mean {mean:.1f} ms (target <= 20 ms); reference bare encode of one sentence "
        f"p50 {r50:.1f} ms (ratio p50 {p50 / r50:.1f}x)"
    )
    c50, c95 = _percentile(cpu, 50) * 1e3, _percentile(cpu, 95) * 1e3
    print(
        f"CPU time per note (warm; what the note costs, less sensitive to other load on the "
        f"machine than wall time): p50 {c50:.1f} ms, p95 {c95:.1f} ms"
    )

    print(
        f"\n{'split':<10} {'n':>4}  {'crisis-R':>8}  {'clinic-R':>8}  {'ev->crisis':>9}  "
        f"{'ev-flagged':>9}"
    )
    for s in splits:
        print(_row(s, per_split[s]))
    print(_row("tuned", tuned))
    print(_row("all", overall))
    print(
        f"targets:   crisis-R {TARGETS['crisis_recall_min']:.0%}, clinic-R >= "
        f"{TARGETS['clinical_recall_min']:.0%}, ev->crisis <= {TARGETS['everyday_as_crisis_max']:.0%}"
        f", ev-flagged <= {TARGETS['everyday_flagged_max']:.0%}"
    )

    _confusion("confusion, tuned rows (dev + round1-13)", tuned)
    _confusion("confusion, held-out rows", heldout)

    print("\nfirst-sight figures of each held-out round, before its mistakes were read:")
    print(
        "  (round9, round10: blind rounds A, B; round11-13: blind rounds D, E, F; roundC,"
        " roundG, roundH: sealed blind rounds; T1-T3: blind pools; n/a: no such notes)"
    )
    for name, figs in FIRST_SIGHT.items():
        cr, cl, ec, ef = ("  n/a" if math.isnan(v) else f"{v:.1%}" for v in figs)
        print(f"  {name:<8} crisis-R {cr}  clinic-R {cl}  ev->crisis {ec}  ev-flagged {ef}")

    _gate_alone(notes)
    if not args.no_loro:
        _leave_one_round_out(notes)

    shown = overall.misses if args.misses else heldout.misses
    label = "all disagreements" if args.misses else "held-out disagreements"
    print(f"\n{label}:")
    for text, true, got in shown:
        print(f"  [{true} -> {got}] {text}")

    failed = tuned.failures()
    held_failed = heldout.failures()
    print()
    if failed:
        print("FAIL (tuned rows): " + "; ".join(failed))
    else:
        print("PASS: tuned rows meet every target")
    if held_failed:
        print(("FAIL" if args.strict else "NOTE") + " (held-out rows): " + "; ".join(held_failed))
    else:
        print("held-out rows meet every target")
    return 1 if failed or (args.strict and held_failed) else 0


if __name__ == "__main__":
    sys.exit(main())
