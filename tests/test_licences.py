"""No GPL in what a default install brings: Sonora is MIT (house rule "no GPL dependencies").

Walks the closure of Sonora's *default* requirements (``Requires-Dist`` entries without
an ``extra`` marker, and theirs, as installed: what ``pip install sonora`` brings from
PyPI) and reads each distribution's declared licence from its installed metadata:
``License-Expression`` (SPDX) when present, else the ``License ::`` classifiers, else
the first line of the free-text ``License`` field.

* GPL and AGPL (any version) fail: their copyleft would reach a redistributed build of
  Sonora with its dependencies.
* LGPL is allowed: it lets programs under any licence import the library as long as a
  user can swap in another build of it, which a separately installed Python package
  always allows; Sonora copies no LGPL code.  (None is in the closure today.)
* ``GPL-... WITH GCC-exception`` (the GCC runtime, bundled in scipy's wheels and named
  in its licence text) is allowed: the exception exists precisely so that non-GPL
  programs may use it.  Only declared licences are judged, not the texts of libraries
  a wheel bundles, which is why the free-text field counts only by its first line.
"""

from __future__ import annotations

import importlib.metadata as md
import re

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

_LESSER = re.compile(
    r"\bLGPL[\w.+-]*|GNU (?:Library or )?Lesser General Public License[^,;)]*"
    r"|GNU Library General Public License[^,;)]*",
    re.IGNORECASE,
)
_RUNTIME_EXCEPTION = re.compile(r"\S*GPL\S*\s+WITH\s+GCC-exception-[\d.]+", re.IGNORECASE)
_GPL = re.compile(r"\bA?GPL|GNU (?:Affero )?General Public License", re.IGNORECASE)


def is_gpl(licence: str) -> bool:
    """Whether a declared licence is GPL or AGPL (LGPL and the GCC runtime are not)."""
    text = _RUNTIME_EXCEPTION.sub("", _LESSER.sub("", licence))
    return bool(_GPL.search(text))


def declared_licence(dist: md.Distribution) -> str:
    """The licence a distribution declares (see the module docstring for the order)."""
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    classifiers = [
        c.split("::", 1)[1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    if classifiers:
        return "; ".join(classifiers)
    text = (meta.get("License") or "").strip()
    return text.splitlines()[0] if text else ""


def _default_requirements(dist: md.Distribution) -> list[str]:
    env = {**default_environment(), "extra": ""}
    names = []
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            names.append(req.name)
    return names


def default_closure() -> dict[str, md.Distribution]:
    """Installed distributions a default install of Sonora pulls in, by normalised name."""
    seen: dict[str, md.Distribution] = {}
    todo = _default_requirements(md.distribution("sonora"))
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        dist = md.distribution(name)  # PackageNotFoundError: the venv is incomplete
        seen[key] = dist
        todo.extend(_default_requirements(dist))
    return seen


@pytest.mark.parametrize(
    ("licence", "gpl"),
    [
        ("GPL-3.0", True),  # pedalboard's declaration
        ("GNU General Public License v3 (GPLv3)", True),
        ("AGPL-3.0-or-later", True),
        ("GNU Affero General Public License v3", True),
        ("MIT OR GPL-2.0-or-later", True),  # a GPL option is still flagged: judge by hand
        ("LGPL-2.1-or-later", False),
        ("GNU Lesser General Public License v3 (LGPLv3)", False),
        ("GNU Library or Lesser General Public License (LGPL)", False),
        ("GPL-3.0-or-later WITH GCC-exception-3.1", False),
        ("BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0", False),
        ("PSF-2.0", False),
    ],
)
def test_the_licence_check_reads_declarations(licence: str, gpl: bool) -> None:
    assert is_gpl(licence) is gpl


def test_no_default_dependency_is_gpl() -> None:
    closure = default_closure()
    assert {"numpy", "scipy", "soundfile"} <= set(closure)  # the walk found the engine's
    assert "pedalboard" not in closure
    gpl = {name: declared_licence(d) for name, d in closure.items() if is_gpl(declared_licence(d))}
    assert not gpl, f"GPL/AGPL in Sonora's default dependencies: {gpl}"
    undeclared = sorted(name for name, d in closure.items() if not declared_licence(d))
    assert not undeclared, f"no declared licence (check by hand): {undeclared}"
