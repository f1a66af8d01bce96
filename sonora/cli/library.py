"""Command line of the music library (registered on Sonora's Typer app by ``sonora/cli.py``).

.. code-block:: console

    $ export SONORA_LIBRARY_ROOTS=/srv/music
    $ sonora library add /srv/music/jazz --email me@example.org
    $ sonora library scan --email me@example.org     # a progress bar; only changed files
    $ sonora library list --email me@example.org     # tempo and key are estimates

The account is the one signed up in the app with that email.  The scan runs in this
process (the same job the app's background worker runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sonora.cli.options import as_option

if TYPE_CHECKING:
    from sonora.accounts.repo import UserRecord
    from sonora.core.app import Core

__all__ = ["library_app"]

library_app = typer.Typer(help="Your own music: folders, scans, tempo and key estimates.")

Email = Annotated[
    str, typer.Option("--email", help="The account (signed up in the app) the music is for.")
]


def _open(email: str) -> tuple[Core, UserRecord]:
    from sonora.core.app import Core
    from sonora.settings import Settings

    core = Core(Settings())
    found = core.accounts.credentials(email.strip().lower())
    if found is None:
        core.close()
        raise _fail(f"--email: no account with the email {email!r}; sign up in the app first")
    return core, found[0]


#: Fields the library checks, as the argument or option that sets them.
_OPTIONS = {"path": "PATH", "folder": "PATH", "email": "--email"}


def _fail(message: str) -> typer.Exit:
    """Print ``error: MESSAGE`` as every other command does; the exit to raise (status 2)."""
    from sonora.cli.options import print_error

    print_error(message)
    return typer.Exit(2)


@library_app.command("add")
def add_command(
    path: Annotated[str, typer.Argument(help="A folder inside SONORA_LIBRARY_ROOTS.")],
    email: Email,
) -> None:
    """Add a folder of music (read only: Sonora never changes your files)."""
    from sonora.errors import ParameterError

    core, user = _open(email)
    try:
        folder = core.library.add_folder(user.id, path)
    except ParameterError as exc:
        raise _fail(as_option(exc, _OPTIONS)) from None
    finally:
        core.close()
    typer.echo(f"Added {folder.path}. Run `sonora library scan --email {email}` next.")


@library_app.command("scan")
def scan_command(email: Email) -> None:
    """Scan your folders: new and changed files are analysed, removed ones forgotten."""
    from sonora.errors import ParameterError
    from sonora.library.scan import ScanResult
    from sonora.library.service import ScanLimitReached

    core, user = _open(email)
    try:
        try:
            scan = core.library.start_scan(user.id)
        except ParameterError as exc:
            raise _fail(exc.message) from None  # no folder yet: nothing the options name
        except ScanLimitReached as exc:
            raise _fail(str(exc)) from None
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=Console(stderr=True)) as bar:
            task = bar.add_task("Analysing", total=None)

            def show(r: ScanResult) -> None:
                bar.update(task, total=r.to_analyse or None, completed=r.analysed)

            core.library.run(scan.id, progress=show)
        done = core.library.scan(user.id, scan.id)
    finally:
        core.close()
    typer.echo(
        f"{done.files_seen} file(s) seen, {done.analysed} analysed, {done.failed} could not "
        f"be read, {done.removed} removed."
    )
    if done.message:
        typer.echo(done.message)


@library_app.command("list")
def list_command(email: Email) -> None:
    """List your tracks with Sonora's estimates of tempo, key and voice."""
    core, user = _open(email)
    try:
        tracks = core.library.tracks(user.id)
    finally:
        core.close()
    table = Table(title=f"{len(tracks)} track(s) — tempo, key and voice are estimates")
    for col in ("Track", "Artist", "Length", "Tempo (est.)", "Key (est.)", "Loudness", "Voice"):
        table.add_column(col)
    for t in tracks:
        table.add_row(
            t.name,
            t.artist,
            f"{t.duration_s:.0f} s" if t.duration_s else "",
            f"~{t.tempo_bpm:.0f} BPM" if t.tempo_bpm else "",
            t.key or "",
            f"{t.loudness_lufs:.1f} LUFS" if t.loudness_lufs is not None else "",
            "" if t.voice is None else ("likely" if t.voice >= 0.5 else "unlikely"),
        )
        if t.error:
            table.add_row(t.name, "", "", "", "", "", f"unreadable: {t.error}")
    Console().print(table)
