"""Command line of programmes (registered on Sonora's Typer app by ``sonora/cli.py``).

.. code-block:: console

    $ sonora programmes remind     # queue today's reminder emails (run daily, e.g. cron)
"""

from __future__ import annotations

import typer

__all__ = ["programmes_app"]

programmes_app = typer.Typer(help="Therapist-guided programmes.")


@programmes_app.command("remind")
def remind_command() -> None:
    """Queue today's programme reminders (the days each listener chose) in the outbox.

    Safe to run as often as you like: each programme is reminded at most once a day.
    The app's background sender (or the command 'sonora outbox send') delivers them.
    """
    from sonora.core.app import Core
    from sonora.settings import Settings

    core = Core(Settings())
    try:
        sent = core.programmes.send_reminders(
            base_url=core.settings.base_url, mail_from=core.settings.mail_from
        )
        typer.echo(f"{len(sent)} reminder(s) queued")
    finally:
        core.close()
