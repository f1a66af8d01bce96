"""Demo therapist profiles for trying a fresh install (``sonora therapists demo``).

They are fictional: every name ends in "(demo)", every page and email labels them
"Demo profile — not a real person", their registration numbers are zeros and
"music therapist" is never shown beside them.  Like every profile they start
unverified, so they are *not* listed: they wait in the admin's verification queue
(labelled "demo — not a real person").  To try the whole flow, an admin verifies them
there, or ``sonora therapists demo --verify-as ADMIN_EMAIL`` records a verification by
that admin with the note "demo data — not a real person" (:func:`verify_demo`).
Their accounts have no usable password and emails go to ``example.invalid``
addresses, which no mail server delivers (Sonora queues none for them).
``sonora therapists demo --remove`` deletes them all.
"""

from __future__ import annotations

from typing import Any

from sonora.therapists.repo import TherapistRecord
from sonora.therapists.service import Therapists

__all__ = ["DEMO_NOTE", "DEMO_PROFILES", "seed_demo", "verify_demo"]

#: The note of a verification recorded by ``--verify-as``.
DEMO_NOTE = "demo data — not a real person"

_WEEKDAYS_9_TO_12_AND_14_TO_17 = [
    (d, s, e) for d in range(5) for (s, e) in ((9 * 60, 12 * 60), (14 * 60, 17 * 60))
]

#: The demo profiles (fictional people).
DEMO_PROFILES: list[dict[str, Any]] = [
    {
        "display_name": "Robin Ashdown (demo)",
        "country": "GB",
        "registration_number": "AS00000",
        "region": "West Yorkshire",
        "city": "Leeds",
        "in_person": True,
        "online": True,
        "languages": "English",
        "populations": ["adults", "mental_health"],
        "approaches": ["improvisation", "songwriting"],
        "bio": "A fictional profile to show how the directory works.",
        "timezone": "Europe/London",
    },
    {
        "display_name": "Sam Okafor (demo)",
        "country": "GB",
        "registration_number": "AS00001",
        "region": "Greater Manchester",
        "city": "Manchester",
        "in_person": True,
        "online": False,
        "languages": "English, Yoruba",
        "populations": ["children", "autism"],
        "approaches": ["instrumental", "family"],
        "bio": "A fictional profile to show how the directory works.",
        "timezone": "Europe/London",
    },
    {
        "display_name": "Jordan Reyes (demo)",
        "country": "US",
        "registration_number": "00000000",
        "region": "Massachusetts",
        "city": "Boston",
        "in_person": True,
        "online": True,
        "languages": "English, Spanish",
        "populations": ["older_adults", "dementia"],
        "approaches": ["receptive_listening", "vocal"],
        "bio": "A fictional profile to show how the directory works.",
        "timezone": "America/New_York",
    },
    {
        "display_name": "Camille Tremblay (demo)",
        "country": "CA",
        "registration_number": "DEMO-0000",
        "region": "Quebec",
        "city": "Montreal",
        "in_person": False,
        "online": True,
        "languages": "French, English",
        "populations": ["teenagers", "mental_health"],
        "approaches": ["songwriting", "guided_imagery"],
        "bio": "A fictional profile to show how the directory works.",
        "timezone": "America/Toronto",
    },
    {
        "display_name": "Kai Nguyen (demo)",
        "country": "AU",
        "registration_number": "DEMO-0001",
        "region": "Victoria",
        "city": "Melbourne",
        "in_person": True,
        "online": True,
        "languages": "English, Vietnamese",
        "populations": ["neuro_rehab", "adults"],
        "approaches": ["neurologic", "instrumental"],
        "bio": "A fictional profile to show how the directory works.",
        "timezone": "Australia/Melbourne",
    },
]


def seed_demo(service: Therapists) -> list[TherapistRecord]:
    """Create the demo profiles, unverified (skipping any that exist).

    Parameters
    ----------
    service : Therapists
        The directory service.

    Returns
    -------
    list of TherapistRecord
        The profiles created by this call.
    """
    store = service.repo.store
    made: list[TherapistRecord] = []
    for i, spec in enumerate(DEMO_PROFILES):
        email = f"demo-therapist-{i + 1}@example.invalid"
        if service.repo.user_by_email(email) is not None:
            continue
        user = store.create_user()
        # "!demo" is no argon2 hash: nobody can log in to a demo account
        store.register(user.id, email=email, password_hash="!demo")
        fields = service.clean_profile(spec)
        t = service.repo.create_profile(user.id, fields, is_demo=True)
        for day, start, end in _WEEKDAYS_9_TO_12_AND_14_TO_17:
            service.repo.add_rule(t.id, day, start, end)
        made.append(t)
    return made


def verify_demo(service: Therapists, admin_email: str) -> list[TherapistRecord]:
    """Record a verification of every demo profile not verified now, by ``admin_email``.

    The note says "demo data — not a real person"; the admin, the time and the number
    are kept like any other decision, and the profiles keep their demo badge.

    Parameters
    ----------
    service : Therapists
        The directory service.
    admin_email : str
        An existing admin account (``sonora admin grant EMAIL``).

    Returns
    -------
    list of TherapistRecord
        The profiles verified by this call.

    Raises
    ------
    ParameterError
        Naming ``verify_as`` when the account does not exist or is not an admin.
    """
    from sonora.errors import ParameterError

    admin = service.repo.user_by_email(str(admin_email or "").strip().lower())
    if admin is None or not service.is_admin(admin):
        raise ParameterError(
            "verify_as",
            f"{admin_email!r} is not an admin account; sign up, then `sonora admin grant EMAIL`",
        )
    done = []
    for t in service.repo.profiles():
        if t.is_demo and service.status(t) != "verified":
            done.append(service.verify(admin, t.id, {"decision": "verified", "note": DEMO_NOTE}))
    return done
