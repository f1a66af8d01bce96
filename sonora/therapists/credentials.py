"""Music-therapy credentials by country: body, credential, number format, register, renewal.

The data live in ``data/credentials.toml`` (one table per country).  Details that
were not confirmed from a primary source (see ``docs/references.md``) keep a ``check``
note, which every page that shows the credential shows beside it.

Examples
--------
>>> from sonora.therapists.credentials import credential_for, normalise_number
>>> c = credential_for("gb")
>>> c.short, c.renewal_years
('HCPC', 2)
>>> normalise_number("GB", " as 12345 ")
'AS12345'
>>> credential_for("US").renewal_years, credential_for("CA").renewal_years
(5, 5)
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

from sonora.errors import ParameterError

__all__ = [
    "Credential",
    "FindLink",
    "countries",
    "credential_for",
    "load_credentials",
    "normalise_number",
    "renewal_due",
]


@dataclass(frozen=True)
class FindLink:
    """An official place to find or check a music therapist (shown when the directory
    has nobody to offer).

    Attributes
    ----------
    name : str
        What the link is, e.g. "HCPC register".
    url : str
        Its address.
    what : str
        What a listener can do there.
    check : str
        What is still unconfirmed about it ("" when nothing is).
    """

    name: str
    url: str
    what: str
    check: str = ""


@dataclass(frozen=True)
class Credential:
    """One country's music-therapy credential.

    Attributes
    ----------
    country : str
        ISO 3166-1 alpha-2 code.
    country_name, body, credential, short : str
        Country, awarding body, the credential's full and short names.
    title_note : str
        What the credential means (shown to listeners).
    number_label, number_example, number_regex : str
        How the registration number is named, an example and its pattern.
    register_url, prefill_url : str
        The official register; the register with the number filled in (``{number}``
        placeholder), or ``""`` where the register does not allow it.
    register_how : str
        How an admin checks an entry on the register.
    renewal_years : int
        Years a verification stands before it must be checked again.
    renewal_note : str
        The renewal rule in words.
    check : str
        What is still unconfirmed ("" when nothing is).
    find : tuple of FindLink
        Official registers and find-a-therapist directories of the country.
    """

    country: str
    country_name: str
    body: str
    credential: str
    short: str
    title_note: str
    number_label: str
    number_example: str
    number_regex: str
    register_url: str
    prefill_url: str
    register_how: str
    renewal_years: int
    renewal_note: str
    check: str
    find: tuple[FindLink, ...] = ()

    def register_link(self, number: str) -> tuple[str, bool]:
        """The register link for ``number``: ``(url, prefilled)``."""
        if self.prefill_url:
            return self.prefill_url.replace("{number}", quote(number, safe="")), True
        return self.register_url, False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = dict(self.__dict__)
        out["find"] = [dict(f.__dict__) for f in self.find]
        return out


_FIELDS = tuple(f for f in Credential.__dataclass_fields__ if f != "find")


@functools.cache
def load_credentials() -> dict[str, Credential]:
    """Every credential, by country code (validated once, then cached).

    Raises
    ------
    ParameterError
        If the data file misses a field or has a bad pattern or renewal cycle.
    """
    text = resources.files("sonora.therapists").joinpath("data/credentials.toml").read_text()
    raw = tomllib.loads(text)["countries"]
    out: dict[str, Credential] = {}
    for code, table in raw.items():
        where = f"credentials.{code}"
        missing = [f for f in _FIELDS if f != "country" and f not in table]
        if missing:
            raise ParameterError(where, f"missing {missing}")
        try:
            re.compile(table["number_regex"])
        except re.error as exc:
            raise ParameterError(f"{where}.number_regex", str(exc)) from None
        years = table["renewal_years"]
        if not isinstance(years, int) or not 1 <= years <= 10:
            raise ParameterError(f"{where}.renewal_years", "expected whole years from 1 to 10")
        find = []
        for i, link in enumerate(table.get("find", [])):
            if not str(link.get("url", "")).startswith("https://") or not link.get("name"):
                raise ParameterError(f"{where}.find[{i}]", "needs a name and an https:// url")
            find.append(
                FindLink(link["name"], link["url"], link.get("what", ""), link.get("check", ""))
            )
        if not find:
            raise ParameterError(f"{where}.find", "list at least one official register")
        out[code.upper()] = Credential(
            country=code.upper(), find=tuple(find), **{k: table[k] for k in _FIELDS[1:]}
        )
    return out


def countries() -> list[Credential]:
    """The credentials, in the data file's order."""
    return list(load_credentials().values())


def credential_for(country: str) -> Credential:
    """The credential of ``country``.

    Raises
    ------
    ParameterError
        Naming ``country`` and the supported codes.
    """
    code = (country or "").strip().upper()
    creds = load_credentials()
    if code not in creds:
        raise ParameterError(
            "country", f"{country!r} is not supported; choose one of {sorted(creds)}"
        )
    return creds[code]


def normalise_number(country: str, number: str) -> str:
    """Upper-case a registration number, drop spaces, and check its format.

    Raises
    ------
    ParameterError
        Naming ``registration_number`` and showing the expected form.
    """
    cred = credential_for(country)
    n = re.sub(r"\s+", "", str(number or "")).upper()
    if not re.fullmatch(cred.number_regex, n):
        raise ParameterError(
            "registration_number",
            f"{number!r} does not look like a {cred.number_label} (for example "
            f"{cred.number_example})",
        )
    return n


def renewal_due(country: str, verified_at: dt.datetime) -> dt.datetime:
    """When a verification made at ``verified_at`` runs out (the renewal cycle later).

    >>> import datetime as dt
    >>> renewal_due("AU", dt.datetime(2024, 2, 29, tzinfo=dt.UTC)).date()
    datetime.date(2025, 2, 28)
    """
    years = credential_for(country).renewal_years
    try:
        return verified_at.replace(year=verified_at.year + years)
    except ValueError:  # 29 February
        return verified_at.replace(year=verified_at.year + years, day=28)
