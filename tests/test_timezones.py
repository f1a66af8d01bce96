"""Time zone names: canonical ones offered and stored, aliases accepted and normalised."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

import pytest

from sonora.errors import ParameterError
from sonora.therapists.availability import check_timezone, normalise_timezone, timezones
from sonora.timezones import _links, canonical_timezone, offered_timezones

ALIASES = {
    "Africa/Asmera": "Africa/Asmara",
    "Asia/Calcutta": "Asia/Kolkata",
    "US/Pacific": "America/Los_Angeles",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Europe/Kiev": "Europe/Kyiv",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "Iceland": "Atlantic/Reykjavik",
    "Pacific/Truk": "Pacific/Chuuk",
    "GB": "Europe/London",
    "Etc/UTC": "UTC",
    "Zulu": "UTC",
}


def test_no_alias_is_offered() -> None:
    offered = set(timezones())
    assert offered == set(offered_timezones())
    assert not offered & set(ALIASES)
    assert {"Europe/London", "Asia/Kolkata", "Africa/Asmara", "UTC"} <= offered
    # an offered name that is a link in the tz data is its country's own name
    # (Europe/Amsterdam), never one of the backward-compatible ones
    assert not any(z.startswith(("US/", "Canada/", "Etc/")) for z in offered)
    assert list(timezones()) == sorted(offered)


@pytest.mark.parametrize(("alias", "canonical"), list(ALIASES.items()))
def test_an_alias_is_accepted_and_normalised(alias: str, canonical: str) -> None:
    assert normalise_timezone(alias, "tz") == canonical
    assert check_timezone(alias, "tz") == ZoneInfo(canonical)


def test_every_known_name_maps_to_an_offered_one_with_the_same_rules() -> None:
    offered = set(offered_timezones())
    links = _links()
    for name in sorted(available_timezones()):
        found = canonical_timezone(name)
        if found is None:  # POSIX-style rules (EST5EDT), Factory, localtime
            assert "/" not in name, name
            continue
        assert found in offered or found.startswith("Etc/GMT"), (name, found)
        if found != "UTC" and name not in {"Iceland", "Pacific/Truk", "Pacific/Yap"}:
            same = links.get(name, name) == links.get(found, found)
            assert (
                same
                or name in {"Atlantic/Jan_Mayen", "America/Coral_Harbour"}
                or (name in {"Africa/Timbuktu", "America/Virgin", "Antarctica/South_Pole"})
            ), (name, found)


@pytest.mark.parametrize("bad", ["", "Mars/Base", "Europe/Nowhere", "x" * 80, "localtime"])
def test_unknown_names_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(ParameterError) as exc:
        normalise_timezone(bad, "tz")
    assert exc.value.field == "tz" and "Europe/London" in exc.value.message
