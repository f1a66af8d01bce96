"""What the browser tests share: a real server on loopback and the checks every page gets.

Imported as ``e2ekit`` (``tests`` is on pytest's ``pythonpath``); the browser itself and
the screenshot folder are fixtures in ``tests/web/e2e/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from therapistkit import LEEDS_PROFILE

from sonora.settings import Settings
from sonora.web.testing import RunningServer, running_server

#: A verified therapist's profile the browser tests create (fictional).
THERAPIST_PROFILE = {**LEEDS_PROFILE, "bio": "I work with adults who find it hard to rest."}

#: The controls every page must label (``audio`` too where a page has a player).
CONTROLS = "input:not([type=hidden]), select, textarea, button"

_UNLABELLED = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(el => !el.closest('[hidden]'))
  .filter(el => !((el.labels && el.labels.length) || el.getAttribute('aria-label')
                  || (el.tagName === 'BUTTON' && el.textContent.trim())))
  .map(el => el.outerHTML.slice(0, 80))"""


@contextmanager
def e2e_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, **settings: Any
) -> Iterator[RunningServer]:
    """A real server (uvicorn on a free loopback port) over a fresh SQLite database.

    Parameters
    ----------
    tmp_path_factory : pytest.TempPathFactory
        Where the data folder is made.
    name : str
        Names the data folder and the secret key (one server per test module).
    **settings
        Further :class:`~sonora.settings.Settings` (``triage_notes``, ``stream_lead_s``...).
    """
    tmp = tmp_path_factory.mktemp(name)
    with running_server(
        Settings(
            data_dir=tmp,
            database_url=f"sqlite:///{tmp / 'e2e.db'}",
            secret_key=f"{name}-secret-" + "k" * 32,
            **settings,
        )
    ) as server:
        yield server


def unlabelled(page: Any, *, controls: str = CONTROLS) -> list[str]:
    """The visible controls of ``page`` with no label, ``aria-label`` or button text."""
    return page.evaluate(_UNLABELLED, controls)


def watch(page: Any, server: RunningServer) -> tuple[list[str], list[str]]:
    """Lists that fill with the page's errors and with requests that leave the server."""
    errors: list[str] = []
    external: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on(
        "request", lambda r: external.append(r.url) if not r.url.startswith(server.url) else None
    )
    return errors, external
