"""Passwords (argon2id), sign-in cookies, and CSRF protection.

CSRF, in two parts:

* **Forms** carry a ``csrf_token`` field: an HMAC (with the secret key) of a random
  value kept in the ``sonora_csrf`` cookie (HttpOnly, SameSite=Strict).  A site that
  cannot read our cookies cannot forge the field.
* **JSON API** calls must send ``Content-Type: application/json`` (or use PUT, PATCH,
  DELETE): a browser only sends those cross-site after a CORS preflight, which Sonora
  never grants.  A request whose ``Origin`` names another site is refused outright.

Cookies are HttpOnly and SameSite=Lax (the CSRF cookie Strict), and Secure when the
request came over HTTPS (``SONORA_SECURE_COOKIES=auto``) or always/never as set.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

from sonora.accounts.passwords import Passwords, normalise_email
from sonora.settings import Settings

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "Passwords",
    "check_origin",
    "csrf_token_for",
    "normalise_email",
    "require_csrf_form",
    "set_cookie",
]

SESSION_COOKIE = "sonora_session"
CSRF_COOKIE = "sonora_csrf"
_SAFE = {"GET", "HEAD", "OPTIONS"}


def is_https(request: Request) -> bool:
    """The request reached us over HTTPS (uvicorn applies trusted X-Forwarded-Proto)."""
    return request.url.scheme == "https"


def secure_flag(request: Request, settings: Settings) -> bool:
    """Whether cookies get the Secure flag for this request."""
    if settings.secure_cookies == "always":
        return True
    if settings.secure_cookies == "never":
        return False
    return is_https(request)


def set_cookie(
    response: Response,
    request: Request,
    settings: Settings,
    name: str,
    value: str,
    *,
    max_age: int,
    samesite: str = "lax",
) -> None:
    """Set a cookie with Sonora's flags (HttpOnly, SameSite, Secure as configured)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
        secure=secure_flag(request, settings),
    )


def csrf_token_for(secret: str, cookie_value: str) -> str:
    """The form token that goes with a CSRF cookie value."""
    mac = hmac.new(secret.encode(), b"csrf:" + cookie_value.encode(), hashlib.sha256)
    return mac.hexdigest()


def new_csrf_cookie() -> str:
    """A fresh random value for the CSRF cookie."""
    return secrets.token_urlsafe(24)


def check_origin(request: Request) -> None:
    """Refuse an unsafe request whose Origin (or Referer) is another site."""
    if request.method in _SAFE:
        return
    origin = request.headers.get("origin")
    if origin is None:  # not sent by a browser for this request, or same-origin GET
        return
    host = request.headers.get("host", "")
    if origin == "null" or urlsplit(origin).netloc != host:
        raise HTTPException(status_code=403, detail="csrf: cross-site request refused")


def require_csrf_form(request: Request, token: str | None, secret: str) -> None:
    """Check a form's ``csrf_token`` against the CSRF cookie (403 naming the field)."""
    check_origin(request)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not token or not hmac.compare_digest(csrf_token_for(secret, cookie), token):
        raise HTTPException(
            status_code=403,
            detail="csrf_token: missing or invalid; reload the page and try again",
        )


def require_json_or_token(request: Request, secret: str) -> None:
    """CSRF rule for the JSON API (see the module docstring)."""
    if request.method in _SAFE:
        return
    check_origin(request)
    if request.method in ("PUT", "PATCH", "DELETE"):
        return
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        return
    header = request.headers.get("x-csrf-token")
    cookie = request.cookies.get(CSRF_COOKIE)
    if header and cookie and hmac.compare_digest(csrf_token_for(secret, cookie), header):
        return
    raise HTTPException(
        status_code=403,
        detail="csrf: send Content-Type: application/json (or an X-CSRF-Token header)",
    )
