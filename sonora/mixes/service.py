"""Quick starts: keep a plan as a mix, start it again, share it by a link.

>>> from sonora.core.database import Database
>>> db = Database.open("sqlite://")
>>> user = db.create_user()
>>> Mixes(db, MixRepo(db)).list(user.id)
[]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sonora.errors import ParameterError
from sonora.listening.repo import CheckInRecord, PlanRecord
from sonora.listening.store import ListeningStore
from sonora.mixes.repo import MixRecord, MixRepo
from sonora.plan.checkin import SCALES

__all__ = ["NAME_MAX", "Mixes"]

#: Longest mix name, characters.
NAME_MAX = 80


def check_name(name: Any) -> str:
    """A mix name, trimmed: 1 to :data:`NAME_MAX` characters.

    Raises
    ------
    ParameterError
        Naming ``name`` and the allowed length.
    """
    text = " ".join(str(name or "").split())
    if not 1 <= len(text) <= NAME_MAX:
        raise ParameterError(
            "name", f"give the mix a name of 1 to {NAME_MAX} characters (got {len(text)})"
        )
    return text


def quick_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Check-in answers to start again with: the same scales and choices, no note.

    The note is left out on purpose: it is free text about one evening, screened
    when it was written, and it should not be re-used without the listener typing it.
    """
    keep = (*SCALES, "goal", "minutes", "place", "output")
    return {k: answers[k] for k in keep if answers.get(k) is not None}


class Mixes:
    """Favourites, named mixes, share links and offline check-in keys.

    Parameters
    ----------
    listening : ListeningStore
        The listening repository (plans kept as mixes, plans started from mixes).
    repo : MixRepo
        The mixes' own rows, on the same database.
    """

    def __init__(self, listening: ListeningStore, repo: MixRepo) -> None:
        self.listening = listening
        self.repo = repo

    def list(self, user_id: str) -> list[MixRecord]:
        """This listener's mixes (favourites first)."""
        return self.repo.list(user_id)

    def keep(
        self, user_id: str, plan_id: str, *, name: Any = None, favourite: bool = False
    ) -> MixRecord:
        """Keep one of this listener's plans (with its mixer gains) as a mix."""
        rec = self.listening.get_plan(user_id, plan_id)
        title = name if name not in (None, "") else (rec.plan.get("title") or "My mix")
        return self.repo.add(
            user_id,
            name=check_name(title),
            plan=dict(rec.plan),
            gains=rec.gains,
            favourite=favourite,
            source_plan_id=rec.id,
        )

    def update(
        self,
        user_id: str,
        mix_id: str,
        *,
        name: Any = None,
        favourite: bool | None = None,
        shared: bool | None = None,
    ) -> MixRecord:
        """Rename, (un)favourite, share or stop sharing."""
        clean = None if name is None else check_name(name)
        return self.repo.update(user_id, mix_id, name=clean, favourite=favourite, shared=shared)

    def remove(self, user_id: str, mix_id: str) -> None:
        """Delete a mix."""
        self.repo.remove(user_id, mix_id)

    def start(
        self,
        user_id: str,
        *,
        plan: Mapping[str, Any],
        gains: list[float] | None,
        answers: Mapping[str, Any] | None = None,
        started_from: str,
    ) -> tuple[CheckInRecord, PlanRecord]:
        """A new session playing ``plan`` as it is (the matcher is not asked again).

        Parameters
        ----------
        user_id : str
        plan : mapping
            Plan JSON (:meth:`sonora.plan.Plan.to_dict`).
        gains : list of float or None
            Mixer gains to start with (linear, one per layer).
        answers : mapping, optional
            A short check-in (tension/energy/mood 0 to 10); optional.
        started_from : str
            ``"again"``, ``"mix"`` or ``"shared"``: kept with the check-in.
        """
        data: dict[str, Any] = {"started_from": started_from}
        for k in SCALES:
            v = (answers or {}).get(k)
            if v is None or v == "":
                continue
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise ParameterError(k, f"expected a number from 0 to 10, got {v!r}") from None
            if not 0.0 <= x <= 10.0:
                raise ParameterError(k, f"{x:g} is out of range: allowed in [0, 10]")
            data[k] = x
        goal = plan.get("goal")
        data["goal"] = goal
        data["minutes"] = round(float(plan.get("duration_s", 0.0)) / 60.0, 2)
        c, p = self.listening.add_checkin_and_plan(
            user_id, checkin=data, goal=goal, care=None, plan=dict(plan)
        )
        if gains is not None and len(gains) == len(plan.get("layers", [])):
            p = self.listening.set_gains(user_id, p.id, gains)
        return c, p

    def start_mix(
        self, user_id: str, mix: MixRecord, *, answers: Mapping[str, Any] | None = None
    ) -> tuple[CheckInRecord, PlanRecord]:
        """Start one of this listener's mixes, or a mix shared with them."""
        own = mix.user_id == user_id
        return self.start(
            user_id,
            plan=mix.plan,
            gains=mix.gains,
            answers=answers,
            started_from="mix" if own else "shared",
        )

    def again(self, user_id: str, plan_id: str) -> tuple[CheckInRecord, PlanRecord]:
        """Play one of this listener's past sessions again (same plan and mixer)."""
        rec = self.listening.get_plan(user_id, plan_id)
        return self.start(user_id, plan=rec.plan, gains=rec.gains, started_from="again")

    def export(self, user_id: str) -> dict[str, Any]:
        """Mixes and offline check-in keys of this listener (for the account export)."""
        return self.repo.export(user_id)

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Delete every mix and key of this listener."""
        return self.repo.delete_user(user_id)
