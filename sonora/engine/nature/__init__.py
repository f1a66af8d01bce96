"""Nature sound sources: rain, ocean waves, wind and a forest stream.

One module per family (:mod:`.rain`, :mod:`.ocean`, :mod:`.wind`, :mod:`.stream`);
the machinery they share (noise banks, events, absolute-time randomness) lives in
:mod:`._common`.  The classes are re-exported here, so ``sonora.engine.nature:Rain``
keeps working.
"""

from __future__ import annotations

from sonora.engine.nature._common import finish_doc
from sonora.engine.nature.ocean import OceanWaves
from sonora.engine.nature.rain import Rain
from sonora.engine.nature.stream import Stream
from sonora.engine.nature.wind import Wind

for _cls in (OceanWaves, Rain, Stream, Wind):
    finish_doc(_cls)  # the output and parameter lines they share (see _common)
del _cls

__all__ = ["OceanWaves", "Rain", "Stream", "Wind"]
