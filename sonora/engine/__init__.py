"""Sonora's sound engine: pure DSP, streaming, seeded, block-size invariant."""
