"""What triage says to the listener: the crisis, clinical and unread messages.

:func:`sonora.care.triage.triage` decides the level; this module words it, with the
listener's country's resources (:mod:`sonora.care.resources`).  Messages never
diagnose and never name Sonora as care; a tentative crisis call (the trained reader
alone, on a few words) says what the lines are for instead of saying things sound hard.
"""

from __future__ import annotations

from typing import Any

from sonora.care import rulebook
from sonora.care.resources import credential_short, crisis_resources

__all__ = ["clinical_message", "crisis_list", "crisis_message", "unread_line"]


def crisis_message(
    resources: list[dict[str, Any]],
    *,
    danger_now: bool = False,
    tentative: bool = False,
    medical: bool = False,
) -> str:
    line = next((r for r in resources if r["kind"] == "crisis_line"), None)
    emergency = next((r for r in resources if r["kind"] == "emergency"), None)
    if medical and emergency is not None:
        # someone not breathing, a heart attack, a stroke: an ambulance, not a listener
        numbers = " or ".join(emergency.get("numbers") or [emergency["phone"]])
        parts = [
            f"This sounds like a medical emergency: call {numbers} now and ask for an"
            " ambulance. Stay on the line: the call handler will tell you what to do"
            " until help arrives."
        ]
        if line is not None and (line["phone"] or line["text"]):
            how = line["phone"] or line["text"]
            parts.append(f"Afterwards, if you need to talk, {line['name']} ({how}) is there.")
        return " ".join(parts)
    parts = []
    if danger_now and emergency is not None:
        numbers = " or ".join(emergency.get("numbers") or [emergency["phone"]])
        parts.append(f"If you are in danger now, call {numbers}.")
        emergency = None  # said first; not repeated below
    if tentative:
        parts.append(
            "Sonora can't tell much from a few words, so in case it matters: if you are"
            " thinking of ending your life or hurting yourself, please talk to someone now."
        )
    else:
        parts.append(
            "It sounds like things are really hard right now, and you deserve to talk to"
            " someone straight away."
        )
    if line is not None and (line["phone"] or line["text"]):
        how = line["phone"] or line["text"]
        parts.append(f"{line['name']} ({how}) is there to listen, any time.")
    elif line is not None:
        parts.append(f"{line['name']} ({line['url']}) lists free, confidential helplines near you.")
    if emergency is not None:
        parts.append(emergency["note"])
    parts.append("You don't have to go through this alone.")
    return " ".join(parts)


def clinical_message(country: str, *, pattern: bool = False, clinician: bool = False) -> str:
    short = credential_short(country)
    therapist = "a credentialed music therapist" + (f" ({short})" if short else "")
    opener = (
        "Your recent check-ins have been very low." if pattern else "Thank you for telling us this."
    )
    if clinician:  # they named their own clinician: point back to them first
        middle = (
            f"For anything clinical, the clinician you mentioned, or {therapist}, is the"
            " right person to ask."
        )
    else:
        middle = f"It sounds like something a doctor or {therapist} could really help with."
    return (
        f"{opener} {middle} Sonora's sounds can keep you company alongside that support, "
        "but they are not a substitute for it."
    )


def unread_line(language: str) -> str:
    name = rulebook.LANGUAGE_NAMES.get(language, "another language")
    if language in rulebook.SCREENED_LANGUAGES:
        return (
            f"This note looks like it is in {name}. Sonora can only look for signs of crisis"
            " in it, not read it fully, so here is where to find someone to talk to if you"
            " need it."
        )
    return (
        f"Sonora could not read this note (it looks like it is in {name}), so here is where"
        " to find someone to talk to if you need it."
    )


def crisis_list(country: str, region: str | None, *, danger_now: bool) -> list[dict[str, Any]]:
    """Crisis resources for the listener's place, emergency entry first when there is danger now."""
    return list(crisis_resources(country, region=region, danger_now=danger_now))
