"""Password hashing (:mod:`sonora.accounts.passwords`): the argon2id cost comes from the
settings, and a hash made at another cost is upgraded at the next log-in."""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher

from sonora.accounts.passwords import Passwords
from sonora.core.app import Core
from sonora.settings import Settings


def test_the_default_cost_is_argon2_cffis_recommended_profile() -> None:
    library = PasswordHasher()
    stored = Passwords().hash("long enough pw")
    assert stored.startswith("$argon2id$")
    assert f"m={library.memory_cost},t={library.time_cost},p={library.parallelism}$" in stored
    # ... and the settings' defaults are the same numbers (production keeps them).
    fields = Settings.model_fields
    assert fields["password_hash_memory_kib"].default == library.memory_cost
    assert fields["password_hash_time_cost"].default == library.time_cost


def test_a_lowered_cost_still_hashes_and_verifies_for_real() -> None:
    cheap = Passwords(memory_kib=64, time_cost=1)
    stored = cheap.hash("long enough pw")
    assert "$m=64,t=1," in stored
    assert cheap.verify(stored, "long enough pw")
    assert not cheap.verify(stored, "long enough pX")
    assert not cheap.verify("not a hash", "long enough pw")
    # Raised again: the cheap hash still verifies, and is due to be made again.
    full = Passwords()
    assert full.verify(stored, "long enough pw")
    assert full.needs_rehash(stored)
    assert not cheap.needs_rehash(stored)


def test_core_hashes_with_the_settings_cost(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'p.db'}",
        secret_key="k" * 40,
        password_hash_memory_kib=128,
        password_hash_time_cost=2,
    )
    core = Core(settings)
    try:
        stored = core.passwords.hash("long enough pw")
    finally:
        core.close()
    assert "$m=128,t=2," in stored
