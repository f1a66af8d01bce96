"""Directory search: who is listed, near where, speaking what, free when."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sonora.errors import ParameterError
from sonora.settings import Settings
from sonora.therapists.credentials import (
    credential_for,
)
from sonora.therapists.fields import (
    APPROACHES,
    POPULATIONS,
    flag_field,
    fold,
    text_field,
)
from sonora.therapists.places import Place, find_place, haversine_km
from sonora.therapists.repo import (
    TherapistRecord,
    TherapistRepo,
)

__all__ = ["SORTS", "Directory", "Hit", "SearchQuery", "SearchResult"]

log = logging.getLogger("sonora.therapists")


SORTS = ("distance", "soonest", "name")


_MAX_LIST = 10


@dataclass(frozen=True)
class SearchQuery:
    """What a listener is looking for (all optional)."""

    country: str = ""
    region: str = ""
    city: str = ""
    near: str = ""
    radius_km: float | None = None
    online_only: bool = False
    language: str = ""
    population: str = ""
    approach: str = ""
    sort: str = "soonest"


@dataclass
class Hit:
    """One directory result."""

    therapist: TherapistRecord
    distance_km: float | None
    next_free: dt.datetime | None


@dataclass
class SearchResult:
    """Directory results and the place distances were measured from."""

    hits: list[Hit]
    place: Place | None = None
    query: SearchQuery = field(default_factory=SearchQuery)


class Directory:
    """Search part of :class:`~sonora.therapists.service.Therapists`."""

    repo: TherapistRepo
    settings: Settings
    clock: Callable[[], dt.datetime]

    # -- search ------------------------------------------------------------------------
    def parse_query(self, data: Mapping[str, Any]) -> SearchQuery:
        """Validate directory search parameters."""
        country = str(data.get("country") or "").strip().upper()
        if country:
            credential_for(country)
        radius: float | None = None
        if data.get("radius_km") not in (None, ""):
            try:
                radius = float(data["radius_km"])
            except (TypeError, ValueError):
                raise ParameterError(
                    "radius_km", "expected a number of km from 1 to 20000"
                ) from None
            if not 1 <= radius <= 20_000:
                raise ParameterError("radius_km", f"{radius:g} is out of range: 1 to 20000 km")
        sort = str(data.get("sort") or "soonest")
        if sort not in SORTS:
            raise ParameterError("sort", f"{sort!r} is not one of {list(SORTS)}")
        pop = str(data.get("population") or "")
        if pop and pop not in POPULATIONS:
            raise ParameterError("population", f"{pop!r} is not one of {sorted(POPULATIONS)}")
        appr = str(data.get("approach") or "")
        if appr and appr not in APPROACHES:
            raise ParameterError("approach", f"{appr!r} is not one of {sorted(APPROACHES)}")
        near = text_field(data, "near", max_len=120)
        if sort == "distance" and not near:
            raise ParameterError("near", "type a town or city to sort by distance")
        return SearchQuery(
            country=country,
            region=text_field(data, "region", max_len=120),
            city=text_field(data, "city", max_len=120),
            near=near,
            radius_km=radius,
            online_only=flag_field(data, "online_only", False),
            language=text_field(data, "language", max_len=40),
            population=pop,
            approach=appr,
            sort=sort,
        )

    def search(self, q: SearchQuery) -> SearchResult:
        """Listed therapists matching ``q``, sorted as asked."""
        now = self.clock()
        place = find_place(q.near, country=q.country or None, field="near") if q.near else None
        hits: list[Hit] = []
        for t in self.repo.profiles(listed_at=now, country=q.country or None):
            if q.region and fold(q.region) not in fold(t.region):
                continue
            if q.city and fold(q.city) != fold(t.city):
                continue
            if q.online_only and not t.online:
                continue
            if q.language and fold(q.language) not in [fold(x) for x in t.languages]:
                continue
            if q.population and q.population not in t.populations:
                continue
            if q.approach and q.approach not in t.approaches:
                continue
            dist = None
            if place is not None and t.latitude is not None and t.longitude is not None:
                dist = haversine_km(place.latitude, place.longitude, t.latitude, t.longitude)
            if (
                q.radius_km is not None
                and place is not None
                and (dist is None or dist > q.radius_km)
            ):
                continue
            hits.append(Hit(t, dist, None))
        for h in hits:
            nxt = self.free_slots(h.therapist, limit=1)
            h.next_free = nxt[0] if nxt else None
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        if q.sort == "distance":
            hits.sort(
                key=lambda h: (
                    h.distance_km is None,
                    h.distance_km or 0.0,
                    h.therapist.display_name,
                )
            )
        elif q.sort == "soonest":
            hits.sort(key=lambda h: (h.next_free or far, h.therapist.display_name))
        else:
            hits.sort(key=lambda h: h.therapist.display_name.lower())
        return SearchResult(hits, place, q)
