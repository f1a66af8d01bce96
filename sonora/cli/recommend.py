"""``sonora recommend``: a session plan for this moment, with its reason.

The function here is registered on Sonora's Typer app by ``sonora/cli.py``; it can
also be registered on any Typer app (the tests do that).

Examples
--------
.. code-block:: console

    $ sonora recommend --goal sleep --tension 7 --minutes 20
    $ sonora recommend --goal focus --energy 3 --minutes 45 --json > plan.json
    $ sonora recommend --goal ease_anxiety --tension 8 --headphones --render calm.opus
    $ sonora render plan.json -o plan.flac      # a saved plan, same seed, same sound
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from sonora.cli.options import (
    DEFAULT_LOUDNESS_LUFS,
    DEFAULT_SAMPLE_RATE_HZ,
    LoudnessOption,
    SampleRateOption,
    as_option,
)
from sonora.errors import ParameterError, SonoraError, check_number

__all__ = ["print_plan", "recommend_command"]

_TRAJECTORY_WORDS = {
    "iso": "meet you where you are, then lead toward calm",
    "u_shape": "ease down, rest, then lift gently so you finish alert",
    "steady": "steady throughout",
    "sleep": "settle and fade for sleep",
    "silence": "quiet rest, no sound",
}


def print_plan(plan, console: Console) -> None:
    """Print a plan for a person to read: title, reason, layers and arc."""
    minutes = plan.duration_s / 60.0
    traj = plan.trajectory
    arc = _TRAJECTORY_WORDS.get(traj.kind, traj.kind)
    if traj.kind == "sleep":
        arc += ", then " + ("fade to silence" if traj.variant == "fade" else "hold very low")
    head = f"{minutes:g} minutes · {arc}"
    if plan.headphones:
        head += " · headphones needed"
    console.print(
        Panel(
            f"{plan.reason}\n\n[dim]{head}[/]",
            title=f"[bold]{plan.title or 'Your plan'}[/]",
            title_align="left",
            border_style="cyan",
        )
    )
    if plan.plan_layers:
        table = Table(show_header=True, header_style="bold")
        for col in ("sound", "source", "level dB", "settings"):
            table.add_column(col)
        for layer in plan.plan_layers:
            settings = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in layer.params.items())
            table.add_row(layer.family, layer.source, f"{layer.gain_db:+.1f}", settings or "-")
        console.print(table)
    # The plan's own sound seed, not the --seed that chose the plan: a plan file keeps it
    # (render the --json file for the same samples); --seed N repeats the plan itself.
    console.print(
        f"[dim]sound seed {plan.seed} (kept in the plan's --json file: same file, same "
        "sound) · a wellness tool, not music therapy[/]"
    )


def _screen_note(note: str, err: Console) -> None:
    """Show help first when a note sounds like more than sound can help with."""
    if not note.strip():
        return
    from sonora.care.triage import triage
    from sonora.cli.care import render_result

    try:
        result = triage(note)
    except Exception as exc:  # the plan still comes; the listener is told the note was not read
        err.print(
            f"The note could not be screened ({type(exc).__name__}). If you need help now, "
            "call your local emergency number or a crisis line.",
            markup=False,
        )
        return
    if result.level != "everyday":
        render_result(result, err)


def _recommend_for(listener: str, checkin: Any) -> Any:
    """The app's plan for a known listener (the application object's planner)."""
    from sonora.core.app import Core
    from sonora.errors import ParameterError
    from sonora.settings import Settings

    core = Core(Settings())
    try:
        if "@" in listener:
            found = core.store.credentials(listener.strip().lower())
            user_id = found[0].id if found else None
        else:
            user_id = listener.strip()
            try:
                core.store.get_user(user_id)
            except LookupError:
                user_id = None
        if user_id is None:
            raise ParameterError("listener", f"no listener {listener!r} in this Sonora's database")
        return core.planner.recommend(user_id, checkin)
    finally:
        core.close()


#: The sound families --love and --dislike take (sonora.plan.recipes.FAMILIES, written
#: out so that --help imports no planner; tests/match/test_match_cli.py keeps them equal).
_FAMILIES = "rain, water, wind, noise, bowls, gong, chimes, drone, melody, breath, binaural"

#: The check-in's and the render's field names, as the options that set them.
_OPTIONS = {
    "tension": "--tension",
    "energy": "--energy",
    "mood": "--mood",
    "goal": "--goal",
    "minutes": "--minutes",
    "place": "--place",
    "local_time": "--time",
    "note": "--note",
    "seed": "--seed",
    "loved": "--love",
    "disliked": "--dislike",
    "sensitivities": "--sensitive",
    "output": "--render",
    "loudness": "--loudness",
    "sample_rate": "--sample-rate",
    "listener": "--listener",
    # what the render path checks, deeper down
    "duration_s": "--minutes",
    "target_lufs": "--loudness",
    "format": "--render",
}


def _as_option(exc: ParameterError) -> str:
    """``exc`` as ``--option: message``, naming the option the listener typed.

    The check-in's fields are named for the app (``local_time``, ``loved[0]``); on the
    command line the option (``--time``, ``--love``) is the name that helps.

    >>> _as_option(ParameterError("loved[0]", "'jazz' is not allowed"))
    "--love: 'jazz' is not allowed"
    >>> _as_option(ParameterError("layers[0].gain_db", "too loud"))
    'layers[0].gain_db: too loud'
    """
    return as_option(exc, _OPTIONS)


def recommend_command(
    goal: Annotated[
        str,
        typer.Option("--goal", help="What the session is for: sleep, unwind, ease_anxiety, focus."),
    ] = "unwind",
    tension: Annotated[
        float | None, typer.Option("--tension", help="How tense you are now, 0 to 10.")
    ] = None,
    energy: Annotated[
        float | None, typer.Option("--energy", help="How alert / energetic, 0 to 10.")
    ] = None,
    mood: Annotated[float | None, typer.Option("--mood", help="Your mood, 0 (low) to 10.")] = None,
    minutes: Annotated[
        str, typer.Option("--minutes", help="Time you have: 5 to 720 minutes, or 'all-night'.")
    ] = "20",
    headphones: Annotated[
        bool, typer.Option("--headphones/--speaker", help="Listening on headphones?")
    ] = False,
    place: Annotated[
        str, typer.Option("--place", help="Where you are: in_bed, sitting, on_the_move.")
    ] = "sitting",
    time: Annotated[
        str | None, typer.Option("--time", help="Local time HH:MM (default: now).")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Anything you'd like to add.")] = "",
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Same seed, same plan and sound (default: a fresh seed, printed)."
        ),
    ] = None,
    love: Annotated[
        list[str] | None,
        typer.Option(
            "--love", metavar="FAMILY", help=f"A sound family you love (repeatable): {_FAMILIES}."
        ),
    ] = None,
    dislike: Annotated[
        list[str] | None,
        typer.Option(
            "--dislike",
            metavar="FAMILY",
            help="A sound family never to play (repeatable), as for --love.",
        ),
    ] = None,
    sensitive: Annotated[
        list[str] | None,
        typer.Option(
            "--sensitive",
            metavar="KIND",
            help="high_pitch, water or tonal (repeatable).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the plan as JSON (render it with sonora render).")
    ] = False,
    render: Annotated[
        Path | None,
        typer.Option("--render", help="Also render the plan: .flac, .wav, .opus/.ogg or .mp3."),
    ] = None,
    loudness: LoudnessOption = DEFAULT_LOUDNESS_LUFS,
    sample_rate: SampleRateOption = DEFAULT_SAMPLE_RATE_HZ,
    listener: Annotated[
        str,
        typer.Option(
            "--listener",
            metavar="EMAIL_OR_ID",
            help="A listener of this Sonora (account email or id): plan with what the app "
            "has learnt about them and their saved preferences.",
        ),
    ] = "",
) -> None:
    """Make a session plan for this moment and explain the choice in plain words."""
    from sonora.match import Matcher
    from sonora.plan import CheckIn

    out = Console()
    err = Console(stderr=True)
    fresh_seed: int | None = None  # said once every option is checked, not above an error
    try:
        checkin = CheckIn(
            tension=tension,
            energy=energy,
            mood=mood,
            goal=goal,
            minutes=minutes,
            place=place,
            output="headphones" if headphones else "speaker",
            local_time=time if time is not None else dt.datetime.now().strftime("%H:%M"),
            note=note,
        )
        if listener:
            plan = _recommend_for(listener, checkin)
        else:
            if seed is not None and not 0 <= seed < 2**63:
                raise ParameterError("seed", f"expected a whole number in [0, 2^63), got {seed}")
            drawn = seed is None
            if seed is None:  # a fresh plan each time; the same one is --seed N away
                seed = secrets.randbelow(1_000_000)
            matcher = Matcher(seed=seed)
            matcher.onboard(
                "cli",
                {"loved": love or [], "disliked": dislike or [], "sensitivities": sensitive or []},
            )
            plan = matcher.recommend("cli", checkin)
            if drawn and not json_output:  # a plan file keeps its own seed
                fresh_seed = seed
        # --loudness and --sample-rate are checked even without --render: a value out
        # of range is a mistake the listener should hear about, not one silently ignored
        from sonora.engine.base import check_sample_rate
        from sonora.engine.loudness import MAX_TARGET_LUFS, MIN_TARGET_LUFS

        check_sample_rate(sample_rate)
        check_number("loudness", loudness, low=MIN_TARGET_LUFS, high=MAX_TARGET_LUFS, unit=" LUFS")
        if render is not None:
            from sonora.engine.encoders import format_for

            format_for(render)
    except ParameterError as exc:
        from rich.markup import escape

        err.print(f"[bold red]error:[/] {escape(_as_option(exc))}", highlight=False)
        raise typer.Exit(code=2) from None
    except SonoraError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from None
    if fresh_seed is not None:
        err.print(f"Same plan again: add --seed {fresh_seed}", markup=False, soft_wrap=True)
    _screen_note(note, err)
    if json_output:
        typer.echo(plan.to_json())
    else:
        print_plan(plan, out)
    if render is None:
        return
    if plan.quiet_rest:
        err.print("[yellow]This is a quiet-rest session: there is nothing to render.[/]")
        raise typer.Exit(code=1)
    from sonora.cli.render import run_render

    # the same render as `sonora render plan.json`: check, tags, cleanup on a signal
    msg = Console(stderr=True) if json_output else out
    run_render(
        plan.to_scene(),
        plan,
        render,
        seconds=plan.duration_s,
        seed=plan.seed,
        loudness=loudness,
        sample_rate=sample_rate,
        out=msg,
        options=_OPTIONS,
    )
