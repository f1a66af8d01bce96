"""The installable web app: manifest, service worker and the "Kept for offline" page.

* ``/manifest.webmanifest``: name, colours, ``display: standalone`` and the icons
  (an SVG plus 192/512 px PNGs and a maskable 512 px PNG, made from ``icon.svg``).
* ``/sw.js``: the service worker, served from the root so its scope is the whole
  site.  It caches the app shell (CSS, scripts, icons, the offline pages), answers
  navigations from the network with the cache as a fallback, and plays sessions the
  listener kept for offline from Cache Storage (see ``static/offline.js``).
* ``/kept``: the sessions kept on this device (size shown, removable); it is built
  in the browser from Cache Storage, so it works with the network cut.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sonora.web.rendering import WEB_DIR

__all__ = ["APP_SHELL", "CACHE_VERSION", "manifest", "router", "service_worker_script"]

router = APIRouter(include_in_schema=False)

#: Bump when the app shell changes so installed copies fetch the new one.
CACHE_VERSION = "sonora-shell-v6"
#: What the service worker caches on install (served without a listener's data).
APP_SHELL = (
    "/kept",
    "/static/sonora.css",
    "/static/theme.js",
    "/static/fade.js",
    "/static/player.js",
    "/static/offline.js",
    "/static/forms.js",
    "/static/tz.js",
    "/static/localtime.js",
    "/static/icon.svg",
    "/static/icons/icon-192.png",
    "/static/icons/icon-512.png",
    "/static/icons/maskable-512.png",
    "/manifest.webmanifest",
)
THEME_COLOUR = "#2f6f73"
BACKGROUND_COLOUR = "#f6f4ef"


def manifest() -> dict[str, Any]:
    """The web app manifest (W3C Web Application Manifest)."""
    return {
        "id": "/",
        "name": "Sonora — calm sound for this moment",
        "short_name": "Sonora",
        "description": (
            "Calming sound composed for you: check in, listen, and see how you felt "
            "before and after. A wellness tool, not music therapy."
        ),
        "lang": "en",
        "start_url": "/?source=app",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": BACKGROUND_COLOUR,
        "theme_color": THEME_COLOUR,
        "categories": ["health", "lifestyle", "music"],
        "icons": [
            {"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"},
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {
                "src": "/static/icons/maskable-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
        "shortcuts": [
            {"name": "Check in", "url": "/checkin"},
            {"name": "Kept for offline", "url": "/kept"},
        ],
    }


@router.get("/manifest.webmanifest")
def manifest_route() -> Response:
    return JSONResponse(
        manifest(),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@functools.cache
def service_worker_script() -> str:
    """``static/sw.js`` with :data:`CACHE_VERSION` and :data:`APP_SHELL` filled in (one
    list of the shell, here)."""
    text = (WEB_DIR / "static" / "sw.js").read_text(encoding="utf-8")
    shell = json.dumps(list(APP_SHELL), indent=2)
    return text.replace("__CACHE_VERSION__", CACHE_VERSION).replace("[/* APP_SHELL */]", shell)


@router.get("/sw.js")
def service_worker() -> Response:
    resp = Response(service_worker_script(), media_type="text/javascript")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


@router.get("/kept", response_class=HTMLResponse)
async def kept(request: Request) -> Response:
    from sonora.web.rendering import render

    # No listener data on this page: it is cached by the service worker and filled in
    # the browser from Cache Storage.
    request.state.sonora_user = None
    resp = render(request, "kept.html", {"offline_shell": True})
    resp.headers["Cache-Control"] = "no-cache"
    return resp
