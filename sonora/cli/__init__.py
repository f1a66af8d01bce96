"""Sonora's command line: one Typer app.

``sonora scenes``, ``sonora describe SCENE``, ``sonora render SCENE|PLAN.json -o FILE``,
``sonora play SCENE``, and the commands other parts of Sonora provide (``serve``,
``recommend``, ``triage``, ``evidence``, ``admin``, ``therapists``, ``outbox``, ``library``,
``programmes``).

``render`` lives in :mod:`sonora.cli.render` (it is most of the command line's code).
Start-up is kept short: this module imports only the standard library and Typer.
Commands from other packages are registered by name (:data:`LAZY_COMMANDS`) and
imported when they run or show their own help, never for ``sonora --help``; an
import error there is a real error and is shown as one.  Rich is imported only where
a table or progress bar is drawn, and error text is always printed verbatim (no
markup: ``[[layers]]`` stays ``[[layers]]``).
"""

from __future__ import annotations

import importlib
import json
import secrets
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from sonora.cli.options import (
    DEFAULT_LOUDNESS_LUFS,
    RENDER_OPTIONS,
    LoudnessOption,
    light_help_option,
    parse_duration,
    print_error,
)
from sonora.cli.options import console as _console
from sonora.cli.options import fail_as_option as _fail_as_option
from sonora.cli.render import render_cmd
from sonora.errors import ParameterError, SceneNotFoundError, SonoraError

if TYPE_CHECKING:
    import click

#: Commands that live in other packages: name -> ("module:attribute", one-line help).
#: The attribute is a command function or a Typer sub-app.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "serve": (
        "sonora.web.cli:serve_command",
        "Run the web app on http://127.0.0.1:8000: check in, listen, check out.",
    ),
    "recommend": (
        "sonora.cli.recommend:recommend_command",
        "Make a session plan for a check-in and say why.",
    ),
    "triage": (
        "sonora.cli.care:triage_command",
        "Screen a note: crisis / clinical / everyday, with help to reach.",
    ),
    "evidence": (
        "sonora.cli.care:evidence_command",
        "The claims Sonora makes, with sources, grades and caveats.",
    ),
    "admin": (
        "sonora.cli.therapists:admin_app",
        "Admins: the people who verify therapists' credentials.",
    ),
    "therapists": ("sonora.cli.therapists:therapists_app", "The therapist directory."),
    "outbox": (
        "sonora.cli.therapists:outbox_app",
        "Emails waiting to be sent (booking confirmations).",
    ),
    "programmes": ("sonora.cli.programmes:programmes_app", "Therapist-guided programmes."),
    "worker": (
        "sonora.cli.worker:worker_command",
        "Run job workers (calibration, emails, reminders) on any host; needs a broker.",
    ),
    "library": (
        "sonora.cli.library:library_app",
        "Your own music: folders, scans, tempo and key estimates.",
    ),
}


def _load_command(name: str) -> click.Command:
    """Import a :data:`LAZY_COMMANDS` entry and build its click command."""
    target, help_text = LAZY_COMMANDS[name]
    module, attr = target.split(":")
    obj = getattr(importlib.import_module(module), attr)
    if isinstance(obj, typer.Typer):
        # Plain click help like every other command (no Rich boxes, no "<bool>" on --help).
        obj.rich_markup_mode = None
        cmd = typer.main.get_group(obj)
    else:
        holder = typer.Typer(rich_markup_mode=None, add_completion=False)
        holder.command(name, help=help_text)(obj)
        cmd = typer.main.get_command(holder)
    cmd.name = name
    return cmd


class LazyGroup(TyperGroup):
    """Sonora's top-level group: built-in commands plus :data:`LAZY_COMMANDS`."""

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        opt = super().get_help_option(ctx)
        light_help_option(opt)
        return opt

    def list_commands(self, ctx: click.Context) -> list[str]:
        own = super().list_commands(ctx)
        return own + [n for n in LAZY_COMMANDS if n not in own]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in LAZY_COMMANDS:
            cmd = _load_command(cmd_name)
            self.add_command(cmd, cmd_name)
        if cmd is not None:
            light_help_option(cmd.get_help_option(ctx))
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = super().get_command(ctx, name)
            if cmd is None:  # not imported yet: its registered one-line help
                rows.append((name, LAZY_COMMANDS[name][1]))
            elif not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    name="sonora",
    cls=LazyGroup,
    help="Sonora composes calming sound (bowls, gongs, rain, waves, drones, soft melody) "
    "and renders it live. A wellness tool, not music therapy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.command("scenes")
