"""Therapist profiles: credentials, validation, a therapist's own profile, public profiles."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sonora.accounts.repo import UserRecord
from sonora.errors import ParameterError
from sonora.settings import Settings
from sonora.store.errors import NotFound, StoreError
from sonora.therapists.availability import (
    normalise_timezone,
)
from sonora.therapists.credentials import (
    Credential,
    credential_for,
    load_credentials,
    normalise_number,
)
from sonora.therapists.fields import (
    APPROACHES,
    POPULATIONS,
    choices_field,
    consult_fields,
    flag_field,
    text_field,
)
from sonora.therapists.places import Place, find_place
from sonora.therapists.repo import (
    TherapistRecord,
    TherapistRepo,
)

__all__ = ["Profiles"]

log = logging.getLogger("sonora.therapists")


class Profiles:
    """Profile part of :class:`~sonora.therapists.service.Therapists`."""

    repo: TherapistRepo
    settings: Settings
    clock: Callable[[], dt.datetime]

    # -- credentials -------------------------------------------------------------------
    @staticmethod
    def credentials() -> list[Credential]:
        """Every supported credential."""
        return list(load_credentials().values())

    @staticmethod
    def credential(country: str) -> Credential:
        """The credential of a country."""
        return credential_for(country)

    # -- profiles ----------------------------------------------------------------------
    def clean_profile(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate profile answers into the stored fields.

        Raises
        ------
        ParameterError
            Naming the first field at fault.
        """
        name = text_field(data, "display_name", max_len=120, min_len=2)
        country = str(data.get("country") or "").strip().upper()
        credential_for(country)
        number = normalise_number(country, str(data.get("registration_number") or ""))
        region = text_field(data, "region", max_len=120)
        city = text_field(data, "city", max_len=120, min_len=1)
        in_person = flag_field(data, "in_person", True)
        online = flag_field(data, "online", True)
        if not (in_person or online):
            raise ParameterError("online", "offer consults in person, online, or both")
        place: Place | None
        try:
            place = find_place(city, country=country, field="city")
        except ParameterError:
            if in_person:
                raise ParameterError(
                    "city",
                    f"{city!r} is not in Sonora's offline place list for {country}; type the "
                    "nearest town of 5,000 people or more",
                ) from None
            place = None
        if place is not None and place.country != country:
            place = None
        raw_langs = data.get("languages") or ""
        langs = raw_langs.split(",") if isinstance(raw_langs, str) else list(raw_langs)
        languages = []
        for i, lang in enumerate(langs):
            lang = " ".join(str(lang).split())
            if not lang:
                continue
            if len(lang) > 40:
                raise ParameterError(f"languages[{i}]", "at most 40 characters per language")
            if lang.lower() not in [x.lower() for x in languages]:
                languages.append(lang)
        if not languages:
            raise ParameterError("languages", "name at least one language, e.g. English")
        if len(languages) > 10:
            raise ParameterError("languages", "at most 10 languages")
        tz_name = str(data.get("timezone") or "").strip() or (place.timezone if place else "")
        tz_name = normalise_timezone(tz_name, "timezone")
        return {
            "display_name": name,
            "country": country,
            "registration_number": number,
            "region": region,
            "city": place.name if place is not None else city,
            "latitude": place.latitude if place is not None else None,
            "longitude": place.longitude if place is not None else None,
            "in_person": in_person,
            "online": online,
            "languages": languages,
            "populations": choices_field(data, "populations", POPULATIONS),
            "approaches": choices_field(data, "approaches", APPROACHES),
            "bio": text_field(data, "bio", max_len=2000),
            "timezone": tz_name,
            **consult_fields(data),
        }

    def own_profile(self, user: UserRecord) -> TherapistRecord | None:
        """The signed-in user's therapist profile, if any."""
        return self.repo.profile_of_user(user.id)

    def create_profile(self, user: UserRecord, data: Mapping[str, Any]) -> TherapistRecord:
        """Make the signed-in account's therapist profile (unverified until an admin checks)."""
        if user.is_guest:
            raise ParameterError("email", "sign up with an email and password first")
        fields = self.clean_profile(data)
        try:
            return self.repo.create_profile(user.id, fields)
        except StoreError as exc:
            raise ParameterError("profile", str(exc)) from None

    def update_profile(self, user: UserRecord, data: Mapping[str, Any]) -> TherapistRecord:
        """Change the user's own profile (a new credential number voids verification)."""
        mine = self.own_profile(user)
        if mine is None:
            raise NotFound("therapist", "profile")
        return self.repo.update_profile(mine.id, self.clean_profile(data))

    def public_profile(self, therapist_id: str) -> TherapistRecord:
        """A listed profile; unlisted or unknown ids are :class:`NotFound` alike."""
        try:
            t = self.repo.profile(str(therapist_id)[:64])
        except NotFound:
            raise NotFound("therapist", "profile") from None
        if not t.listed(self.clock()):
            raise NotFound("therapist", "profile")
        return t

    def status(self, t: TherapistRecord) -> str:
        """``verified``, ``recheck_due`` or ``unverified`` now."""
        return t.status(self.clock())
