"""The nature sources' value noise on Python floats is the array path's, to the bit.

:meth:`_ValueNoise.values` (wind's three control times per quantum, rain's and the
stream's one) redoes :meth:`_ValueNoise.at`'s float64 and uint64 arithmetic on Python
numbers, with the knots cached; both must give the same values at any time, across
knot boundaries, before time 0 (wind's lagged gust) and after the cache is emptied.
"""

from __future__ import annotations

import numpy as np

from sonora.engine.nature._random import _stream_key, _ValueNoise


def test_values_on_floats_are_the_array_paths_to_the_bit() -> None:
    rng = np.random.default_rng(11)
    for seed in (0, 3, 2**40 + 7):
        key, spacings = _stream_key(seed, "wind", "control"), (22.0, 30.0, 7.0, 11.0, 9.0)
        noise, ref = _ValueNoise(key, spacings), _ValueNoise(key, spacings)
        times = np.concatenate(
            [
                [-0.8, 0.0, 7.0, 7.0 - 1e-12, 14.0 / 2.7],  # a knot's edges, before 0
                rng.uniform(-1.0, 40_000.0, 300),  # up to 11 h
            ]
        )
        for i in range(0, len(times), 3):
            ts = [float(t) for t in times[i : i + 3]]
            got = np.array(noise.values(*ts))
            want = ref.at(np.array(ts))
            np.testing.assert_array_equal(got, want)
            # one time at a time (rain, stream) is the same too
            np.testing.assert_array_equal(noise.at(ts[0]), ref.at(np.array([ts[0]]))[:, 0])
        assert np.abs(np.array(noise.values(*times.tolist()))).max() > 1.0  # it moves


def test_values_are_the_same_after_the_knot_cache_is_emptied() -> None:
    noise = _ValueNoise(_stream_key(5, "rain", "slow"), (9.0, 14.0))
    first = noise.values(1.5, 100.25, 3600.0)
    noise._cache.clear()
    assert noise.values(1.5, 100.25, 3600.0) == first
