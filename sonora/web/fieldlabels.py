"""Form fields as the pages name them, for errors shown on a page.

A form posted by hand (a field missing, a value altered) is refused with a
:class:`~sonora.errors.ParameterError` naming the field by its key (``default_goal``,
``loved[0]``, ``level_dba``) and, for a choice, the keys allowed (``sleep, unwind,
ease_anxiety, focus``).  A page says instead what the listener sees: the field's label
("Usually, you come here to…") and the choices as labelled ("Fall asleep, Unwind, Ease
anxious feelings, Focus").  The JSON API keeps the keys: they are its documented names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sonora.core.planner import FAMILY_LABELS, SENSITIVITY_LABELS
from sonora.therapists.fields import APPROACHES, POPULATIONS

__all__ = ["FIELD_LABELS", "field_label", "field_message"]

GOAL_LABELS = {
    "sleep": "Fall asleep",
    "unwind": "Unwind",
    "ease_anxiety": "Ease anxious feelings",
    "focus": "Focus",
}
PLACE_LABELS = {
    "in_bed": "In bed",
    "sitting": "Sitting or lying down",
    "on_the_move": "On the move",
}
OUTPUT_LABELS = {"speaker": "Speaker", "headphones": "Headphones"}

#: Field key (its first part: ``loved`` of ``loved[0]``) -> the label its form shows.
FIELD_LABELS: dict[str, str] = {
    # onboarding / preferences
    "loved": "Sounds you love",
    "disliked": "Sounds to leave out",
    "sensitivities": "Sensitivities",
    "default_goal": "Usually, you come here to…",
    "output": "Listening on",
    "breath_pacer": "Breathing guide",
    "quiet_rest": "Quiet rest",
    "country": "Country",
    "region": "Where you live",
    # check-in, plan, check-out
    "tension": "Tension",
    "energy": "Energy",
    "mood": "Mood",
    "goal": "What would help now?",
    "minutes": "Time you have",
    "place": "Where are you?",
    "note": "Anything on your mind?",
    "local_time": "Your local time (sent by the page)",
    "request_key": "This form (sent by the page; reload it and try again)",
    "rating": "How helpful was it?",
    "ending": "How did it end?",
    "action": "What to change (swap a sound or the length)",
    "layer": "Swap",
    "family": "Swap for",
    "level_dba": "The reference sound seems…",
    "source": "Listen to",
    # accounts
    "email": "Email",
    "password": "Password",
    # therapists
    "display_name": "Name shown to listeners",
    "registration_number": "Registration number",
    "city": "Town or city",
    "timezone": "Your time zone",
    "tz": "Time zone",
    "languages": "Languages",
    "populations": "People you work with",
    "approaches": "Approaches",
    "bio": "A short bio",
    "consult_via": "How your free consults happen",
    "consult_details": "The video link, how the phone call works, or the address",
    "name": "Your name",
    "reason": "What would you like help with?",
    "start": "Time of the consult",
    "weekday": "Day",
    # library
    "path": "Folder of music",
    "disliked_artists": "Artists",
    "disliked_genres": "Genres",
}

#: Field key -> its choices as labelled, to say the allowed choices as the page shows them.
CHOICE_LABELS: dict[str, Mapping[str, str]] = {
    "loved": FAMILY_LABELS,
    "disliked": FAMILY_LABELS,
    "family": FAMILY_LABELS,
    "sensitivities": SENSITIVITY_LABELS,
    "default_goal": GOAL_LABELS,
    "goal": GOAL_LABELS,
    "place": PLACE_LABELS,
    "output": OUTPUT_LABELS,
    "populations": POPULATIONS,
    "approaches": APPROACHES,
}


def _key(field: str) -> str:
    return re.split(r"[\[.]", str(field or ""), maxsplit=1)[0]


def field_label(field: str) -> str:
    """The label a form shows for ``field`` (its key, spaced, when it has none).

    >>> field_label("loved[0]"), field_label("level_dba"), field_label("odd_one")
    ('Sounds you love', 'The reference sound seems…', 'odd one')
    """
    return FIELD_LABELS.get(_key(field), str(field or "this").replace("_", " "))


def field_message(field: str, message: str) -> str:
    """``message`` with the field's choice keys said as the page labels them.

    >>> field_message("default_goal", "choose one of sleep, unwind, ease_anxiety, focus")
    'choose one of Fall asleep, Unwind, Ease anxious feelings, Focus'
    """
    labels = CHOICE_LABELS.get(_key(field))
    if not labels:
        return str(message)
    keys = sorted(labels, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w'])(" + "|".join(map(re.escape, keys)) + r")(?![\w'])")
    return pattern.sub(lambda m: str(labels[m.group(1)]), str(message))
