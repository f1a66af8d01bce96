"""What sign-up says about a password: each refusal names what is actually wrong."""

from __future__ import annotations

import doctest

import pytest

from sonora.accounts import password_rules
from sonora.accounts.password_rules import password_problem


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(password_rules).failed == 0


@pytest.mark.parametrize("password", ["admin@example.org", "ADMIN", "admin"])
def test_the_email_itself_is_refused_as_the_email(password: str) -> None:
    assert password_problem(password, email="admin@example.org", min_length=5) == (
        "don't use your email address as your password"
    )


def test_a_password_that_starts_with_the_email_name_is_told_so() -> None:
    # "admin pass 123" is not the email address: the message says what the rule is.
    problem = password_problem("admin pass 123", email="admin@example.org", min_length=8)
    assert problem is not None
    assert "start" in problem and "admin" in problem
    assert problem != "don't use your email address as your password"


def test_a_good_password_passes() -> None:
    assert password_problem("tide lantern orchard", email="admin@example.org", min_length=8) is None
