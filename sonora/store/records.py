"""Read-only records made from table rows, the one way every feature's repository does it.

A repository hands out frozen dataclasses, not live ORM rows, so nothing outside a
transaction can change or lazily load a row. :func:`record_of` fills such a record
from a row whose columns have the record's field names, and copies the JSON
containers (a ``list`` / ``tuple`` / ``dict`` field gets a new container, so the record
shares nothing with the session's row).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Self, TypeVar

__all__ = ["RowRecord", "record_of"]

R = TypeVar("R")

#: The container a field's annotation names (``"list[int] | None"`` -> list).
_CONTAINERS: tuple[tuple[str, type], ...] = (("list[", list), ("tuple[", tuple), ("dict[", dict))


def _copy(annotation: str, value: Any) -> Any:
    """``value`` as the field's container: ``None`` stays ``None`` where the field allows it."""
    for prefix, kind in _CONTAINERS:
        if annotation.startswith(prefix):
            if value is None and annotation.endswith("| None"):
                return None
            return kind(value or ())
    return value


def record_of(cls: type[R], row: object, **given: Any) -> R:
    """A ``cls`` record with each field read from the row's attribute of the same name.

    Parameters
    ----------
    cls : type
        A dataclass whose fields are columns of ``row`` (or are in ``given``), each
        annotated as a string (``from __future__ import annotations``).
    row : object
        An ORM row (or anything with those attributes).
    **given
        Fields not read from the row (for example a name joined from another table).

    Returns
    -------
    R
        The record; list, tuple and dict fields hold copies of the row's containers
        (``None`` becomes empty unless the field's annotation ends in ``| None``).
    """
    values = {
        f.name: given[f.name] if f.name in given else _copy(str(f.type), getattr(row, f.name))
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    }
    return cls(**values)


class RowRecord:
    """Base of a record every field of which is a column of its row: gives it :meth:`of`.

    Subclasses are frozen dataclasses; a record with fields from elsewhere (a joined
    name) calls :func:`record_of` with them instead.
    """

    __slots__ = ()

    @classmethod
    def of(cls, row: object) -> Self:
        """The record of ``row`` (see :func:`record_of`)."""
        return record_of(cls, row)
