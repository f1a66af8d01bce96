"""Measure triage on one round of labelled notes (a CSV), for first-sight figures.

The CSV needs columns ``text`` and ``level`` (``crisis``, ``clinical`` or
``everyday``); other columns (``note_lang``, ``category``...) are ignored, except
that ``--by`` can break the crisis recall down by one of them.

Prints the confusion matrix (rows: true level, columns: screened as), crisis
recall, clinical recall (clinical or crisis), everyday read as crisis and
everyday flagged at all. Misses are listed only with ``--misses`` (a first-sight
measurement should be recorded before anyone reads them).

Usage::

    .venv/bin/python tools/triage_round.py /path/round_G.csv [--misses] [--by note_lang]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from sonora.care.evaluate import LEVELS, LabelledNote, evaluate
from sonora.care.triage import triage


def main(argv: list[str] | None = None) -> int:
    """Screen every row of the CSV and print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", type=Path, help="CSV with text and level columns")
    parser.add_argument("--misses", action="store_true", help="list every disagreement")
    parser.add_argument("--by", default=None, help="column to break crisis recall down by")
    args = parser.parse_args(argv)
    with args.csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [r for r in rows if r.get("level") not in LEVELS]
    if bad:
        print(f"level must be one of {LEVELS}; {len(bad)} rows are not", file=sys.stderr)
        return 2
    notes = [LabelledNote(r["text"], r["level"], args.csv.stem) for r in rows]
    got = {n.text: triage(n.text).level for n in notes}
    ev = evaluate(notes, got.__getitem__)
    n_of = {lvl: sum(ev.confusion[lvl].values()) for lvl in LEVELS}
    print(f"{args.csv.name}: {len(notes)} notes ({', '.join(f'{k}={v}' for k, v in n_of.items())})")
    print(f"{'':<10}" + "".join(f"{lvl:>10}" for lvl in LEVELS))
    for true in LEVELS:
        print(f"{true:<10}" + "".join(f"{ev.confusion[true][p]:>10}" for p in LEVELS))
    c = ev.confusion
    print(
        f"crisis recall {c['crisis']['crisis']}/{n_of['crisis']} ({ev.crisis_recall:.1%}); "
        f"clinical recall {c['clinical']['clinical'] + c['clinical']['crisis']}/{n_of['clinical']} "
        f"({ev.clinical_recall:.1%}); everyday as crisis {c['everyday']['crisis']}/"
        f"{n_of['everyday']} ({ev.everyday_as_crisis:.1%}); everyday flagged "
        f"{c['everyday']['crisis'] + c['everyday']['clinical']}/{n_of['everyday']} "
        f"({ev.everyday_flagged:.1%})"
    )
    if args.by:
        groups: dict[str, list[int]] = {}
        for r in rows:
            if r["level"] == "crisis":
                g = groups.setdefault(r.get(args.by, "?"), [0, 0])
                g[0] += got[r["text"]] == "crisis"
                g[1] += 1
        for key, (hit, n) in sorted(groups.items()):
            print(f"  crisis recall, {args.by}={key}: {hit}/{n}")
    if args.misses:
        for text, true, pred in ev.misses:
            print(f"  [{true} -> {pred}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
