"""Command-line options and helpers shared by several subcommands (``render``, ``play``,
``recommend``): the options, duration parsing, verbatim error printing, signals.

Lives below every command-line module and imports only Typer, so ``sonora.cli`` and a
feature's own ``cli`` module (``sonora.cli.recommend``) can both use it without one importing
the other.  The ranges in the help are the ones the renderers check
(:class:`~sonora.errors.ParameterError` names the field when a value is outside them).
"""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from sonora.errors import ParameterError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "DEFAULT_LOUDNESS_LUFS",
    "DEFAULT_SAMPLE_RATE_HZ",
    "MIN_DURATION_S",
    "RENDER_OPTIONS",
    "Interrupted",
    "LoudnessOption",
    "SampleRateOption",
    "as_option",
    "console",
    "fail",
    "fail_as_option",
    "light_help_option",
    "option_error",
    "parse_duration",
    "print_error",
    "progress_bar",
    "signals_interrupt",
    "whole_number_in",
]

DEFAULT_LOUDNESS_LUFS = -23.0
"""EBU R 128's programme loudness, the default target of every render (LUFS)."""

MIN_DURATION_S = 1.0
"""Shortest ``--duration`` a render or play accepts (s); a shorter one would be a click."""

DEFAULT_SAMPLE_RATE_HZ = 48_000
"""Default sample rate of every render (Hz)."""

LoudnessOption = Annotated[
    float,
    typer.Option("--loudness", help="Integrated loudness target, -30 to -14 LUFS."),
]
"""``--loudness``: the integrated loudness target in LUFS (a float)."""

SampleRateOption = Annotated[
    int,
    typer.Option("--sample-rate", help="Sample rate of the render, 22050 to 96000 Hz."),
]
"""``--sample-rate``: the render's sample rate in Hz (an int)."""


def light_help_option(opt: Any) -> None:
    """Give a command's ``--help`` flag (``opt``) a plain bool check instead of Typer's default.

    Typer (0.2x) coerces every parameter through a pydantic ``TypeAdapter``, built on
    first use, and the help flag's unset value (``None``) is coerced on every
    invocation: that alone imports pydantic (~0.2 s of CPU) for ``sonora scenes``.  A
    flag is a bool, so a pass-through check is exact.  Private Typer API, used only
    when present; ``tests/test_cli.py`` checks that ``sonora scenes`` does not import
    pydantic, so a Typer release that changes this is noticed.
    """
    try:
        from typer._coercion import PassThroughRuntimeParam
    except ImportError:  # pragma: no cover - another Typer: its own coercion stays
        return
    info = getattr(opt, "type_descriptor", None)
    if opt is None or info is None or getattr(opt, "_runtime_param", 1) is not None:
        return
    opt._runtime_param = PassThroughRuntimeParam(  # type: ignore[attr-defined]
        parameter_info=info.parameter_info, annotation=bool
    )


_DURATION_RE = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$"
)


def console(*, stderr: bool = False) -> Console:
    """A Rich console on stdout (or stderr); Rich is imported only here."""
    from rich.console import Console

    return Console(stderr=stderr)


def parse_duration(text: str) -> float:
    """Parse ``"30m"``, ``"1h30m"``, ``"90s"``, ``"45"`` (seconds) into seconds.

    Raises
    ------
    ParameterError
        Naming ``duration`` for malformed text, under one second or over 12 hours.
    """
    t = str(text).strip().lower()
    m = _DURATION_RE.match(t)
    if not t or m is None or not any(m.groups()):
        raise ParameterError(
            "duration", f"{text!r} is not a duration; use e.g. 90s, 20m, 1h30m (1s to 12h)"
        )
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = h * 3600 + mi * 60 + s
    if not MIN_DURATION_S <= seconds <= 12 * 3600:
        raise ParameterError("duration", f"{text!r} is out of range: allowed 1s to 12h")
    return seconds


