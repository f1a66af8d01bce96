"""A listener's profile errors name the field and speak the listener's words."""

from __future__ import annotations

import pytest

from sonora.core.planner import FAMILY_LABELS, clean_profile
from sonora.errors import ParameterError


def test_a_family_both_loved_and_disliked_is_named_as_on_the_form() -> None:
    with pytest.raises(ParameterError) as err:
        clean_profile({"loved": ["water", "rain"], "disliked": ["water"]})
    assert err.value.field == "disliked"
    text = str(err.value)
    # the label the onboarding form shows, not the internal key in quotes
    assert FAMILY_LABELS["water"] in text and "'water'" not in text
    assert "both loved and disliked" in text
