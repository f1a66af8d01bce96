"""Tonal instruments: one module per family.

* :mod:`.bowl` singing bowls, :mod:`.gong` the gong, :mod:`.chimes` wind chimes and
  :mod:`.strikes` plain modal strikes share the modal renderer in :mod:`.modal`
  (damped complex exponentials, one matrix product per quantum);
* :mod:`.drone`, :mod:`.melody`, :mod:`.breath` and :mod:`.binaural` share the partial
  bank and interpolator in :mod:`.bank` and the helpers in :mod:`.common`.

Scene files name sources through :mod:`sonora.engine.registry`, which points at the
modules here.
"""

from __future__ import annotations

from sonora.engine.tonal.binaural import Binaural
from sonora.engine.tonal.bowl import SingingBowl
from sonora.engine.tonal.breath import BreathPacer
from sonora.engine.tonal.chimes import Chimes
from sonora.engine.tonal.drone import Drone
from sonora.engine.tonal.gong import Gong
from sonora.engine.tonal.melody import MODES, Melody, NoteEvent
from sonora.engine.tonal.strikes import ModalStrikes

__all__ = [
    "MODES",
    "Binaural",
    "BreathPacer",
    "Chimes",
    "Drone",
    "Gong",
    "Melody",
    "ModalStrikes",
    "NoteEvent",
    "SingingBowl",
]
