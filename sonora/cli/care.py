"""``sonora triage`` and ``sonora evidence``: care from the command line.

The functions here are registered on Sonora's Typer app by ``sonora/cli.py``;
they can also be registered on any Typer app (the tests do that).

Examples
--------
.. code-block:: console

    $ sonora triage "this deadline is killing me"
    $ sonora triage "I can't sleep, it's been months" --country US --json
    $ sonora triage "I can't go on" --country GB --region NIR
    $ sonora evidence --grade moderate
    $ sonora evidence --grade strong,moderate --json
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sonora.care.errors import CareError
from sonora.care.resources import load_resources, region_choices, resolve_country
from sonora.care.triage import TriageResult, triage
from sonora.cli.options import option_error

__all__ = ["evidence_command", "render_result", "triage_command"]


def _how_to_reach(res: dict[str, Any]) -> str:
    parts = []
    if res.get("phone"):
        parts.append(f"call {res['phone']}")
    if res.get("text"):
        text = res["text"]
        parts.append(text[0].lower() + text[1:] if text.lower().startswith("text") else text)
    if res.get("url"):
        parts.append(res["url"])
    return " · ".join(parts)


def _mark(body: Text, res: dict[str, Any]) -> None:
    """Say beside an entry what is still unconfirmed about it."""
    if res.get("check"):
        body.append(f"  (not yet confirmed: {res['check']})", style="dim")


def render_result(result: TriageResult, console: Console) -> None:
    """Print a triage result for a person to read.

    Crisis help comes first and stands out; clinical pointers follow a short,
    respectful message; an everyday result says so in one line.

    Parameters
    ----------
    result : TriageResult
        Output of :func:`sonora.care.triage.triage`.
    console : rich.console.Console
        Where to print.
    """
    if result.level == "crisis":
        body = Text()
        emergency = next((r for r in result.resources if r["kind"] == "emergency"), None)
        numbers = ""
        if emergency is not None:
            numbers = " or ".join(emergency.get("numbers", [emergency["phone"]]))
        first = result.resources[0]["kind"] if result.resources else ""
        emergency_first = emergency is not None and (result.danger_now or first == "emergency")
        if emergency_first:  # danger now: the emergency number comes first
            body.append(f"Emergency: {numbers}\n", style="bold red")
        for r in (r for r in result.resources if r["kind"] == "crisis_line"):
            body.append(f"{r['name']}: ", style="bold")
            body.append(_how_to_reach(r), style="bold")
            _mark(body, r)
            body.append("\n")
        if emergency is not None and not emergency_first:
            body.append(f"Emergency: {numbers}\n", style="bold red")
        for r in result.resources:
            if r["kind"] == "health_line":
                reach = _how_to_reach(r)
                body.append(f"{r['name']}: {r['note']}" + (f" ({reach})" if reach else ""))
                _mark(body, r)
                body.append("\n")
        body.append("\n" + result.message)
        for r in result.resources:
            if r["kind"] == "directory":
                body.append(f"\n{r['note']} {r['url']}", style="dim")
        # The same headings as the page (_care.html): a crisis read by the trained reader
        # alone in a few words is offered "in case it matters", with the same lines.
        title = (
            "Call for help now"
            if result.medical
            else "If you need someone now"
            if result.tentative
            else "Please reach out now"
        )
        console.print(Panel(body, title=title, border_style="red", title_align="left"))
        return
    if result.level == "clinical":
        body = Text(result.message + "\n")
        for r in result.resources:
            if r["kind"] in ("doctor", "health_line"):
                body.append(f"\n• {r['name']}", style="bold")
                reach = _how_to_reach(r)
                body.append(f": {r['note']}" + (f" ({reach})" if reach else ""))
                _mark(body, r)
            elif r["kind"] == "credential_body":
                body.append(f"\n• {r['name']}", style="bold")
                body.append(f": {r['credential']}, {r['url']}")
                _mark(body, r)
            elif r["kind"] == "crisis_line":
                body.append(f"\n\n{r['note']}: {r['name']}, {_how_to_reach(r)}", style="dim")
        console.print(
            Panel(body, title="More support could help", border_style="yellow", title_align="left")
        )
        return
    if result.unread:  # a note Sonora could not read fully: say so and show where help is
        body = Text(result.message + "\n")
        for r in result.resources:
            if r["kind"] in ("crisis_line", "emergency"):
                body.append(f"\n• {r['name']}: ", style="bold")
                body.append(_how_to_reach(r) or " or ".join(r.get("numbers", [])))
        console.print(
            Panel(body, title="Sonora could not read all of this note", title_align="left")
        )
        return
    console.print("Nothing in your note needs more than some calm sound. Enjoy your session.")


def triage_command(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The note to screen, in quotes.")],
    country: Annotated[
        str,
        typer.Option(
            "--country",
            help="Two-letter country code for help resources (GB, IE, US, CA, AU, NZ; "
            "any other code gets international resources).",
        ),
    ] = "GB",
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Region within the country where help differs (GB: ENG, SCT, WLS, NIR; "
            "GB-NIR or the nation's name work too).",
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print the result (level, reasons, resources...) as JSON."),
    ] = False,
) -> None:
    """Screen a note: crisis, clinical or everyday, with help to reach.

    Parameters
    ----------
    text : str
        The listener's note.
    country : str, default "GB"
        ISO 3166-1 alpha-2 code used to choose crisis lines and pointers.
    region : str, optional
        Region within the country (GB: ENG, SCT, WLS, NIR); its lines come first
        and its health line replaces the country's.
    json_output : bool, default False
        Print JSON ``{"level", "reasons", "resources"}`` instead of the
        readable rendering.

    Raises
    ------
    typer.BadParameter
        If the text or country is not accepted (exit code 2, message names
        the field).
    """
    try:
        # the first call loads the sentence model (a fraction of a second)
        with Console(stderr=True).status("Reading your note…"):
            result = triage(text, country=country, region=region)
    except CareError as exc:
        hint = (
            "--region" if exc.field == "region" else "--country" if exc.field == "country" else None
        )
        raise (option_error(exc, hint) if hint else typer.BadParameter(str(exc))) from exc
    if json_output:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    console = Console()
    render_result(result, console)
    choices = region_choices(country)
    if result.level != "everyday" and choices and not region:
        codes = ", ".join(f"{c} ({n})" for c, n in choices)
        name = load_resources()["countries"][resolve_country(country)]["name"]
        console.print(
            f"Help differs within {name}: add --region ({codes}) for the right lines.",
            style="dim",
        )


_GRADE_STYLE = {
    "strong": "bold green",
    "moderate": "bold blue",
    "limited": "bold yellow",
    "insufficient": "dim",
}


def evidence_command(
    grade: Annotated[
        list[str] | None,
        typer.Option(
            "--grade",
            "-g",
            metavar="GRADE",
            help="Only claims of this grade: strong, moderate, limited or insufficient "
            "(repeat the option or separate with commas).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print {grades, claims, sources} as JSON.")
    ] = False,
) -> None:
    """List the claims Sonora makes, with their sources, grades and caveats.

    Parameters
    ----------
    grade : list of str, optional
        Grades to show (default: all).
    json_output : bool, default False
        Print JSON ``{"grades", "claims", "sources"}`` instead of a table.

    Raises
    ------
    typer.BadParameter
        For an unknown grade (exit code 2; the message lists the allowed grades).
    """
    from sonora.care.evidence import load_evidence, parse_grades

    base = load_evidence()
    try:
        grades = parse_grades(grade or [])
    except CareError as exc:
        raise option_error(exc, "--grade") from exc
    if json_output:
        typer.echo(json.dumps(base.to_dict(*grades), ensure_ascii=False, indent=2))
        return
    claims = base.claims_at(*grades)
    title = "What Sonora says, and how sure it is"
    if grades:
        title += f" ({', '.join(grades)})"
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("claim", style="cyan", overflow="fold", max_width=18)
    table.add_column("what Sonora says (and the caveat)", ratio=3)
    table.add_column("grade", no_wrap=True)
    table.add_column("sources", ratio=1)
    for c in claims:
        sentence = Text(c.text)
        if c.caveat:
            sentence.append("\n" + c.caveat, style="dim")
        sources = "\n".join(s.short for s in base.sources_of(c.id))
        table.add_row(c.id, sentence, Text(c.grade, style=_GRADE_STYLE[c.grade]), sources)
    console = Console()
    console.print(table)
    console.print(
        f"{len(claims)} of {len(base.claims)} claims. Full sources: [bold]sonora evidence "
        "--json[/] or the Evidence page in the app."
    )