def option_error(exc: ParameterError, option: str) -> typer.BadParameter:
    """A usage error for ``option`` (``--region``) from a :class:`ParameterError`.

    Click already prints ``Invalid value for --region:``; the message is the error's own
    text without its field (``exc.message``), so the option is named once, not twice
    (``Invalid value for --region: region: ...`` read as a stutter).

    >>> str(option_error(ParameterError("region", "expected ENG or SCT, got 'XX'"), "--region"))
    "expected ENG or SCT, got 'XX'"
    """
    return typer.BadParameter(exc.message, param_hint=option)


#: The fields a scene or plan render checks (down to the mixer's ``duration_s`` and the
#: loudness stage's ``target_lufs``), as the options and argument of ``sonora render`` and
#: ``sonora play`` that set them (``scene`` and ``plan`` name the SCENE argument already).
RENDER_OPTIONS: dict[str, str] = {
    "output": "--output",
    "format": "--output",
    "duration": "--duration",
    "duration_s": "--duration",
    "fade_in_s": "--duration",
    "fade_out_s": "--duration",
    "seed": "--seed",
    "loudness": "--loudness",
    "target_lufs": "--loudness",
    "sample_rate": "--sample-rate",
}


def as_option(exc: ParameterError, options: dict[str, str]) -> str:
    """``exc`` as ``--option: message``, naming the option the user typed.

    ``options`` maps a field (its first part: ``loved`` of ``loved[0]``) to the option
    that sets it; a field no option sets keeps its own name.

    >>> as_option(ParameterError("duration_s", "must be at least one frame long"), RENDER_OPTIONS)
    '--duration: must be at least one frame long'
    >>> as_option(ParameterError("layers[0].gain_db", "too loud"), RENDER_OPTIONS)
    'layers[0].gain_db: too loud'
    """
    option = options.get(re.split(r"[\[.]", exc.field, maxsplit=1)[0])
    return f"{option}: {exc.message}" if option else str(exc)


def fail_as_option(exc: Exception, options: dict[str, str]) -> NoReturn:
    """:func:`fail` with a :class:`ParameterError`'s field named as its option."""
    fail(as_option(exc, options) if isinstance(exc, ParameterError) else exc)


def whole_number_in(low: int, high: int, unit: str = "") -> Any:
    """A Typer ``callback`` that accepts a whole number from ``low`` to ``high``.

    Used instead of ``typer.Option(min=..., max=...)``, whose error (pydantic's
    ``Input should be greater than or equal to 0``) gives one bound and not the range.
    ``None`` (an option left unset) passes.

    >>> whole_number_in(0, 366, " days")(30)
    30
    >>> try:
    ...     whole_number_in(0, 366, " days")(-1)
    ... except typer.BadParameter as exc:
    ...     print(exc.message)
    expected a whole number from 0 to 366 days, got -1
    """

    def check(value: int | None) -> int | None:
        if value is not None and not low <= value <= high:
            raise typer.BadParameter(
                f"expected a whole number from {low} to {high}{unit}, got {value}"
            )
        return value

    return check


def print_error(message: object) -> None:
    """Print ``error: MESSAGE`` to stderr, the message verbatim (no markup)."""
    typer.secho("error: ", fg="red", bold=True, err=True, nl=False)
    typer.echo(str(message), err=True)


def fail(exc: object) -> NoReturn:
    """Print ``exc`` as an error (verbatim) and exit with status 2."""
    print_error(exc)
    raise typer.Exit(code=2)


class Interrupted(BaseException):
    """Raised in the main thread when SIGTERM or SIGHUP arrives (like Ctrl+C's
    :class:`KeyboardInterrupt`), so ``finally`` blocks and encoders clean up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` for the duration."""

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    wanted = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    old = {}
    try:
        for s in wanted:
            old[s] = signal.signal(s, handler)
    except ValueError:  # not the main thread (e.g. a test runner's worker): leave them
        old = {}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Any]:
    """A progress bar for ``total`` frames on a terminal (stderr), nothing otherwise.

    Yields ``update(done, total)`` to pass as a renderer's ``progress`` (``None`` when
    stderr is not a terminal).
    """
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
        console=console(stderr=True),
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done, _total: progress.update(task, completed=done)
