"""A rate-limit count left to the route (:data:`sonora.web.limits.IN_ROUTE`).

:class:`~sonora.web.limits.RateLimitMiddleware` puts a :class:`PendingCheck` in the
request's state; the route's one worker-thread hop runs it first
(:func:`sonora.web.deps.run_as_user`).  Here, apart from both, so neither imports the
other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import Scope

if TYPE_CHECKING:
    from sonora.accounts.repo import UserRecord

__all__ = ["PENDING_KEY", "PendingCheck", "take_limit_check"]

PENDING_KEY = "sonora_limit_check"


class PendingCheck:
    """A request's rate-limit count (and the listener it found), run once by the route.

    Parameters
    ----------
    check : callable
        Counts every limit of the request (raising
        :class:`~sonora.web.limits.RateLimited` when one is
        over) and returns the signed-in listener or ``None``; blocking (run it in a
        worker thread).
    """

    def __init__(self, check: Callable[[], UserRecord | None]) -> None:
        self._check = check
        self.taken = False

    def run(self) -> UserRecord | None:
        """Count (once): the listener, or :class:`~sonora.web.limits.RateLimited`."""
        self.taken = True
        return self._check()


def take_limit_check(scope: Scope) -> PendingCheck | None:
    """The count left to an :data:`~sonora.web.limits.IN_ROUTE` route by the middleware
    (``None`` when limits are off); the route runs it in its worker thread, first."""
    state = scope.get("state")
    return None if state is None else state.get(PENDING_KEY)
