"""Sign-up that does not reveal which email addresses have an account.

When outgoing mail is configured (``SONORA_SIGNUP_CONFIRMATION=auto`` with an SMTP
server, or ``always``), :func:`request_sign_up` answers the same whatever the address:
it checks the password, hashes it (the same work either way), and mails the address
either a confirmation link (a new address) or a note that it already has an account
(a known one).  Until the link is used nothing is registered: the password's hash
waits on the requester's guest row (no email on it, so it cannot be logged into), and
the link carries the guest's id, the address and an expiry, signed with the server's
secret key, plus a fingerprint of that hash (a newer sign-up from the same guest
voids older links).  :func:`confirm_sign_up` asks for the password again before it
registers, so someone who signs up with another person's address cannot have that
person confirm an account whose password the requester knows.

Without outgoing mail (a laptop: mail is only written to the outbox folder) the
direct sign-up stays (:meth:`sonora.core.app.Core.sign_up`): it says when an address
already has an account, and the sign-up page says so plainly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING

from sonora.accounts.password_rules import password_problem
from sonora.accounts.passwords import normalise_email
from sonora.accounts.repo import EmailTaken, UserRecord
from sonora.core.auth_errors import AuthError
from sonora.store.errors import NotFound

if TYPE_CHECKING:
    from sonora.core.app import Core

__all__ = ["confirm_sign_up", "request_sign_up", "sign_up_link"]

#: What the API and the page say after a sign-up request, whatever the address.
SENT_MESSAGE = (
    "check your email: we sent a link to finish signing up (if the address already has "
    "an account, the email says so instead)"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def _sign(core: Core, payload: bytes) -> str:
    key = hashlib.sha256(b"sonora-signup:" + core.secret_key.encode("utf-8")).digest()
    return _b64(hmac.new(key, payload, hashlib.sha256).digest())


def make_token(core: Core, user_id: str, email: str, password_hash: str) -> str:
    """The signed link token for ``user_id`` becoming ``email``."""
    expires = int(time.time() + core.settings.signup_confirm_hours * 3600)
    body = json.dumps(
        {"u": user_id, "e": email, "x": expires, "h": _fingerprint(password_hash)},
        separators=(",", ":"),
    ).encode("utf-8")
    return f"{_b64(body)}.{_sign(core, body)}"


def read_token(core: Core, token: str) -> dict[str, str | int]:
    """The token's contents (:class:`~sonora.core.app.AuthError` when forged or expired)."""
    bad = AuthError("token", "this sign-up link is not valid; sign up again", 400)
    try:
        body_text, sig = token.split(".", 1)
        body = _unb64(body_text)
    except (ValueError, UnicodeError):
        raise bad from None
    if len(token) > 1024 or not hmac.compare_digest(sig, _sign(core, body)):
        raise bad
    try:
        data = json.loads(body)
    except ValueError:
        raise bad from None
    if not isinstance(data, dict) or not {"u", "e", "x", "h"} <= set(data):
        raise bad
    if int(data["x"]) < time.time():
        hours = core.settings.signup_confirm_hours
        raise AuthError("token", f"this sign-up link expired after {hours:g} hours; sign up again")
    return data


def sign_up_link(core: Core, token: str) -> str:
    """The confirmation page's address."""
    return f"{core.settings.base_url}/signup/confirm/{token}"


def request_sign_up(
    core: Core, current: UserRecord | None, email: str, password: str
) -> UserRecord:
    """Start a sign-up by email; the answer does not depend on whether ``email`` is known.

    Parameters
    ----------
    core : Core
    current : UserRecord or None
        The browser's listener (a guest keeps everything once the link is used).
    email, password : str
        As typed.

    Returns
    -------
    UserRecord
        The guest the sign-up waits on (made now when the browser had none).

    Raises
    ------
    AuthError
        A malformed email or a weak password (the same for every address), or the
        browser is already signed in to an account.
    """
    try:
        email = normalise_email(email)
    except ValueError as exc:
        raise AuthError("email", str(exc)) from None
    problem = password_problem(password, email=email, min_length=core.settings.password_min_length)
    if problem is not None:
        raise AuthError("password", problem)
    if current is not None and not current.is_guest:
        raise AuthError("email", "you are already signed in; log out first", 409)
    guest = current if current is not None else core.accounts.create_user()
    password_hash = core.passwords.hash(password)  # the same work for every address
    svc = core.therapists
    if core.accounts.credentials(email) is not None:
        text = (
            "Hello,\n\nSomeone (perhaps you) asked to make a Sonora account with this email "
            f"address. It already has one: log in at\n{core.settings.base_url}/login\n\n"
            "If it was not you, you can ignore this email: nothing has changed.\n\n— Sonora\n"
        )
        mail = svc._mail("signup_exists", email, "", "You already have a Sonora account", text)
    else:
        core.accounts.set_password_hash(guest.id, password_hash)  # waits on the guest row
        link = sign_up_link(core, make_token(core, guest.id, email, password_hash))
        hours = core.settings.signup_confirm_hours
        text = (
            "Hello,\n\nSomeone (perhaps you) asked to make a Sonora account with this email "
            f"address. To finish, open this link within {hours:g} hours and enter the "
            f"password you chose:\n{link}\n\nIf it was not you, ignore this email: no "
            "account is made and you will not hear from us about it again.\n\n— Sonora\n"
        )
        mail = svc._mail("signup_confirm", email, "", "Confirm your Sonora account", text)
    svc.repo.queue([mail])
    svc._wake()
    return guest


def confirm_sign_up(
    core: Core, current: UserRecord | None, token: str, password: str
) -> tuple[UserRecord, str]:
    """Finish a sign-up from its emailed link; returns the account and a session token.

    Raises
    ------
    AuthError
        ``token`` forged, expired or replaced by a newer sign-up; ``password`` not the
        one chosen (401); ``email`` taken meanwhile (409).
    """
    data = read_token(core, token)
    user_id, email = str(data["u"]), str(data["e"])
    try:
        user = core.accounts.get_user(user_id)
    except NotFound:
        raise AuthError("token", "this sign-up link is not valid any more; sign up again") from None
    stored = core.accounts.password_hash_of(user_id)
    if not user.is_guest or stored is None or _fingerprint(stored) != data["h"]:
        raise AuthError("token", "this sign-up link is not valid any more; sign up again")
    if not core.passwords.verify(stored, password or ""):
        raise AuthError("password", "this is not the password you chose at sign-up", 401)
    try:
        account = core.accounts.register(user_id, email=email, password_hash=stored)
    except EmailTaken:
        raise AuthError("email", "this address has an account now; log in instead", 409) from None
    if current is not None and current.is_guest and current.id != account.id:
        core.accounts.merge_guest(current.id, account.id)
    return account, core.accounts.issue_token(account.id, days=core.settings.session_days)
