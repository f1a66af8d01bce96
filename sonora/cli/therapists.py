"""Command-line tools for the directory (registered on Sonora's Typer app by ``sonora/cli.py``).

.. code-block:: console

    $ sonora admin grant me@example.org       # the first admin (sign up in the app first)
    $ sonora therapists demo                  # labelled demo profiles, unverified
    $ sonora therapists demo --verify-as me@example.org   # ... and verified by that admin
    $ sonora therapists demo --remove
    $ sonora therapists remind                # email re-check reminders (run daily)
    $ sonora outbox send                      # send due emails once (e.g. from cron)
    $ sonora outbox status
"""

from __future__ import annotations

from typing import Annotated

import typer

from sonora.cli.options import as_option, whole_number_in
from sonora.errors import ParameterError

__all__ = ["admin_app", "outbox_app", "therapists_app"]

admin_app = typer.Typer(help="Admins: the people who verify therapists' credentials.")
therapists_app = typer.Typer(help="The therapist directory.")
outbox_app = typer.Typer(help="Emails waiting to be sent (booking confirmations).")


def _service():  # type: ignore[no-untyped-def]
    """The application's therapists service and the application (close it when done)."""
    from sonora.core.app import Core
    from sonora.settings import Settings

    core = Core(Settings())
    return core.therapists, core


#: Fields the therapist and admin commands check, as the argument or option that sets them.
_OPTIONS = {"email": "EMAIL", "verify_as": "--verify-as", "days": "--days"}


def _fail(exc: Exception) -> None:
    typer.echo(
        f"error: {as_option(exc, _OPTIONS) if isinstance(exc, ParameterError) else exc}", err=True
    )
    raise typer.Exit(code=2)


@admin_app.command("grant")
def grant_command(
    email: Annotated[str, typer.Argument(help="Email of an existing account.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the admin role away.")] = False,
) -> None:
    """Make an account an admin (or, with --revoke, stop it being one)."""
    from sonora.errors import ParameterError

    service, store = _service()
    try:
        user = service.grant_admin(email, revoke=revoke)
    except ParameterError as exc:
        _fail(exc)
    finally:
        store.close()
    typer.echo(f"{user.email} is {'no longer ' if revoke else ''}an admin.")


@therapists_app.command("demo")
def demo_command(
    remove: Annotated[bool, typer.Option("--remove", help="Delete every demo profile.")] = False,
    verify_as: Annotated[
        str,
        typer.Option(
            "--verify-as",
            metavar="ADMIN_EMAIL",
            help="Record a verification of the demo profiles by this admin "
            "(note: 'demo data — not a real person') so they are listed.",
        ),
    ] = "",
) -> None:
    """Add clearly labelled, fictional demo profiles (unverified, so not listed until an
    admin verifies them) — or remove them."""
    from sonora.errors import ParameterError
    from sonora.therapists.demo import seed_demo, verify_demo

    service, store = _service()
    try:
        if remove:
            n = service.repo.delete_demo()
            typer.echo(f"Removed {n} demo profile(s).")
            return
        if verify_as:  # check the admin before adding anything
            admin = service.repo.user_by_email(verify_as.strip().lower())
            if admin is None or not service.is_admin(admin):
                _fail(
                    ParameterError(
                        "verify_as",
                        f"{verify_as!r} is not an admin account; sign up, then "
                        "`sonora admin grant EMAIL`",
                    )
                )
        made = seed_demo(service)
        for t in made:
            typer.echo(f"  {t.display_name} — {t.city}, {t.country} (demo, not a real person)")
        typer.echo(
            f"Added {len(made)} demo profile(s). Remove them: sonora therapists demo --remove"
        )
        if verify_as:
            done = verify_demo(service, verify_as)
            typer.echo(
                f"Verified {len(done)} demo profile(s) as {verify_as} (note: demo data — not "
                "a real person); they are listed, with their Demo badge."
            )
        else:
            typer.echo(
                "They are not listed until verified: see /admin/verify, or run again with "
                "--verify-as ADMIN_EMAIL."
            )
    finally:
        store.close()


@therapists_app.command("remind")
def remind_command(
    days: Annotated[
        int,
        typer.Option(
            "--days",
            callback=whole_number_in(0, 366, " days"),
            help="Remind this many days before expiry (0 to 366).",
        ),
    ] = 30,
) -> None:
    """Email therapists whose verification runs out within --days days (once per expiry).

    Safe to run as often as you like (e.g. daily from cron): a reminder already queued
    for a profile's current expiry is not queued again.
    """
    service, store = _service()
    try:
        done = service.remind(days_ahead=days)
    finally:
        store.close()
    for t in done:
        until = t.verified_until.date().isoformat() if t.verified_until else "-"
        typer.echo(f"  {t.display_name} <{t.email}> — re-check due {until}")
    typer.echo(f"Queued {len(done)} re-check reminder(s); `sonora outbox send` delivers them.")


@therapists_app.command("list")
def list_command() -> None:
    """Every therapist profile with its verification status."""
    service, store = _service()
    try:
        now = service.clock()
        for t in service.repo.profiles():
            until = t.verified_until.date().isoformat() if t.verified_until else "-"
            tag = " (demo)" if t.is_demo and not t.display_name.endswith("(demo)") else ""
            typer.echo(
                f"{t.id}  {t.status(now):<11}  until {until:<10}  {t.country} "
                f"{t.registration_number:<10}  {t.display_name}{tag}"
            )
    finally:
        store.close()


@outbox_app.command("send")
def send_command() -> None:
    """Send every email that is due (failures are kept and retried later)."""
    service, store = _service()
    try:
        report = service.deliver()
        counts = service.repo.outbox_counts()
    finally:
        store.close()
    typer.echo(
        f"Sent {report.sent}, failed {report.failed}; waiting {counts['waiting']} "
        f"(of which {counts['failing']} after a failure)."
    )
    for e in report.errors or []:
        typer.echo(f"  {e}", err=True)
    if report.failed:
        raise typer.Exit(code=1)


@outbox_app.command("status")
def status_command() -> None:
    """How many emails were sent and how many wait."""
    service, store = _service()
    try:
        counts = service.repo.outbox_counts()
        waiting = service.repo.outbox(unsent_only=True)
    finally:
        store.close()
    typer.echo(f"sent {counts['sent']}, waiting {counts['waiting']}, failing {counts['failing']}")
    for m in waiting:
        err = f" — last error: {m.last_error}" if m.last_error else ""
        typer.echo(f"  {m.kind:<22} {m.to_addr:<30} attempts {m.attempts}{err}")
