"""Names under which scene files refer to sources."""

from __future__ import annotations

import importlib

from sonora.engine.base import Source
from sonora.errors import ParameterError

#: scene-file name -> "module:Class"
SOURCES: dict[str, str] = {
    "white_noise": "sonora.engine.noise:WhiteNoise",
    "pink_noise": "sonora.engine.noise:PinkNoise",
    "brown_noise": "sonora.engine.noise:BrownNoise",
    "singing_bowl": "sonora.engine.tonal.bowl:SingingBowl",
    "gong": "sonora.engine.tonal.gong:Gong",
    "chimes": "sonora.engine.tonal.chimes:Chimes",
    "rain": "sonora.engine.nature.rain:Rain",
    "ocean_waves": "sonora.engine.nature.ocean:OceanWaves",
    "wind": "sonora.engine.nature.wind:Wind",
    "stream": "sonora.engine.nature.stream:Stream",
    "drone": "sonora.engine.tonal.drone:Drone",
    "melody": "sonora.engine.tonal.melody:Melody",
    "breath_pacer": "sonora.engine.tonal.breath:BreathPacer",
    "binaural": "sonora.engine.tonal.binaural:Binaural",
}


def source_class(name: str, *, field: str = "source") -> type[Source]:
    """Return the source class registered as ``name``.

    Raises
    ------
    ParameterError
        Naming ``field`` and listing the known sources.
    """
    target = SOURCES.get(name)
    if target is None:
        raise ParameterError(field, f"unknown source {name!r}; known: {', '.join(sorted(SOURCES))}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def headphones_only(name: str) -> bool:
    """Whether the source only works over headphones (binaural beats)."""
    return bool(getattr(source_class(name), "HEADPHONES_ONLY", False))