def scenes_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the built-in scenes."""
    from sonora.scenes import list_scenes

    scenes = list_scenes()
    if as_json:
        typer.echo(json.dumps([s.summary() for s in scenes], indent=2))
        return
    from rich.table import Table

    table = Table(title="Sonora scenes", title_justify="left", show_lines=False)
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("description")
    table.add_column("sounds")
    table.add_column("suits")
    table.add_column("headphones", justify="center")
    for s in scenes:
        table.add_row(
            s.name,
            s.description,
            ", ".join(s.families),
            ", ".join(g.replace("_", " ") for g in s.goals),
            "needed" if s.headphones else "-",
        )
    console = _console()
    console.print(table)
    console.print("Render one: [bold]sonora render rain -o rain.flac --duration 10m[/]")


@app.command("describe")
def describe_cmd(
    scene: Annotated[str, typer.Argument(help="Built-in scene name or a scene file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what a scene is made of."""
    from sonora.scenes import load_scene

    try:
        s = load_scene(scene)
    except (SceneNotFoundError, ParameterError) as exc:
        _fail_as_option(exc, RENDER_OPTIONS)
    if as_json:
        typer.echo(json.dumps(s.to_dict(), indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    console = _console()
    console.print(f"[bold]{escape(s.title)}[/] ([cyan]{escape(s.name)}[/])")
    console.print(s.description, markup=False)
    console.print(
        f"Suits: {', '.join(g.replace('_', ' ') for g in s.goals) or '-'}"
        f"   Headphones: {'needed' if s.headphones else 'not needed'}",
        markup=False,
    )
    table = Table(show_header=True)
    for col in ("layer", "gain dB", "pan", "reverb", "parameters", "automated"):
        table.add_column(col)
    for i, layer in enumerate(s.layers):
        g = layer.gain_db
        table.add_row(
            escape(layer.label or f"{i}: {layer.source}"),
            f"{g.values[0]:+.1f}" if g.is_constant else "curve",
            f"{layer.pan:+.2f}",
            f"{layer.reverb_send:.2f}",
            escape(", ".join(f"{k}={v:g}" for k, v in layer.params.items()) or "defaults"),
            escape(", ".join(layer.automation) or "-"),
        )
    console.print(table)


app.command("render")(render_cmd)


@app.command("play")
def play_cmd(
    scene: Annotated[str, typer.Argument(help="Built-in scene name or a scene file.")],
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="Length: 90s, 20m, 1h30m.")
    ] = "20m",
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Same seed, same sound (default: a fresh seed, printed)."),
    ] = None,
    loudness: LoudnessOption = DEFAULT_LOUDNESS_LUFS,
) -> None:
    """Play a scene through the sound card (when there is one)."""
    from sonora.engine.loudness import MAX_TARGET_LUFS, MIN_TARGET_LUFS
    from sonora.errors import check_number
    from sonora.scenes import load_scene

    seed_given = seed is not None
    if seed is None:
        seed = secrets.randbelow(1_000_000)
    try:
        if isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise ParameterError("seed", f"expected a whole number in [0, 2^63), got {seed!r}")
        seconds = parse_duration(duration)
        check_number("loudness", loudness, low=MIN_TARGET_LUFS, high=MAX_TARGET_LUFS, unit=" LUFS")
        s = load_scene(scene)
    except (SceneNotFoundError, ParameterError) as exc:
        _fail_as_option(exc, RENDER_OPTIONS)
    reason = None
    try:
        import sounddevice as sd
    except ImportError:
        reason = (
            "the optional 'sounddevice' package is not installed "
            "(in Sonora's folder: .venv/bin/pip install -e '.[play]')"
        )
    except OSError as exc:  # sounddevice imports, but the PortAudio library is missing
        reason = f"PortAudio is not available ({exc})"
    else:
        try:
            sd.query_devices(kind="output")
        except Exception as exc:  # sounddevice.PortAudioError: no output device
            reason = f"no sound card is available here ({exc})"
    if reason is not None:
        typer.echo(f"Cannot play: {reason}.", err=True)
        typer.echo(
            f"Render to a file instead:  sonora render {scene} -o {s.name}.flac "
            f"--duration {duration} --seed {seed}",
            err=True,
        )
        raise typer.Exit(code=1) from None
    from sonora.scenes.build import build_mix

    mix = build_mix(s, duration_s=seconds, seed=seed, target_lufs=loudness)
    typer.echo(f"Playing {s.title} for {seconds / 60:.0f} min, seed {seed} — Ctrl+C to stop.")
    if not seed_given:
        typer.echo(f"Same sound again: add --seed {seed}")
    try:
        with sd.OutputStream(samplerate=mix.sample_rate, channels=2, dtype="float32") as stream:
            for block in mix.blocks(4096):
                stream.write(block.T.copy())
    except KeyboardInterrupt:
        typer.echo("Stopped.")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SonoraError as exc:  # any remaining user error: message, not traceback
        print_error(exc)
        sys.exit(2)
