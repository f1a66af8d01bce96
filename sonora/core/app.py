"""The application object: one :class:`Core` serves the web app and every command.

Built from :class:`~sonora.settings.Settings`, it holds the settings, the database
(seen through the accounts' and listening's protocols as :attr:`Core.accounts` and
:attr:`Core.listening`), the planner (matcher), the loudness calibrator, the live
stream hub, the mixes and the therapist directory with its mailer (the heavier parts
are built on first use), and offers every action a listener can take as a method that
takes the acting user.  ``sonora serve`` hands it to the web app; every other command
builds the same object from the same settings.  Pages and the JSON API are thin layers
over it; every method that touches a listener's data reads it through the repositories
*with that user's id*, so one person can never act on another's rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sonora.accounts.password_rules import password_problem
from sonora.accounts.passwords import Passwords, normalise_email
from sonora.accounts.repo import EmailTaken, UserRecord
from sonora.accounts.store import AccountStore
from sonora.core.audio import MAX_USER_GAIN, StreamHub
from sonora.core.auth_errors import AuthError
from sonora.core.calibration import Calibrator
from sonora.core.database import Database
from sonora.core.history import HistoryView, build_history
from sonora.core.planner import (
    PROFILE_DEFAULTS,
    Planner,
    checkin_from_answers,
    checkout_from_answers,
    clean_profile,
    edited_checkout,
)
from sonora.errors import ParameterError
from sonora.listening.repo import CheckInRecord, PlanRecord
from sonora.listening.store import ListeningStore
from sonora.plan import CheckIn, Plan
from sonora.settings import Settings

if TYPE_CHECKING:
    from sonora.care.dose import DoseEstimate
    from sonora.core.downloads import Downloads
    from sonora.library.service import Library
    from sonora.mixes import Mixes
    from sonora.programmes import Programmes
    from sonora.therapists.service import Therapists

__all__ = ["AuthError", "Core", "HistoryView"]

log = logging.getLogger("sonora.core")


def _email(email: str) -> str:
    """``email`` normalised for look-up; :class:`AuthError` (field ``email``) if invalid."""
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise AuthError("email", str(exc)) from None


class _Absent:
    """Marks an argument that was not given (``None`` is a meaningful value)."""


ABSENT = _Absent()

#: Only check-ins this recent count towards the low-mood pattern, days.
MOOD_PATTERN_DAYS = 14


class Core:
    """Sonora's application core.

    Parameters
    ----------
    settings : Settings
        Every setting (``SONORA_*``).
    store : Database, optional
        Use this store instead of opening ``settings.database_url``.
    """

    def __init__(self, settings: Settings | None = None, *, store: Database | None = None) -> None:
        self.settings = settings or Settings()
        self.secret_key = self.settings.ensure_secret_key()
        if store is None:
            store = Database.open(
                self.settings.database_url, migrate=self.settings.migrate_on_start
            )
        #: The SQL database: every feature's repository over one engine (the therapist
        #: directory, the matcher and the mixes build their repositories on it).
        self.store = store
        #: The same database seen through the accounts' and listening's protocols: the
        #: core's own actions go through these.
        self.accounts: AccountStore = store
        self.listening: ListeningStore = store
        self.passwords = Passwords(
            self.settings.password_hash_memory_kib, self.settings.password_hash_time_cost
        )

    # The heavier parts are built on first use, so a command that only needs the
    # database (``sonora admin``, ``sonora outbox``) does not load the matcher.
    @functools.cached_property
    def planner(self) -> Planner:
        """The matcher and plan maker, with what it has learnt from this database."""
        planner = Planner(self.store, secret=self.secret_key)
        # Many processes: a refit here makes the others reload the prior (PostgreSQL).
        from sonora.core.prior_sync import PriorSync

        self.prior_sync = PriorSync(self.store, planner.reload_prior)
        planner.on_refit = self.prior_sync.publish
        self.prior_sync.start()
        return planner

    @functools.cached_property
    def mixes(self) -> Mixes:
        """Favourites, named mixes, share links and offline check-in keys."""
        from sonora.mixes import Mixes, MixRepo

        return Mixes(self.listening, MixRepo(self.store))

    @functools.cached_property
    def calibrator(self) -> Calibrator:
        """Background loudness calibration of plans."""
        return Calibrator(
            self.listening,
            sample_rate=self.settings.sample_rate,
            target_lufs=self.settings.target_lufs,
            workers=self.settings.calibration_workers,
            processes=self.settings.calibration_processes,
        )

    @functools.cached_property
    def hub(self) -> StreamHub:
        """Live streams (parked for resumption within the grace period)."""
        return StreamHub(grace_s=self.settings.resume_grace_s, max_parked=self.settings.max_streams)

    @functools.cached_property
    def therapists(self) -> Therapists:
        """The therapist directory, consult booking and its mailer (the outbox)."""
        from sonora.therapists.service import Therapists

        service = Therapists(self.store, self.settings, screen=self.screen_note)
        if self.settings.broker_url:  # new mail: an outbox pass on a worker (core/jobs.py)
            from sonora.core.queue import enqueue

            service.on_mail = lambda: enqueue("sonora.outbox.send")
        return service

    @functools.cached_property
    def programmes(self) -> Programmes:
        """Therapist-guided programmes: consent to share, programmes, progress."""
        from sonora.programmes import Programmes

        return Programmes(self.store, self.store.history)

    @functools.cached_property
    def downloads(self) -> Downloads:
        """Session downloads rendered on the job queue (files in ``SONORA_MEDIA_DIR``)."""
        from sonora.core.downloads import Downloads

        return Downloads(self)

    @functools.cached_property
    def library(self) -> Library:
        """The listener's own music: folders, scans, tracks (``SONORA_LIBRARY_ROOTS``)."""
        from sonora.library.repo import SqlLibraryRepo
        from sonora.library.service import Library
        from sonora.settings import parse_rate

        limit = parse_rate(self.settings.limit_scans_per_account)
        return Library(
            SqlLibraryRepo(self.store), self.settings.library_root_paths, scan_limit=limit
        )

    def close(self) -> None:
        """Stop background work and release database connections."""
        if "library" in self.__dict__:
            self.library.stop_background()
        if "therapists" in self.__dict__:
            self.therapists.stop_background()
        if "downloads" in self.__dict__:
            self.downloads.close()
        if "calibrator" in self.__dict__:
            self.calibrator.close()
        if "prior_sync" in self.__dict__:
            self.prior_sync.stop()
        self.store.close()

    # -- accounts ----------------------------------------------------------------------
    def start_guest(self) -> tuple[UserRecord, str]:
        """Create a guest and a cookie token for them."""
        user = self.accounts.create_user()
        return user, self.accounts.issue_token(user.id, days=self.settings.session_days)

    def user_for_token(self, token: str | None) -> UserRecord | None:
        """The listener a cookie belongs to."""
        return self.accounts.user_for_token(token) if token else None

    def sign_up(
        self, current: UserRecord | None, email: str, password: str
    ) -> tuple[UserRecord, str]:
        """Make an account (a guest keeps everything they did); returns a new token."""
        email = _email(email)
        problem = password_problem(
            password, email=email, min_length=self.settings.password_min_length
        )
        if (
            problem is not None
        ):  # length, common, the email itself, blank (accounts/password_rules.py)
            raise AuthError("password", problem)
        if current is not None and not current.is_guest:
            raise AuthError("email", "you are already signed in; log out first", 409)
        if current is None:
            current = self.accounts.create_user()
        try:
            user = self.accounts.register(
                current.id, email=email, password_hash=self.passwords.hash(password)
            )
        except EmailTaken:
            raise AuthError(
                "email", "an account with this email exists; log in instead", 409
            ) from None
        return user, self.accounts.issue_token(user.id, days=self.settings.session_days)

    def request_sign_up(self, current: UserRecord | None, email: str, password: str) -> UserRecord:
        """Sign-up by emailed link (:func:`sonora.core.signup.request_sign_up`): the same
        answer for every address; returns the guest the sign-up waits on."""
        from sonora.core.signup import request_sign_up

        return request_sign_up(self, current, email, password)

    def confirm_sign_up(
        self, current: UserRecord | None, token: str, password: str
    ) -> tuple[UserRecord, str]:
        """Finish a sign-up from its link (:func:`sonora.core.signup.confirm_sign_up`)."""
        from sonora.core.signup import confirm_sign_up

        return confirm_sign_up(self, current, token, password)

    def log_in(
        self, current: UserRecord | None, email: str, password: str
    ) -> tuple[UserRecord, str]:
        """Check credentials; a guest's sessions move into the account."""
        email = _email(email)
        found = self.accounts.credentials(email)
        if found is None:
            self.passwords.hash(password or "x")  # same work either way: no user probing
            raise AuthError("password", "email or password is not right", 401)
        user, stored = found
        if not self.passwords.verify(stored, password or ""):
            raise AuthError("password", "email or password is not right", 401)
        if self.passwords.needs_rehash(stored):
            self.accounts.set_password_hash(user.id, self.passwords.hash(password))
        if current is not None and current.is_guest and current.id != user.id:
            self.accounts.merge_guest(current.id, user.id)
        return user, self.accounts.issue_token(user.id, days=self.settings.session_days)

    def log_out(self, token: str | None) -> None:
        """Forget this sign-in."""
        if token:
            self.accounts.revoke_token(token)

    def export(self, user: UserRecord) -> dict[str, Any]:
        """Everything of this listener's, as one JSON-ready mapping.

        Includes the directory's part (``therapist``: profile, hours, verification
        records and bookings; ``bookings``: consults booked while signed in).
        """
        exported = self.accounts.export_user(
            user.id, parts=(self.programmes.account_part(), self.therapists.account_part())
        )
        return {**exported, **self.mixes.export(user.id)}

    def delete_account(self, user: UserRecord) -> dict[str, int]:
        """Delete the listener and everything of theirs.

        Upcoming consults the account leaves behind are cancelled and the other person
        is emailed, in the same transaction as the deletion
        (:meth:`sonora.therapists.service.Therapists.delete_account`).
        """
        for entry in self.listening.history(user.id):
            self.hub.forget_plan(entry.plan.id)
        mix_counts = self.mixes.delete_user(user.id)
        files = self.downloads.file_paths(user.id)  # rows go with the account, then files
        counts = {
            **self.therapists.delete_account(user, before=(self.programmes.account_part(),)),
            **mix_counts,
        }
        self.downloads.remove_files(files)
        self.planner.forget(user.id)
        return counts

    # -- profile -----------------------------------------------------------------------
    def profile(self, user: UserRecord, *, prefetched: bool = False) -> dict[str, Any]:
        """Profile answers with defaults filled in, plus ``onboarded``.

        ``prefetched=True`` uses the profile read with the user at the start of this
        request (:meth:`user_for_token`), when there is one: a query less on the
        check-in's hot path.  Only for a user record read in the same request.
        """
        rec = user.profile if prefetched and user.profile is not None else None
        if rec is None:
            rec = self.accounts.get_profile(user.id)
        return {**PROFILE_DEFAULTS, **rec.data, "onboarded": rec.onboarded}

    def save_profile(self, user: UserRecord, answers: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and store profile answers (partial updates merge)."""
        current = self.accounts.get_profile(user.id).data
        merged = clean_profile(
            {**current, **{k: v for k, v in answers.items() if k != "onboarded"}}
        )
        rec = self.accounts.save_profile(user.id, merged, onboarded=True)
        return {**rec.data, "onboarded": rec.onboarded}

    def set_listening_level(self, user: UserRecord, level_dba: float) -> dict[str, Any]:
        """Store the calibrated listening level (dBA), leaving onboarding as it was."""
        rec = self.accounts.get_profile(user.id)
        merged = clean_profile({**rec.data, "listening_level_dba": level_dba})
        saved = self.accounts.save_profile(user.id, merged, onboarded=rec.onboarded)
        return {**saved.data, "onboarded": saved.onboarded}

    def country(self, user: UserRecord) -> str:
        """Country for help resources (profile, else the default)."""
        return self.profile(user).get("country") or self.settings.default_country

    # -- check-in, plan, check-out -----------------------------------------------------
    def screen_note(
        self, note: str, country: str, region: str | None = None
    ) -> dict[str, Any] | None:
        """Triage a check-in note (``None`` if empty, disabled or unavailable)."""
        if not note or not note.strip() or not self.settings.triage_notes:
            return None
        try:
            from sonora.care.triage import triage

            # rules decide alone if the model is still loading after 1 s
            result = triage(note, country=country, region=region, model_wait_s=1.0)
        except Exception as exc:  # the screen must never block a check-in
            log.error("note screening unavailable: %s", exc)
            return None
        data = result.to_dict()
        data["message"] = getattr(result, "message", "")
        return data

    def mood_pattern(
        self,
        user: UserRecord,
        *,
        latest: float | _Absent | None = ABSENT,
        country: str | None = None,
        region: str | None = None,
    ) -> dict[str, Any] | None:
        """Very low mood across the recent check-ins: a gentle suggestion, or ``None``.

        Uses :func:`sonora.care.triage.pattern_signal` on the moods of the check-ins of
        the last :data:`MOOD_PATTERN_DAYS` days, oldest first (a skipped mood neither
        counts nor breaks a run).

        Parameters
        ----------
        user : UserRecord
            The listener.
        latest : float or None, optional
            The mood (0-10) of a check-in being made now, counted after the stored ones.
        country : str, optional
            ISO country code for the help resources (default: from the profile).

        Returns
        -------
        dict or None
            ``{"kind": "low_mood", "message", "reasons", "resources"}``.
        """
        from sonora.care.triage import pattern_signal
        from sonora.store.base import utcnow

        cutoff = utcnow() - dt.timedelta(days=MOOD_PATTERN_DAYS)
        moods: list[Any] = self.listening.recent_moods(user.id, since=cutoff, limit=20)
        if not isinstance(latest, _Absent):
            moods.append(latest)
        if country is None:
            from sonora.care.region import place_of

            country, region = place_of(self.profile(user), self.settings.default_country)
        result = pattern_signal(
            [float(m) for m in moods if m is not None], country=country, region=region
        )
        if result.level == "everyday":
            return None
        return {
            "kind": "low_mood",
            "message": result.message,
            "reasons": result.reasons,
            "resources": result.resources,
        }

    def listening_dose(self, user: UserRecord, *, now: dt.datetime | None = None) -> DoseEstimate:
        """This week's listening against the WHO-ITU allowance (see :mod:`sonora.care.dose`).

        Parameters
        ----------
        user : UserRecord
            The listener (their calibrated level is ``profile["listening_level_dba"]``).
        now : datetime, optional
            End of the seven-day window (default: the clock), timezone-aware.

        Returns
        -------
        DoseEstimate
        """
        from sonora.care.dose import WEEK_DAYS, mixer_offset_db, weekly_dose
        from sonora.store.base import utcnow

        now = now or utcnow()
        rows = self.listening.listened_since(user.id, now - dt.timedelta(days=WEEK_DAYS))
        level = self.profile(user).get("listening_level_dba")
        return weekly_dose(
            [(r.listened_s, mixer_offset_db(r.gains)) for r in rows], level_dba=level
        )

    def check_in(
        self, user: UserRecord, answers: Mapping[str, Any], profile: dict[str, Any] | None = None
    ) -> tuple[CheckInRecord, PlanRecord, Plan]:
        """Store a check-in, make its plan and start measuring its loudness (``profile``:
        :meth:`profile` when the caller has just read it, saving a read)."""
        profile = self.profile(user) if profile is None else profile
        data = dict(answers)
        if data.get("goal") in (None, ""):
            data["goal"] = profile["default_goal"]
        if data.get("output") in (None, ""):
            data["output"] = profile["output"]
        checkin = checkin_from_answers(data)
        from sonora.care.region import place_of

        country, region = place_of(profile, self.settings.default_country)
        care = self.screen_note(checkin.note, country, region)
        pattern = self.mood_pattern(user, latest=checkin.mood, country=country, region=region)
        if pattern is not None:
            base = care or {"level": "everyday", "reasons": [], "resources": []}
            care = {**base, "pattern": pattern}
        plan = self.planner.recommend(
            user.id, checkin, profile, allowed=self.programmes.allowed_families(user)
        )
        c, p = self.listening.add_checkin_and_plan(
            user.id,
            checkin=checkin.to_dict(),
            goal=checkin.goal,
            care=care,
            plan=plan.to_dict(),
        )
        if self.settings.calibrate_ahead:
            self._calibrate_ahead(user, p)
        return c, p, plan

    def _calibrate_ahead(self, user: UserRecord, p: PlanRecord) -> None:
        """Measure a new plan's loudness ahead: on the job queue when a broker is set
        (any worker host; sonora/core/jobs.py), else in this process's calibrator."""
        if self.settings.broker_url:
            from sonora.core.queue import enqueue

            enqueue("sonora.calibrate", user_id=user.id, plan_id=p.id)
        else:
            self.calibrator.ensure(p.id, p.plan, None, owner=user.id)

    def plan(self, user: UserRecord, plan_id: str) -> tuple[PlanRecord, Plan]:
        """A plan of this listener (:class:`~sonora.store.NotFound` otherwise)."""
        rec = self.listening.get_plan(user.id, plan_id)
        return rec, Plan.from_dict(rec.plan)

    def edit_plan(
        self,
        user: UserRecord,
        plan_id: str,
        *,
        swap: tuple[int, str] | None = None,
        minutes: float | None = None,
    ) -> tuple[PlanRecord, Plan]:
        """Swap a layer and/or change the length before starting."""
        rec, plan = self.plan(user, plan_id)
        profile = self.profile(user)
        if swap is not None:
            plan = self.planner.swap_layer(plan, swap[0], swap[1], profile)
        if minutes is not None:
            plan = self.planner.change_minutes(plan, minutes, profile)
        rec = self.listening.update_plan(user.id, plan_id, plan.to_dict())
        self.hub.forget_plan(plan_id)
        if self.settings.calibrate_ahead:
            self._calibrate_ahead(user, rec)
        return rec, plan

    def swap_choices(
        self, user: UserRecord, plan: Plan, profile: Mapping[str, Any] | None = None
    ) -> list[list[str]]:
        """For each layer, the families that may replace it."""
        profile = profile if profile is not None else self.profile(user)
        return self.planner.swap_choices_all(plan, profile)

    def set_gains(self, user: UserRecord, plan_id: str, gains: list[float]) -> list[float]:
        """Set the live mixer (linear gain per layer, 0–2) for a plan of this listener."""
        _, plan = self.plan(user, plan_id)
        if len(gains) != len(plan.plan_layers):
            raise ParameterError(
                "gains", f"expected {len(plan.plan_layers)} values, one per layer, got {len(gains)}"
            )
        clean = []
        for i, g in enumerate(gains):
            if isinstance(g, bool) or not isinstance(g, int | float) or not 0 <= g <= MAX_USER_GAIN:
                raise ParameterError(f"gains[{i}]", f"expected a number in [0, {MAX_USER_GAIN:g}]")
            clean.append(float(g))
        self.listening.set_gains(user.id, plan_id, clean)
        self.hub.set_gains(plan_id, clean)
        return clean

    def check_in_music(
        self, user: UserRecord, answers: Mapping[str, Any], *, sound_layer: bool = False
    ) -> tuple[CheckInRecord, PlanRecord, dict[str, Any]]:
        """A check-in whose session is a playlist of the listener's own music
        (:func:`sonora.core.music.check_in_music`)."""
        from sonora.core.music import check_in_music

        return check_in_music(self, user, answers, sound_layer=sound_layer)

    def check_out(self, user: UserRecord, plan_id: str, answers: Mapping[str, Any]) -> float:
        """Store the check-out and teach the matcher (when a sound played; a playlist
        keeps it too); returns the outcome score."""
        from sonora.core.music import outcome_score, sound_heard

        rec, plan = self.plan(user, plan_id)
        if not any(answers.get(k) is not None for k in ("tension", "energy", "mood", "rating")):
            raise ParameterError(
                "tension", "say how you are now: at least one of tension, energy, mood or rating"
            )
        if self.listening.get_outcome(user.id, plan_id) is not None:  # check out once
            raise AuthError("outcome", "you already checked out of this session", 409)
        checkout = checkout_from_answers(answers)
        playlist = self.library.playlist_for_checkin(user.id, rec.checkin_id)
        if sound_heard(playlist):
            reward = self.planner.record(user.id, plan, checkout)
        else:
            reward = outcome_score(plan, checkout)
        self.listening.record_outcome(user.id, plan_id, data=checkout.to_dict(), reward=reward)
        if playlist is not None:
            self.library.record_outcome(user.id, playlist["id"], checkout.to_dict(), reward)
        return reward

    def edit_check_out(self, user: UserRecord, plan_id: str, changes: Mapping[str, Any]) -> float:
        """Change some answers of a check-out, keeping the rest; returns the new score.

        See :func:`~sonora.core.planner.edited_checkout`; the matcher keeps what it learnt
        from the first answers (its sessions are not linked to plans).
        """
        rec, plan = self.plan(user, plan_id)
        current = self.listening.get_outcome(user.id, plan_id) if changes else None
        checkout, reward = edited_checkout(plan, current and current.data, changes, plan_id)
        self.listening.edit_outcome(user.id, plan_id, data=checkout.to_dict(), reward=reward)
        playlist = self.library.playlist_for_checkin(user.id, rec.checkin_id)
        if playlist is not None:
            self.library.record_outcome(user.id, playlist["id"], checkout.to_dict(), reward)
        return reward

    # -- history -----------------------------------------------------------------------
    def history(self, user: UserRecord) -> HistoryView:
        """Sessions, before and after, with per-goal and per-family summaries
        (:func:`sonora.core.history.build_history`)."""
        from sonora.core.music import music_by_plan
        from sonora.library.sessions import music_insights

        entries = self.listening.history(user.id)
        playlists = self.library.playlists(user.id, limit=500)
        view = build_history(entries, music=music_by_plan(playlists))
        view.music_helps = music_insights(playlists)
        quiet = self.profile(user, prefetched=True).get("quiet_rest")
        if quiet or any(p.quiet_rest for p in view.sessions):
            view.sound_vs_quiet = self.planner.evidence(user.id).to_dict()
        return view

    def parse_checkin(self, answers: Mapping[str, Any]) -> CheckIn:
        """Validate check-in answers without storing anything."""
        return checkin_from_answers(answers)
