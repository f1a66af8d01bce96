"""Sonora: a self-hostable calming-sound companion.

Sonora composes calming sound for a listener and a moment, renders it live, and learns
what helps.  It is a wellness tool, not music therapy.
"""

from __future__ import annotations

__version__ = "0.1.0"


def _single_threaded_blas() -> None:
    """Keep BLAS on one thread.

    The engine's matrix products are small (a few dozen rows by one block); OpenBLAS's
    threads cost far more to wake and synchronise than they save (measured: 7x slower
    on two cores), and rendering already uses the second core for encoding.

    OpenBLAS reads ``OPENBLAS_NUM_THREADS`` when numpy loads it, so that is set first
    (unless the user set it); ``threadpoolctl`` (which only sees libraries already
    loaded, and costs ~50 ms to import) is used only when numpy came first.
    """
    import os
    import sys

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if "numpy" not in sys.modules:
        return
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except Exception:  # pragma: no cover - threadpoolctl missing or failing: env only
        pass


_single_threaded_blas()
