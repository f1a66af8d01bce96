"""Templates are compiled once per process, however many apps it builds, and never
served stale: a template whose source changed is compiled again."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from sonora.web import care_pages, pages, therapists_pages
from sonora.web.rendering import _ProcessBytecode, build_templates


def test_a_second_app_reuses_the_compiled_templates() -> None:
    first = build_templates(pages, care_pages, therapists_pages).env
    first.get_template("checkin.html")
    second = build_templates(pages, care_pages, therapists_pages).env

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled again")

    second.compile = no_compiling  # type: ignore[method-assign]
    assert second.get_template("checkin.html").render is not None


def test_a_changed_template_is_compiled_again(tmp_path: Path) -> None:
    cache = _ProcessBytecode()
    page = tmp_path / "page.html"
    page.write_text("one {{ x }}", encoding="utf-8")
    env = Environment(loader=FileSystemLoader(str(tmp_path)), bytecode_cache=cache)
    assert env.get_template("page.html").render(x=1) == "one 1"
    page.write_text("two {{ x }}", encoding="utf-8")
    again = Environment(loader=FileSystemLoader(str(tmp_path)), bytecode_cache=cache)
    assert again.get_template("page.html").render(x=2) == "two 2"
