"""Every repository implements the protocol the rest of Sonora is typed against.

A protocol is only a promise; this checks each implementation keeps it: every method
the protocol names exists with the same parameters (names, kinds, defaults), so code
written against the protocol runs against the real repository.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from sonora.accounts.privacy import AccountPart, UserRows
from sonora.accounts.repo import AccountRepo
from sonora.accounts.store import AccountStore
from sonora.core.database import Database
from sonora.limits.counters import Counters, SqlCounters
from sonora.listening.repo import ListeningRepo
from sonora.listening.store import ListeningStore
from sonora.match.repository import MatcherStore
from sonora.match.store import InMemoryStore, Store
from sonora.therapists.privacy import TherapistAccountPart

PAIRS = [
    (AccountStore, AccountRepo),
    (AccountStore, Database),
    (ListeningStore, ListeningRepo),
    (ListeningStore, Database),
    (Store, MatcherStore),
    (Store, InMemoryStore),
    (Counters, SqlCounters),
    (AccountPart, UserRows),
    (AccountPart, TherapistAccountPart),
]


def _members(protocol: type) -> list[str]:
    return [
        name
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    ]


def _shape(fn: Any) -> list[tuple[str, Any, Any]]:
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize(
    ("protocol", "impl"), PAIRS, ids=[f"{p.__name__}-{i.__name__}" for p, i in PAIRS]
)
def test_the_implementation_keeps_the_protocol(protocol: type, impl: type) -> None:
    members = _members(protocol)
    assert members, f"{protocol.__name__} names no methods"
    for name in members:
        assert hasattr(impl, name), f"{impl.__name__} lacks {protocol.__name__}.{name}"
        assert _shape(getattr(impl, name)) == _shape(getattr(protocol, name)), (
            f"{impl.__name__}.{name} differs from {protocol.__name__}.{name}"
        )


def test_a_missing_method_is_reported() -> None:
    """The check can fail: a class without one of the protocol's methods is caught."""

    class Half:
        def hit(self, key: str, *, period_s: float, now: float, cost: int = 1) -> int:
            return 0

    assert not all(hasattr(Half, name) for name in _members(Counters))
    assert _shape(Half.hit) == _shape(Counters.hit)
