"""A thread-safe ``functools.cache`` for the loaders triage calls without arguments.

Two threads that ask for the same table at once (a check-in, and the server's start-up
warm-up of the triage reader) get one load between them: the second waits for the first
instead of parsing and compiling the same file beside it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["once"]

T = TypeVar("T")


def once(fn: Callable[[], T]) -> Callable[[], T]:
    """Cache ``fn()`` behind a lock; the wrapper keeps ``cache_clear`` (for tests).

    >>> calls = []
    >>> @once
    ... def table() -> int:
    ...     calls.append(1)
    ...     return 42
    >>> table(), table(), len(calls)
    (42, 42, 1)
    """
    cached = functools.cache(fn)
    lock = threading.Lock()

    @functools.wraps(fn)
    def wrapper() -> T:
        with lock:
            return cached()

    wrapper_any: Any = wrapper
    wrapper_any.cache_clear = cached.cache_clear
    return wrapper
