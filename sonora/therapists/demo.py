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

#: Columns of :data:`_DEMO_ROWS` (``display_name`` gets " (demo)" added).
_COLUMNS = (
    "display_name", "country", "registration_number", "region", "city", "in_person",
    "online", "languages", "populations", "approaches", "timezone",
)  # fmt: skip
# fmt: off
_DEMO_ROWS = [
    ("Robin Ashdown", "GB", "AS00000", "West Yorkshire", "Leeds", True, True, "English", ("adults", "mental_health"), ("improvisation", "songwriting"), "Europe/London"),
    ("Sam Okafor", "GB", "AS00001", "Greater Manchester", "Manchester", True, False, "English, Yoruba", ("children", "autism"), ("instrumental", "family"), "Europe/London"),
    ("Jordan Reyes", "US", "00000000", "Massachusetts", "Boston", True, True, "English, Spanish", ("older_adults", "dementia"), ("receptive_listening", "vocal"), "America/New_York"),
    ("Camille Tremblay", "CA", "DEMO-0000", "Quebec", "Montreal", False, True, "French, English", ("teenagers", "mental_health"), ("songwriting", "guided_imagery"), "America/Toronto"),
    ("Kai Nguyen", "AU", "DEMO-0001", "Victoria", "Melbourne", True, True, "English, Vietnamese", ("neuro_rehab", "adults"), ("neurologic", "instrumental"), "Australia/Melbourne"),
]
# fmt: on

#: The demo profiles (fictional people): profile fields as the directory's form takes them.
DEMO_PROFILES: list[dict[str, Any]] = [
    {
        **dict(zip(_COLUMNS, row, strict=True)),
        "display_name": f"{row[0]} (demo)",
        "populations": list(row[8]),
        "approaches": list(row[9]),
        "bio": "A fictional profile to show how the directory works.",
    }
    for row in _DEMO_ROWS
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
