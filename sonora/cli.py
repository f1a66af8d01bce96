"""Sonora's command line: one Typer app.

``sonora scenes``, ``sonora describe SCENE``, ``sonora render SCENE|PLAN.json -o FILE``,
``sonora play SCENE``, ``sonora triage TEXT``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sonora.errors import ParameterError, SceneNotFoundError, SonoraError

app = typer.Typer(
    name="sonora",
    help="Sonora composes calming sound (bowls, gongs, rain, waves, drones, soft melody) "
    "and renders it live. A wellness tool, not music therapy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

_DURATION_RE = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$"
)


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


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}")
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
    console.print(f"[bold]{s.title}[/] ([cyan]{s.name}[/])\n{s.description}")
    console.print(
        f"Suits: {', '.join(g.replace('_', ' ') for g in s.goals) or '-'}"
        f"   Headphones: {'needed' if s.headphones else 'not needed'}"
    )
    table = Table(show_header=True)
    for col in ("layer", "gain dB", "pan", "reverb", "parameters", "automated"):
        table.add_column(col)
    for i, layer in enumerate(s.layers):
        g = layer.gain_db
        table.add_row(
            layer.label or f"{i}: {layer.source}",
            f"{g.values[0]:+.1f}" if g.is_constant else "curve",
            f"{layer.pan:+.2f}",
            f"{layer.reverb_send:.2f}",
            ", ".join(f"{k}={v:g}" for k, v in layer.params.items()) or "defaults",
            ", ".join(layer.automation) or "-",
        )
    console.print(table)


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
        typer.Option("--seed", help="Same seed, same sound (default 0; a plan's own seed)."),
    ] = None,
    loudness: Annotated[
        float, typer.Option("--loudness", help="Integrated loudness target, -30 to -14 LUFS.")
    ] = -23.0,
    sample_rate: Annotated[
        int, typer.Option("--sample-rate", help="Sample rate, 22050 to 96000 Hz.")
    ] = 48_000,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check", help="Measure loudness and true peak of the file afterwards."
        ),
    ] = True,
) -> None:
    """Render a scene or a session plan to an audio file (written atomically)."""
    from sonora.engine.encoders import format_for
    from sonora.engine.render import render_to_file
    from sonora.plan.render import is_plan_file, load_plan, plan_mix
    from sonora.scenes import load_scene
    from sonora.scenes.build import build_mix

    is_plan = is_plan_file(scene)
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
            format_for(output)
            mix = plan_mix(plan, sample_rate=sample_rate, target_lufs=loudness)
        else:
            seconds = parse_duration("10m" if duration is None else duration)
            seed = 0 if seed is None else seed
            s = load_scene(scene)
            format_for(output)
            mix = build_mix(
                s, duration_s=seconds, seed=seed, sample_rate=sample_rate, target_lufs=loudness
            )
    except (SceneNotFoundError, ParameterError) as exc:
        _fail(exc)
    if s.headphones:
        console.print(
            f"[yellow]This {'plan' if is_plan else 'scene'} needs headphones: "
            "binaural beats do not work over speakers.[/]"
        )
    t0 = time.perf_counter()
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
            disable=not sys.stderr.isatty(),
        ) as progress:
            task = progress.add_task(f"rendering {s.name}", total=mix.total_frames)
            path = render_to_file(
                mix, output, progress=lambda done, total: progress.update(task, completed=done)
            )
    except ParameterError as exc:
        _fail(exc)
    except OSError as exc:
        _fail(ParameterError("output", f"cannot write {str(output)!r}: {exc.strerror or exc}"))
    wall = time.perf_counter() - t0
    size_mb = path.stat().st_size / 1e6
    console.print(
        f"[green]Wrote[/] {path} — {s.title}, {seconds / 60:.1f} min, seed {seed}, "
        f"{sample_rate} Hz, {size_mb:.1f} MB in {wall:.1f} s "
        f"({seconds / max(wall, 1e-9):.0f}x real time)"
    )
    if check and seconds <= 1800:
        import soundfile as sf

        from sonora.engine.loudness import integrated_lufs, true_peak_dbtp

        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        console.print(
            f"Measured: {integrated_lufs(audio.T, rate):.1f} LUFS integrated "
            f"(target {loudness:g}), true peak {true_peak_dbtp(audio.T):.1f} dBTP"
        )


@app.command("play")
def play_cmd(
    scene: Annotated[str, typer.Argument(help="Built-in scene name or a scene file.")],
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="Length: 90s, 20m, 1h30m.")
    ] = "20m",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    loudness: Annotated[float, typer.Option("--loudness", help="-30 to -14 LUFS.")] = -23.0,
) -> None:
    """Play a scene through the sound card (when there is one)."""
    from sonora.scenes import load_scene
    from sonora.scenes.build import build_mix

    try:
        seconds = parse_duration(duration)
        s = load_scene(scene)
    except (SceneNotFoundError, ParameterError) as exc:
        _fail(exc)
    try:
        import sounddevice as sd

        sd.query_devices(kind="output")
    except Exception:
        err.print(
            "[yellow]No sound card is available here[/] (or the optional 'sounddevice' package "
            "is not installed: pip install 'sonora\\[play]').\n"
            "Render to a file instead:  "
            f"sonora render {scene} -o {s.name}.flac --duration {duration}"
        )
        raise typer.Exit(code=1) from None
    mix = build_mix(s, duration_s=seconds, seed=seed, target_lufs=loudness)
    console.print(f"Playing [bold]{s.title}[/] for {seconds / 60:.0f} min — Ctrl+C to stop.")
    try:
        with sd.OutputStream(samplerate=mix.sample_rate, channels=2, dtype="float32") as stream:
            for block in mix.blocks(4096):
                stream.write(block.T.copy())
    except KeyboardInterrupt:
        console.print("Stopped.")


def _register_optional() -> None:
    """Commands from other parts of Sonora (kept there, registered here)."""
    try:
        from sonora.web.cli import serve_command
    except ImportError:  # pragma: no cover - web extras missing in a partial install
        pass
    else:
        app.command(
            "serve", help="Run the web app on http://127.0.0.1:8000: check in, listen, check out."
        )(serve_command)
    try:
        from sonora.match.cli import recommend_command
    except ImportError:  # pragma: no cover
        pass
    else:
        app.command("recommend", help="Make a session plan for a check-in and say why.")(
            recommend_command
        )
    try:
        from sonora.therapists.cli import admin_app, outbox_app, therapists_app
    except ImportError:  # pragma: no cover
        pass
    else:
        app.add_typer(admin_app, name="admin")
        app.add_typer(therapists_app, name="therapists")
        app.add_typer(outbox_app, name="outbox")
    try:
        from sonora.care.cli import triage_command
    except ImportError:  # pragma: no cover - care not installed in a partial checkout
        return
    app.command("triage", help="Screen a note: crisis / clinical / everyday, with help to reach.")(
        triage_command
    )
    from sonora.care.cli import evidence_command

    app.command("evidence", help="The claims Sonora makes, with sources, grades and caveats.")(
        evidence_command
    )


_register_optional()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SonoraError as exc:  # any remaining user error: message, not traceback
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
