"""The "which is right for you?" helper of the guide, as a pure function.

A few plain questions, answered with a form that works without JavaScript, end
in one of two places:

- ``"sonora"``: a Sonora session is a fine place to start;
- ``"professional"``: this sounds like a goal for a credentialed music therapist
  or your doctor.

Anyone who says they have had thoughts of harming themselves also gets the
crisis lines first (``crisis`` is true). The rule leans towards a professional:
a health goal, a lot of impact on daily life, months of struggle that gets in the
way, or wanting goal-directed work with someone all point there.

Examples
--------
>>> which_help({"hope": "relax", "duration": "days", "impact": "little",
...             "structured": "no"}).outcome
'sonora'
>>> which_help({"hope": "health", "duration": "days", "impact": "little",
...             "structured": "no"}).outcome
'professional'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sonora.care.errors import CareError

__all__ = ["QUESTIONS", "Question", "WhichHelp", "which_help"]


@dataclass(frozen=True)
class Question:
    """One question of the helper.

    Attributes
    ----------
    name : str
        Form field name.
    text : str
        The question.
    options : tuple of (value, label)
        Allowed answers.
    required : bool
        Whether it must be answered.
    """

    name: str
    text: str
    options: tuple[tuple[str, str], ...]
    required: bool = True


QUESTIONS: tuple[Question, ...] = (
    Question(
        "hope",
        "What are you hoping for?",
        (
            ("relax", "To relax or unwind"),
            ("sleep", "To wind down for sleep"),
            ("stress", "To take the edge off everyday stress or worry"),
            (
                "health",
                "Help with a health or mental-health goal (for example low mood or anxiety "
                "that will not lift, pain, recovery after illness or injury, a child's "
                "development, dementia care)",
            ),
        ),
    ),
    Question(
        "duration",
        "How long has this been going on?",
        (
            ("days", "Today, or this week"),
            ("weeks", "A few weeks"),
            ("months", "Months or longer"),
        ),
    ),
    Question(
        "impact",
        "How much does it get in the way of daily life (work, sleep, people around you)?",
        (
            ("little", "Hardly at all"),
            ("some", "Somewhat"),
            ("lot", "A lot"),
        ),
    ),
    Question(
        "structured",
        "Would you like to work on it with someone, towards goals you set together?",
        (
            ("no", "No, I just want something to listen to"),
            ("unsure", "Not sure"),
            ("yes", "Yes"),
        ),
    ),
    Question(
        "harm",
        "Have you had thoughts of ending your life or harming yourself?",
        (
            ("no", "No"),
            ("yes", "Yes"),
        ),
        required=False,
    ),
)

_BY_NAME = {q.name: q for q in QUESTIONS}


@dataclass(frozen=True)
class WhichHelp:
    """The helper's answer.

    Attributes
    ----------
    outcome : str
        ``"sonora"`` or ``"professional"``.
    crisis : bool
        Show crisis lines first.
    reasons : list of str
        Why, in plain words, for the listener.
    answers : dict of str to str
        The validated answers.
    """

    outcome: str
    crisis: bool
    reasons: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)


def _answer(form: Mapping[str, Any], q: Question) -> str | None:
    raw = form.get(q.name)
    if raw in (None, ""):
        if q.required:
            raise CareError(
                q.name,
                f"please answer '{q.text}' (one of {', '.join(v for v, _ in q.options)})",
            )
        return None
    value = str(raw).strip().lower()
    allowed = [v for v, _ in q.options]
    if value not in allowed:
        raise CareError(q.name, f"expected one of {', '.join(allowed)}, got {raw!r}")
    return value


def which_help(form: Mapping[str, Any]) -> WhichHelp:
    """Answer "which is right for you?" from the helper's form.

    Parameters
    ----------
    form : mapping
        Field name to answer: ``hope``, ``duration``, ``impact``, ``structured``
        (required) and ``harm`` (optional), with the values of :data:`QUESTIONS`.

    Returns
    -------
    WhichHelp

    Raises
    ------
    CareError
        Naming the first missing or invalid field and the allowed values.
    """
    answers = {q.name: a for q in QUESTIONS if (a := _answer(form, q)) is not None}
    reasons: list[str] = []
    if answers["hope"] == "health":
        reasons.append("You described a health goal: that is work for a professional.")
    if answers["impact"] == "lot":
        reasons.append("It gets in the way of daily life a lot.")
    if answers["duration"] == "months" and answers["impact"] in ("some", "lot"):
        reasons.append("It has lasted months and affects your days.")
    if answers["structured"] == "yes":
        reasons.append("You would like goal-directed work with someone.")
    crisis = answers.get("harm") == "yes"
    if crisis:
        reasons.insert(0, "You have had thoughts of harming yourself: please talk to someone now.")
    if reasons:
        return WhichHelp("professional", crisis, reasons, answers)
    why = "You want to relax, wind down or ease everyday stress, and it is not weighing on you."
    return WhichHelp("sonora", False, [why], answers)
