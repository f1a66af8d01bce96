"""``sonora.store.records.record_of``: records from rows, JSON containers copied."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sonora.store.records import record_of


@dataclass(frozen=True)
class _Record:
    id: str
    data: dict[str, Any]
    care: dict[str, Any] | None
    tags: tuple[str, ...]
    days: list[int]
    gains: list[float] | None
    name: str


def test_fields_come_from_the_row_and_containers_are_copies() -> None:
    row = SimpleNamespace(
        id="a", data={"x": 1}, care={"level": "everyday"}, tags=["t"], days=[1, 2], gains=[0.5]
    )
    rec = record_of(_Record, row, name="given")
    assert rec == _Record("a", {"x": 1}, {"level": "everyday"}, ("t",), [1, 2], [0.5], "given")
    row.data["x"] = 2
    row.days.append(3)
    row.gains.append(1.0)
    assert rec.data == {"x": 1} and rec.days == [1, 2] and rec.gains == [0.5]


def test_none_stays_none_only_where_the_field_allows_it() -> None:
    row = SimpleNamespace(id="b", data={}, care=None, tags=None, days=None, gains=None, name="n")
    rec = record_of(_Record, row)
    assert rec.care is None and rec.gains is None
    assert rec.tags == () and rec.days == []
