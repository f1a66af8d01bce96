"""``sonora serve``: run the web app (registered on Sonora's Typer app by ``sonora/cli.py``).

Examples
--------
.. code-block:: console

    $ sonora serve                       # http://127.0.0.1:8000
    $ SONORA_DATABASE_URL=postgresql+psycopg://sonora@db/sonora sonora serve --port 8080
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sonora.cli.options import whole_number_in

__all__ = ["serve_command", "text_log_config"]


def serve_command(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (SONORA_HOST).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            help="Port to listen on, 1 to 65535 (SONORA_PORT).",
            callback=whole_number_in(1, 65535),
        ),
    ] = None,
    reload: Annotated[bool, typer.Option("--reload", help="Restart on code changes.")] = False,
) -> None:
    """Run the Sonora web app (default http://127.0.0.1:8000)."""
    import uvicorn

    from sonora.core.app import Core
    from sonora.settings import Settings
    from sonora.web.app import create_app

    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except Exception as exc:  # pydantic names the setting at fault
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if not reload and not _can_listen(settings.host, settings.port):
        # Said at once: uvicorn would start the whole app first, then take ~20 s to exit.
        typer.echo(
            f"error: port: {settings.host}:{settings.port} is already in use (another Sonora, "
            "or another program); stop it or choose another with --port",
            err=True,
        )
        raise typer.Exit(code=2)
    typer.echo(f"Sonora is listening on http://{settings.host}:{settings.port}  (Ctrl+C to stop)")
    typer.echo(f"Data: {settings.database_url.split('@')[-1]}")
    if reload:
        uvicorn.run(
            "sonora.web.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            reload=True,
            log_level=settings.log_level,
        )
        return
    from sonora.web.app import limit_native_threads

    limit_native_threads(1)
    app = create_app(Core(settings))
    from sonora.core.logs import log_config, log_thread_errors

    log_thread_errors()  # a worker thread's uncaught error: logged with its traceback
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        log_config=(
            log_config(settings.log_level)
            if settings.log_format == "json"
            else text_log_config(settings.log_level)
        ),
    )


def text_log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's own plain log configuration, with Sonora's loggers (``sonora.*``, at
    ``level``) and every other library's warnings and errors on the same stream.

    Without it, only uvicorn's loggers have a handler: Sonora's records (among them the
    tracebacks of :mod:`sonora.web.errors`) would reach stderr through Python's
    last-resort handler alone, without their level, and none below a warning.

    Parameters
    ----------
    level : {"debug", "info", "warning", "error"}
        The level of Sonora's own loggers (``SONORA_LOG_LEVEL``).
    """
    import copy

    from uvicorn.config import LOGGING_CONFIG

    cfg: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    cfg["root"] = {"handlers": ["default"], "level": "WARNING"}
    cfg["loggers"]["sonora"] = {"level": level.upper()}
    return cfg


def _can_listen(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (bound and released at once).

    Parameters
    ----------
    host : str
        The address ``sonora serve`` listens on (IPv4 or IPv6, or a name).
    port : int
        The TCP port.
    """
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return True  # uvicorn reports a bad address in its own words
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(addr)
        except OSError:
            return False
    return True
