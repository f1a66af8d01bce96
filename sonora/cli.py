"""Sonora's command line: one Typer app.

``sonora scenes``, ``sonora describe SCENE``, ``sonora render SCENE|PLAN.json -o FILE``,
``sonora play SCENE``, and the commands other parts of Sonora provide (``serve``,
``recommend``, ``triage``, ``evidence``, ``admin``, ``therapists``, ``outbox``, ``library``,
``programmes``).

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
import os
import re
import secrets
import signal
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from sonora.cliopts import (
    DEFAULT_LOUDNESS_LUFS,
    DEFAULT_SAMPLE_RATE_HZ,
    Interrupted,
    LoudnessOption,
    SampleRateOption,
    light_help_option,
    signals_interrupt,
)
from sonora.errors import ParameterError, SceneNotFoundError, SonoraError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import click
    from rich.console import Console

#: Commands that live in other packages: name -> ("module:attribute", one-line help).
#: The attribute is a command function or a Typer sub-app.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "serve": (
        "sonora.web.cli:serve_command",
        "Run the web app on http://127.0.0.1:8000: check in, listen, check out.",
    ),
    "recommend": (
        "sonora.match.cli:recommend_command",
        "Make a session plan for a check-in and say why.",
    ),
    "triage": (
        "sonora.care.cli:triage_command",
        "Screen a note: crisis / clinical / everyday, with help to reach.",
    ),
    "evidence": (
        "sonora.care.cli:evidence_command",
        "The claims Sonora makes, with sources, grades and caveats.",
    ),
    "admin": (
        "sonora.therapists.cli:admin_app",
        "Admins: the people who verify therapists' credentials.",
    ),
    "therapists": ("sonora.therapists.cli:therapists_app", "The therapist directory."),
    "outbox": (
        "sonora.therapists.cli:outbox_app",
        "Emails waiting to be sent (booking confirmations).",
    ),
    "programmes": ("sonora.programmes.cli:programmes_app", "Therapist-guided programmes."),
    "worker": (
        "sonora.core.worker_cli:worker_command",
        "Run job workers (calibration, emails, reminders) on any host; needs a broker.",
    ),
    "library": (
        "sonora.library.cli:library_app",
        "Your own music: folders, scans, tempo and key estimates.",
    ),
}


def _load_command(name: str) -> click.Command:
    """Import a :data:`LAZY_COMMANDS` entry and build its click command."""
    target, help_text = LAZY_COMMANDS[name]
    module, attr = target.split(":")
    obj = getattr(importlib.import_module(module), attr)
    if isinstance(obj, typer.Typer):
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

_DURATION_RE = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$"
)


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


def parse_duration(text: str) -> float:
    """Parse ``"30m"``, ``"1h30m"``, ``"90s"``, ``"45"`` (seconds) into seconds.

    Raises
    ------
    ParameterError
        Naming ``duration`` for malformed text, zero/negative or over 12 hours.
    """
    t = str(text).strip().lower()
    m = _DURATION_RE.match(t)
    if not t or m is None or not any(m.groups()):
        raise ParameterError(
            "duration", f"{text!r} is not a duration; use e.g. 90s, 20m, 1h30m (0 < d <= 12h)"
        )
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = h * 3600 + mi * 60 + s
    if not 0 < seconds <= 12 * 3600:
        raise ParameterError(
            "duration", f"{text!r} is out of range: allowed more than 0 s, up to 12h"
        )
    return seconds


def print_error(message: object) -> None:
    """Print ``error: MESSAGE`` to stderr, the message verbatim (no markup)."""
    typer.secho("error: ", fg="red", bold=True, err=True, nl=False)
    typer.echo(str(message), err=True)


def _fail(exc: Exception) -> None:
    print_error(exc)
    raise typer.Exit(code=2)


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
        _fail(exc)
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


def _tags(*, title: str, kind: str, name: str, seed: int, loudness: float) -> dict[str, str]:
    from sonora import __version__

    return {
        "title": title,
        "artist": "Sonora",
        "album": f"Sonora {kind}s",
        "comment": f"{kind}={name}; seed={seed}; loudness={loudness:g} LUFS integrated",
        "software": f"Sonora {__version__}",
    }


@app.command("render")
def render_cmd(
    scene: Annotated[
        str,
        typer.Argument(
            help="Built-in scene name, a scene file (.toml/.yaml/.json) or a plan file "
            "(.json, from sonora recommend --json)."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output file: .flac, .wav, .opus/.ogg or .mp3.")
    ],
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration",
            "-d",
            help="Length: 90s, 20m, 1h30m (default 10m; a plan has its own length).",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Same seed, same sound (default: a fresh seed, printed; a plan's own seed).",
        ),
    ] = None,
    loudness: LoudnessOption = DEFAULT_LOUDNESS_LUFS,
    sample_rate: SampleRateOption = DEFAULT_SAMPLE_RATE_HZ,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Measure loudness and true peak of what is written (while rendering; "
            "lossy files: as decoded).",
        ),
    ] = True,
    force: Annotated[
        bool,
        typer.Option("--force", help="Render even when the estimated cost is over the limit."),
    ] = False,
) -> None:
    """Render a scene or a session plan to an audio file (written atomically)."""
    from sonora.engine.base import check_sample_rate
    from sonora.engine.encoders import format_for
    from sonora.engine.loudness import MAX_TARGET_LUFS, MIN_TARGET_LUFS
    from sonora.errors import check_number
    from sonora.scenes import builtin_names, load_scene
    from sonora.scenes.cost import estimate_cost

    # Only a .json file can be a plan: sonora.plan (its models and composer) is not
    # imported to render a scene.
    is_plan = Path(scene).suffix.lower() == ".json"
    if is_plan:
        from sonora.plan.render import is_plan_file, load_plan

        is_plan = is_plan_file(scene)
    seed_given = seed is not None
    try:
        if is_plan:
            plan = load_plan(scene)
            if duration is not None:
                raise ParameterError(
                    "duration",
                    "a plan has its own length "
                    f"({plan.duration_s / 60:g} min); make a new plan for another length",
                )
            if plan.quiet_rest:
                raise ParameterError(
                    "plan", "this is a quiet-rest session: there is no sound to render"
                )
            if seed is not None:
                plan = replace(plan, seed=seed)
            seconds, seed = plan.duration_s, plan.seed
            s = plan.to_scene()
        else:
            seconds = parse_duration("10m" if duration is None else duration)
            s = load_scene(scene)
            if seed is None:
                seed = secrets.randbelow(1_000_000)
        if isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise ParameterError("seed", f"expected a whole number in [0, 2^63), got {seed!r}")
        format_for(output)
        check_number("loudness", loudness, low=MIN_TARGET_LUFS, high=MAX_TARGET_LUFS, unit=" LUFS")
        sample_rate = check_sample_rate(sample_rate)
        # Built-in scenes are Sonora's own, with costs measured by benchmarks/render.py:
        # only custom scenes and plan files are probed (a probe under heavy load could
        # refuse a built-in scene, and it costs a second of CPU per layer).
        builtin = not is_plan and scene in builtin_names()
        cost = (
            None
            if builtin
            else estimate_cost(s, duration_s=seconds, seed=seed, sample_rate=sample_rate)
        )
        if cost is not None and cost.over_limit and not force:
            raise ParameterError(
                "scene",
                f"{cost.describe()}. Shorten --duration, use fewer or simpler layers, "
                "or add --force to render it anyway",
            )
    except (SceneNotFoundError, ParameterError) as exc:
        _fail(exc)
    out = _console()
    if s.headphones:
        out.print(
            f"[yellow]This {'plan' if is_plan else 'scene'} needs headphones: "
            "binaural beats do not work over speakers.[/]"
        )
    if cost is not None and cost.over_limit:
        out.print(f"Rendering anyway (--force): {cost.describe()}", markup=False, soft_wrap=True)
    kind = "plan" if is_plan else "scene"
    tags = _tags(title=s.title, kind=kind, name=s.name, seed=seed, loudness=loudness)
    try:
        with signals_interrupt():
            path, wall, measured = _render(
                s,
                plan if is_plan else None,
                output,
                seconds=seconds,
                seed=seed,
                loudness=loudness,
                sample_rate=sample_rate,
                check=check,
                tags=tags,
            )
    except ParameterError as exc:
        _fail(exc)
    except OSError as exc:
        _fail(ParameterError("output", f"cannot write {str(output)!r}: {exc.strerror or exc}"))
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        typer.echo(f"Stopped ({signal.Signals(signum).name}); nothing was written.", err=True)
        raise typer.Exit(code=128 + int(signum)) from None
    size_mb = path.stat().st_size / 1e6
    out.print(
        f"Wrote {path} — {s.title}, {seconds / 60:.1f} min, seed {seed}, "
        f"{sample_rate} Hz, {size_mb:.1f} MB in {wall:.1f} s "
        f"({seconds / max(wall, 1e-9):.0f}x real time)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if kind == "scene" and not seed_given:
        out.print(f"Same sound again: add --seed {seed}", markup=False, soft_wrap=True)
    if measured is not None:
        lufs, tp, how = measured
        out.print(
            f"Measured: {lufs:.1f} LUFS integrated (target {loudness:g}), "
            f"true peak {tp:.1f} dBTP ({how})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        from sonora.engine.loudness import MAX_TRUE_PEAK_DBTP

        if tp > MAX_TRUE_PEAK_DBTP + 0.05:
            typer.echo(
                f"warning: true peak {tp:.1f} dBTP is above Sonora's "
                f"{MAX_TRUE_PEAK_DBTP:g} dBTP ceiling",
                err=True,
            )
        if abs(lufs - loudness) > 2.0:
            typer.echo(f"warning: loudness is {lufs - loudness:+.1f} LU from the target", err=True)


def _render(
    s: Any,
    plan: Any,
    output: Path,
    *,
    seconds: float,
    seed: int,
    loudness: float,
    sample_rate: int,
    check: bool,
    tags: dict[str, str],
) -> tuple[Path, float, tuple[float, float, str] | None]:
    """Calibrate, render and (with ``check``) measure; returns path, wall time, measures."""
    from sonora.engine.loudness import LoudnessMeter
    from sonora.engine.render import measure_decoded, render_to_file

    t0 = time.perf_counter()
    # The layers render in a second process where there is a second core (same bytes).
    processes = 2 if (os.cpu_count() or 1) > 1 else 1
    with ExitStack() as stack:
        if plan is not None:
            from sonora.plan.render import plan_mix

            mix = plan_mix(plan, sample_rate=sample_rate, target_lufs=loudness, processes=processes)
            render_processes = processes
        else:
            from sonora.scenes.build import build_mix_shared

            # A steady scene's calibration reads the render's own source (one render
            # of the session's start, not two); same mix, same bytes as build_mix.
            mix = stack.enter_context(
                build_mix_shared(
                    s,
                    duration_s=seconds,
                    seed=seed,
                    sample_rate=sample_rate,
                    target_lufs=loudness,
                    processes=processes,
                    spool_dir=output.resolve().parent,
                )
            )
            render_processes = processes if mix._feed is None else 1
        from sonora.engine.encoders import FORMATS

        lossy = FORMATS[output.suffix.lower()][1] in ("OPUS", "MPEG_LAYER_III")
        meter = LoudnessMeter(sample_rate) if check and not lossy else None
        with _progress(f"rendering {s.name}", mix.total_frames) as update:
            path = render_to_file(
                mix, output, progress=update, meter=meter, tags=tags, processes=render_processes
            )
    measured = None
    if meter is not None:
        measured = (meter.integrated_lufs, meter.true_peak_dbtp, "while rendering")
    elif check:
        lufs, tp = measure_decoded(path)
        measured = (lufs, tp, "decoded")
    return path, time.perf_counter() - t0, measured


@contextmanager
def _progress(label: str, total: int) -> Iterator[Any]:
    """A progress bar on a terminal (stderr), nothing otherwise; yields ``update(done, total)``."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_console(stderr=True),
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done, _total: progress.update(task, completed=done)


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
    from sonora.scenes import load_scene

    seed_given = seed is not None
    if seed is None:
        seed = secrets.randbelow(1_000_000)
    try:
        if isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise ParameterError("seed", f"expected a whole number in [0, 2^63), got {seed!r}")
        seconds = parse_duration(duration)
        s = load_scene(scene)
    except (SceneNotFoundError, ParameterError) as exc:
        _fail(exc)
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


if __name__ == "__main__":
    main()
