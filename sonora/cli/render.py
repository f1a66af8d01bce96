"""``sonora render``: a scene or a session plan to an audio file.

The command itself (:func:`render_cmd`, registered by :mod:`sonora.cli`) and the
render it runs: the cost check, calibration, the render in two processes where there
are two CPUs, the in-stream check and the tags.  Like :mod:`sonora.cli`, this module
imports only the standard library and Typer when loaded; the engine is imported when
the command runs.  The file written does not depend on the number of CPUs (the second
process renders the very same quanta; ``tests/test_cli_render.py``).
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sonora.cli.options import (
    DEFAULT_LOUDNESS_LUFS,
    DEFAULT_SAMPLE_RATE_HZ,
    RENDER_OPTIONS,
    Interrupted,
    LoudnessOption,
    SampleRateOption,
    console,
    fail_as_option,
    parse_duration,
    progress_bar,
    signals_interrupt,
)
from sonora.errors import ParameterError, SceneNotFoundError

if TYPE_CHECKING:
    pass

__all__ = ["render_cmd", "run_render", "usable_cpus"]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _tags(*, title: str, kind: str, name: str, seed: int, loudness: float) -> dict[str, str]:
    from sonora import __version__

    return {
        "title": title,
        "artist": "Sonora",
        "album": f"Sonora {kind}s",
        "comment": f"{kind}={name}; seed={seed}; loudness={loudness:g} LUFS integrated",
        "software": f"Sonora {__version__}",
    }


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
        fail_as_option(exc, RENDER_OPTIONS)
    out = console()
    if s.headphones:
        out.print(
            f"[yellow]This {'plan' if is_plan else 'scene'} needs headphones: "
            "binaural beats do not work over speakers.[/]"
        )
    if cost is not None and cost.over_limit:
        out.print(f"Rendering anyway (--force): {cost.describe()}", markup=False, soft_wrap=True)
    run_render(
        s,
        plan if is_plan else None,
        output,
        seconds=seconds,
        seed=seed,
        loudness=loudness,
        sample_rate=sample_rate,
        check=check,
        seed_given=seed_given,
        out=out,
    )


def run_render(
    s: Any,
    plan: Any,
    output: Path,
    *,
    seconds: float,
    seed: int,
    loudness: float,
    sample_rate: int,
    check: bool = True,
    seed_given: bool = True,
    out: Any = None,
    options: dict[str, str] | None = None,
) -> None:
    """Render a checked scene or plan to ``output`` and report it, as ``sonora render`` does.

    Shared by ``sonora render`` and ``sonora recommend --render``: the same calibration,
    two processes where there are two CPUs, tags, in-stream check (loudness in LUFS,
    true peak in dBTP; decoded for lossy files), and cleanup on SIGINT/SIGTERM/SIGHUP
    (nothing is left behind; exit status 128 + the signal). Arguments are already
    validated by the caller.

    Parameters
    ----------
    s : Scene
        The scene to render (a plan's :meth:`~sonora.plan.models.Plan.to_scene`).
    plan : Plan or None
        The plan, when rendering one (its own mix, layers and automation).
    output : pathlib.Path
        Output file: .flac, .wav, .opus/.ogg or .mp3 (written atomically).
    seconds : float
        Length, s.
    seed : int
        The sound's seed.
    loudness : float
        Target integrated loudness, LUFS.
    sample_rate : int
        Output sample rate, Hz.
    check : bool
        Measure loudness and true peak of what is written.
    seed_given : bool
        Whether the listener chose the seed (otherwise a scene's "same sound again" line).
    out : rich.console.Console, optional
        Where to report (default stdout).
    options : dict, optional
        Field -> the option that sets it, to name in errors (default
        :data:`~sonora.cli.options.RENDER_OPTIONS`, ``sonora render``'s).
    """
    options = RENDER_OPTIONS if options is None else options
    out = console() if out is None else out
    is_plan = plan is not None
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
        fail_as_option(exc, options)
    except OSError as exc:
        fail_as_option(
            ParameterError("output", f"cannot write {str(output)!r}: {exc.strerror or exc}"),
            options,
        )
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
    processes = 2 if usable_cpus() > 1 else 1
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
        if meter is not None and mix.guard is not None:
            # the startle guard K-weights the same samples while it and the limiter
            # leave them unchanged: the meter takes its power instead of filtering again
            meter.share_k_weighting(mix.guard.k_weighting_tap())
        with progress_bar(f"rendering {s.name}", mix.total_frames) as update:
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
