"""Leave-one-round-out figures of triage with and without its corrections after the reader.

The corrections (:func:`sonora.care.rulebook.clinician_signals`: their own clinician makes
an everyday note clinical; :func:`sonora.care.rulebook.hyperboles`: a crisis call is set
aside when the note, read again without its "mort de rire" or "ce taf va me tuer", has no
crisis cue the rules see and, unless what is left is short, the reader no longer calls it
crisis) are not inputs of the trained reader, so they do not change what
``tools/train_triage_classifier.py`` trains. This tool measures them the same honest
way: for each round by an independent writer, both heads are trained on every other
row (the training tool's own functions and settings) and decide the left-out round,
then the corrections are applied, the re-read scored by the same left-out heads.

Prints one row per round and pooled rows: crisis recall, clinical recall, everyday read
as crisis and everyday flagged, before and after. About 3 minutes of CPU.

Usage::

    .venv/bin/python tools/triage_corrections.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_triage_classifier as tt  # the training tool, beside this one

from sonora.care import blank, classifier, concern, reading, rulebook, rules
from sonora.care.evaluate import LabelledNote, load_labelled

DEVELOPED_ON = ("round9", "round10", "round11", "round12", "round13", "roundC", "roundG", "roundH")


def main(argv: list[str] | None = None) -> int:
    """Run the estimate and print the table; return the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--l2", type=float, default=0.002)
    ap.add_argument("--crisis-weight", type=float, default=2.0)
    ap.add_argument("--flag-weight", type=float, default=1.0)
    args = ap.parse_args(argv)
    t0 = time.process_time()
    reader = classifier.load()
    t, t_rule, t_flag = reader.crisis.threshold, reader.rule_threshold, reader.flagged.threshold

    notes = [n for n in load_labelled() if rules.normalise(n.text)]
    levels = np.array([n.level for n in notes])
    splits = np.array([n.split for n in notes])
    reads = [reading.read_rules(n.text) for n in notes]
    rule = np.array([bool(r.crisis) for r in reads])
    harm = np.array([blank.has_harm_emoji(n.text) for n in notes])
    held = (rule | harm) & np.array([reading.is_short(n.text) for n in notes])
    held |= np.array([concern.is_held(r.crisis) for r in reads])
    gated = np.array([tt.is_blank(n) for n in notes])
    clinician = np.array([bool(r.clinician) for r in reads])
    figs = [rulebook.hyperboles(n.text) for n in notes]
    hyper = [i for i, (found, _) in enumerate(figs) if found]
    rests = [LabelledNote(figs[i][1] or ".", notes[i].level, notes[i].split) for i in hyper]
    rest_rule = np.array([bool(reading.read_rules(n.text).crisis) for n in rests], dtype=bool)
    rest_short = np.array([reading.is_short(n.text) for n in rests], dtype=bool)
    x, x_rest = tt.design(notes), tt.design(rests)

    pc, pf = np.zeros(len(notes)), np.zeros(len(notes))
    p_rest = np.ones(len(hyper))
    rest_split = np.array([notes[i].split for i in hyper])
    for r in tt.BLIND:
        test = splits == r
        if not test.any():
            continue
        hc, hf = tt.heads(x[~test], levels[~test], args)
        pc[test], pf[test] = tt.prob(x[test], hc), tt.prob(x[test], hf)
        sel = rest_split == r
        if sel.any():
            p_rest[sel] = tt.prob(x_rest[sel], hc)
        print(f"  left out {r}: {time.process_time() - t0:.0f} s CPU", flush=True)
    # as triage: nothing left to read once the figure is out means nothing else alarmed
    empty = np.array([not rulebook.has_words(figs[i][1]) for i in hyper], dtype=bool)
    p_rest[empty] = 0.0

    before = tt.decide(pc, pf, rule, t, t_rule, t_flag, gated, held)
    crisis = before == "crisis"
    for k, i in enumerate(hyper):
        # as triage: a crisis call (the reader's, the gate's or a short note's) is set
        # aside when the note without the figure has no crisis cue the rules see and,
        # unless it is short, the reader no longer calls it crisis
        if crisis[i] and not harm[i] and not rest_rule[k] and (rest_short[k] or p_rest[k] < t):
            crisis[i] = False
    flagged = (pf >= t_flag) | clinician
    after = np.where(crisis, "crisis", np.where(flagged, "clinical", "everyday"))
    after = np.where(gated, "everyday", after)

    print(f"thresholds: crisis {t:.2f}, rules' crisis {t_rule:.2f}, flagged {t_flag:.2f}")
    pools = [(r, [r]) for r in tt.BLIND]
    pools += [("A-H pooled", list(DEVELOPED_ON)), ("pool", list(tt.POOL))]
    for name, members in pools:
        m = np.isin(splits, members)
        if not m.any():
            continue
        print(tt.line(name[:8], tt.figures(levels[m], before[m])) + "   (before)")
        print(tt.line("", tt.figures(levels[m], after[m])) + "   (after)")
    print(f"total {time.process_time() - t0:.0f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
