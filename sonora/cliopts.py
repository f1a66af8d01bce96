"""Command-line options shared by several subcommands (``render``, ``play``, ``recommend``).

Lives below every command-line module and imports only Typer, so ``sonora.cli`` and a
feature's own ``cli`` module (``sonora.match.cli``) can both use it without one importing
the other.  The ranges in the help are the ones the renderers check
(:class:`~sonora.errors.ParameterError` names the field when a value is outside them).
"""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["DEFAULT_LOUDNESS_LUFS", "DEFAULT_SAMPLE_RATE_HZ", "LoudnessOption", "SampleRateOption"]

DEFAULT_LOUDNESS_LUFS = -23.0
"""EBU R 128's programme loudness, the default target of every render (LUFS)."""

DEFAULT_SAMPLE_RATE_HZ = 48_000
"""Default sample rate of every render (Hz)."""

LoudnessOption = Annotated[
    float,
    typer.Option("--loudness", help="Integrated loudness target, -30 to -14 LUFS."),
]
"""``--loudness``: the integrated loudness target in LUFS (a float)."""

SampleRateOption = Annotated[
    int,
    typer.Option("--sample-rate", help="Sample rate of the render, 22050 to 96000 Hz."),
]
"""``--sample-rate``: the render's sample rate in Hz (an int)."""
