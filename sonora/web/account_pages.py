"""The account pages: the account view, sign-up, log-in, log-out, export and delete.

Plain HTML forms (each with a CSRF token); every page reads the signed-in listener's
data through :class:`~sonora.core.app.Core` with that listener's id.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sonora.accounts.repo import UserRecord
from sonora.core.app import AuthError, Core
from sonora.errors import ParameterError
from sonora.web.deps import (
    CoreDep,
    MaybeUser,
    PageUser,
    clear_session,
    remember_session,
    switch_session,
)
from sonora.web.rendering import export_download, read_form, redirect, render
from sonora.web.security import SESSION_COOKIE

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/account", response_class=HTMLResponse)
async def account(
    request: Request,
    user: PageUser,
    core: CoreDep,
) -> Response:
    profile = await run_in_threadpool(core.profile, user)
    return render(
        request,
        "account.html",
        {
            "profile": profile,
            "error": None,
            "msg": request.query_params.get("msg", ""),
            **await run_in_threadpool(_roles, core, user),
        },
    )


def _roles(core: Core, user: UserRecord) -> dict[str, bool]:
    """Whether ``user`` verifies credentials (admin) and has a therapist profile.

    The account page links to their pages: nothing else in the app points there.
    """
    if user.is_guest:
        return {"is_admin": False, "is_therapist": False}
    svc = core.therapists
    return {"is_admin": svc.is_admin(user), "is_therapist": svc.own_profile(user) is not None}


async def _credentials_submit(
    request: Request,
    user: UserRecord | None,
    core: Core,
    action: Callable[[UserRecord | None, str, str], tuple[UserRecord, str]],
    template: str,
    next_url: str,
) -> Response:
    """Handle a sign-up or log-in form: run ``action`` and switch to the new session.

    Parameters
    ----------
    request : Request
        The form post (email, password, CSRF token).
    user : UserRecord or None
        The listener the browser is signed in as now (an anonymous listener's data
        carries over to the account).
    core : Core
        The application object.
    action : callable
        ``core.sign_up`` or ``core.log_in``: ``(user, email, password) -> (user, token)``.
    template : str
        The form's template, shown again with the error when ``action`` refuses.
    next_url : str
        Where to go once signed in.

    Returns
    -------
    Response
        A redirect carrying the new session cookie, or the form with the error.
    """
    data = await read_form(request, core)
    email = str(data.get("email", ""))
    try:
        _, token = await run_in_threadpool(action, user, email, str(data.get("password", "")))
    except AuthError as exc:
        return render(request, template, {"error": exc, "email": email}, status=exc.status)
    resp = redirect(next_url)
    await switch_session(resp, request, core, token)
    return resp


def _signup_ctx(core: Core, **ctx: object) -> dict[str, object]:
    return {"error": None, "email": "", "confirms": core.settings.signup_confirms, **ctx}


@router.get("/signup", response_class=HTMLResponse)
async def signup_page(request: Request, user: MaybeUser, core: CoreDep) -> Response:
    return render(request, "signup.html", _signup_ctx(core))


@router.post("/signup", response_class=HTMLResponse)
async def signup_submit(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    if not core.settings.signup_confirms:
        return await _credentials_submit(
            request, user, core, core.sign_up, "signup.html", "/account?msg=signed-up"
        )
    data = await read_form(request, core)
    email = str(data.get("email", ""))
    try:
        guest = await run_in_threadpool(
            core.request_sign_up, user, email, str(data.get("password", ""))
        )
    except AuthError as exc:
        ctx = _signup_ctx(core, error=exc, email=email)
        return render(request, "signup.html", ctx, status=exc.status)
    resp = render(request, "signup.html", _signup_ctx(core, sent=True, email=email), status=202)
    if user is None:
        token = await run_in_threadpool(
            core.accounts.issue_token, guest.id, days=core.settings.session_days
        )
        remember_session(resp, request, core, token)
    return resp


@router.get("/signup/confirm/{token}", response_class=HTMLResponse)
async def signup_confirm_page(request: Request, token: str, user: MaybeUser) -> Response:
    return render(request, "signup_confirm.html", {"error": None, "token": token[:1024]})


@router.post("/signup/confirm/{token}", response_class=HTMLResponse)
async def signup_confirm_submit(
    request: Request, token: str, user: MaybeUser, core: CoreDep
) -> Response:
    data = await read_form(request, core)
    try:
        _, session = await run_in_threadpool(
            core.confirm_sign_up, user, token[:1024], str(data.get("password", ""))
        )
    except AuthError as exc:
        ctx = {"error": exc, "token": token[:1024]}
        return render(request, "signup_confirm.html", ctx, status=exc.status)
    resp = redirect("/account?msg=signed-up")
    await switch_session(resp, request, core, session)
    return resp


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, user: MaybeUser) -> Response:
    return render(request, "login.html", {"error": None, "email": ""})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    return await _credentials_submit(request, user, core, core.log_in, "login.html", "/")


@router.post("/logout")
async def logout_submit(
    request: Request,
    user: MaybeUser,
    core: CoreDep,
) -> Response:
    await read_form(request, core)
    await run_in_threadpool(core.log_out, request.cookies.get(SESSION_COOKIE))
    resp = redirect("/?msg=logged-out")
    clear_session(resp, request, core)
    return resp


@router.get("/account/export")
async def export_page(
    request: Request,
    user: PageUser,
    core: CoreDep,
) -> Response:
    return export_download(await run_in_threadpool(core.export, user))


@router.post("/account/delete", response_class=HTMLResponse)
async def delete_submit(
    request: Request,
    user: PageUser,
    core: CoreDep,
) -> Response:
    data = await read_form(request, core)
    if str(data.get("confirm", "")).strip().lower() != "delete":
        profile = await run_in_threadpool(core.profile, user)
        err = ParameterError("confirm", "type delete to confirm")
        roles = await run_in_threadpool(_roles, core, user)
        return render(
            request,
            "account.html",
            {"profile": profile, "error": err, "msg": "", **roles},
            status=422,
        )
    await run_in_threadpool(core.delete_account, user)
    resp = redirect("/?msg=deleted")
    clear_session(resp, request, core)
    return resp
