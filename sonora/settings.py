"""Every Sonora setting, declared once.

Each field of :class:`Settings` is read from an environment variable named
``SONORA_`` + the field name in upper case (``SONORA_DATABASE_URL``,
``SONORA_PORT``...).  ``docs/app.md`` documents every one of them; a test fails when
a setting is missing from that page.

Examples
--------
>>> s = Settings(data_dir="/tmp/sonora-doc", secret_key="x" * 32)
>>> s.database_url
'sqlite:////tmp/sonora-doc/sonora.db'
>>> s.port
8000
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ENV_PREFIX", "Settings", "get_settings", "parse_rate"]

#: Prefix of every environment variable Sonora reads.
ENV_PREFIX = "SONORA_"
#: Name of the file, inside the data directory, that keeps a generated secret key.
SECRET_KEY_FILE = "secret_key"


_PERIOD_UNITS_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([smhd]?)\s*$")


def parse_rate(text: str) -> tuple[int, float]:
    """Parse a rate limit ``"COUNT/PERIOD"`` into ``(count, period_s)``.

    >>> parse_rate("30/10m"), parse_rate("5/h"), parse_rate("100/60")
    ((30, 600.0), (5, 3600.0), (100, 60.0))

    Raises
    ------
    ValueError
        Saying what is allowed (``COUNT`` 1 to 1 000 000, ``PERIOD`` 1 s to 7 days).
    """
    m = _RATE_RE.match(text or "")
    if m is None:
        raise ValueError(f"{text!r} is not COUNT/PERIOD, e.g. 30/10m (PERIOD in s, m, h or d)")
    count = int(m.group(1))
    period_s = float(m.group(2) or 1.0) * _PERIOD_UNITS_S[m.group(3)]
    if not 1 <= count <= 1_000_000:
        raise ValueError(f"COUNT must be 1 to 1000000, got {count}")
    if not 1.0 <= period_s <= 7 * 86_400.0:
        raise ValueError(f"PERIOD must be 1 s to 7 days, got {period_s:g} s")
    return count, period_s


def _rate_limit(text: str) -> str:
    """A rate-limit setting's value, checked by :func:`parse_rate` and stripped."""
    parse_rate(text)
    return text.strip()


#: A rate-limit setting, ``"COUNT/PERIOD"`` (checked by :func:`parse_rate`).
RateLimit = Annotated[str, AfterValidator(_rate_limit)]


def _limit(default: str, description: str) -> Any:
    """A :data:`RateLimit` field: its default and what it counts."""
    return Field(default=default, description=description)


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("sonora", appauthor=False))


class Settings(BaseSettings):
    """Sonora's settings (environment variables ``SONORA_*``).

    Parameters
    ----------
    data_dir : pathlib.Path
        Folder for the SQLite database and the generated secret key.
    database_url : str
        SQLAlchemy URL.  Empty means SQLite at ``data_dir / "sonora.db"``.
    host, port : str, int
        Where ``sonora serve`` listens.
    secret_key : str
        Signs CSRF tokens.  Empty means: generate one and keep it in
        ``data_dir / "secret_key"``.
    secure_cookies : {"auto", "always", "never"}
        Whether cookies carry the ``Secure`` flag.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", validate_default=True, frozen=True
    )

    # -- where things live ---------------------------------------------------------
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder for the SQLite database and the generated secret key.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy database URL; empty means SQLite in the data folder. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/dbname.",
    )
    migrate_on_start: bool = Field(
        default=True, description="Apply database migrations when the app starts."
    )

    # -- the server ----------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address `sonora serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `sonora serve` listens on.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Server log level."
    )

    # -- accounts and cookies ------------------------------------------------------
    secret_key: str = Field(
        default="",
        description="Key that signs CSRF tokens (and fixes the order of quiet-rest "
        "comparison sessions). Empty: generated once and kept in the data folder "
        "(file `secret_key`, readable by its owner only).",
    )
    secure_cookies: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Add the Secure flag to cookies: `auto` when the request came over "
        "HTTPS (directly or via X-Forwarded-Proto from a trusted proxy), `always`, `never`.",
    )
    session_days: int = Field(
        default=30, ge=1, le=3650, description="Days a sign-in (or a guest cookie) lasts."
    )
    guest_idle_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Guests not seen for this many days are deleted, with everything "
        "of theirs, when the app starts.",
    )
    password_min_length: int = Field(
        default=8, ge=6, le=128, description="Shortest password accepted at sign-up."
    )
    password_hash_memory_kib: int = Field(
        default=65_536,
        ge=64,
        le=4_194_304,
        description="Memory one argon2id password hash uses, KiB (65536 = 64 MiB, argon2-cffi's "
        "recommended profile). Keep the default in production; test suites lower it (with "
        "`password_hash_time_cost`) to save seconds. A hash made with other parameters is "
        "made again at the owner's next log-in.",
    )
    password_hash_time_cost: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Passes argon2id makes over its memory per password hash (3: argon2-cffi's "
        "recommended profile). Keep the default in production.",
    )

    # -- sound ---------------------------------------------------------------------
    sample_rate: int = Field(
        default=48_000, description="Render sample rate, Hz (Ogg Opus is always 48 kHz)."
    )
    target_lufs: float = Field(
        default=-23.0, ge=-30.0, le=-14.0, description="Integrated loudness of a session, LUFS."
    )
    opus_compression: float = Field(
        default=0.8,
        ge=0.0,
        le=1.0,
        description="Ogg Opus encoder setting, 0 (largest) to 1 (smallest); "
        "0.8 is about 110 kbit/s stereo, 0.85 about 85.",
    )
    opus_complexity: int = Field(
        default=5,
        ge=0,
        le=10,
        description="libopus complexity for streams, 0-10: 5 costs ~20 % less CPU per "
        "stream than 10 at the same bitrate (files rendered by the CLI use 10).",
    )
    mp3_compression: float = Field(
        default=0.6, ge=0.0, le=1.0, description="MP3 encoder setting; 0.6 is about 115 kbit/s."
    )
    stream_lead_s: float = Field(
        default=4.0,
        ge=0.5,
        le=60.0,
        description="Seconds of audio a stream renders ahead of real time (sent at once "
        "when it starts); a mixer change is heard within about this long.",
    )
    resume_grace_s: float = Field(
        default=120.0,
        ge=0.0,
        le=3600.0,
        description="Seconds a paused stream's renderer is kept so a dropped connection can "
        "resume without rendering from the start again.",
    )
    max_streams: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Most audio streams rendering at once, and most dropped streams kept "
        "for resuming.",
    )
    calibrate_ahead: bool = Field(
        default=True,
        description="Measure a plan's loudness in the background as soon as it is made "
        "(so listening starts at once); false: only when it is first played.",
    )
    calibration_workers: int = Field(
        default=1,
        ge=1,
        le=32,
        description="Plans whose loudness is measured at once in the background.",
    )
    calibration_processes: bool = Field(
        default_factory=lambda: _usable_cpus() > 1,
        description="Measure loudness in separate worker processes at a lower priority "
        "(streams never wait behind a measurement for the interpreter); the default is "
        "true when the server may use more than one CPU, false (a thread of the server "
        "process) on one.",
    )

    # -- care ----------------------------------------------------------------------
    default_country: str = Field(
        default="GB",
        min_length=2,
        max_length=2,
        description="Country (ISO 3166 alpha-2) whose help lines are shown until a "
        "listener picks their own.",
    )
    triage_notes: bool = Field(
        default=True,
        description="Screen check-in notes for signs that someone needs more than sound.",
    )

    # -- therapists and email -----------------------------------------------------------
    public_url: str = Field(
        default="",
        description="Address people use to reach this server (e.g. https://sonora.example.org); "
        "links in emails start with it. Empty: http://HOST:PORT.",
    )
    mail_from: str = Field(
        default="Sonora <sonora@localhost>",
        max_length=320,
        description="From address of the emails Sonora sends (booking confirmations).",
    )
    smtp_host: str = Field(
        default="",
        description="SMTP server for email. Empty: emails are written as .eml files to "
        "the outbox folder instead (development).",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_user: str = Field(default="", description="SMTP login name (empty: no login).")
    smtp_password: str = Field(default="", description="SMTP password.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="`starttls` (port 587), `tls` (implicit TLS, port 465) or `none` "
        "(a local relay only).",
    )
    outbox_dir: Path | None = Field(
        default=None,
        description="Folder for .eml files when no SMTP server is set. Empty: `<data dir>/outbox`.",
    )
    outbox_interval_s: float = Field(
        default=30.0,
        ge=0.0,
        le=86_400.0,
        description="Seconds between passes of the app's background email sender (new "
        "bookings wake it at once); 0 turns it off (run `sonora outbox send` instead).",
    )
    booking_notice_hours: float = Field(
        default=2.0,
        ge=0.0,
        le=720.0,
        description="A free consult can be booked at least this many hours ahead.",
    )
    booking_horizon_days: int = Field(
        default=28,
        ge=1,
        le=365,
        description="How many days ahead free consults are offered.",
    )

    # -- abuse and load -------------------------------------------------------------
    # Rate limits are "COUNT/PERIOD" (PERIOD: seconds, or a number with s, m, h or d),
    # counted in the database so every server process sees them (sonora.web.limits).
    rate_limits: bool = Field(
        default=True, description="Apply the rate limits below (false: none, e.g. tests)."
    )
    # fmt: off
    limit_signup_per_client: RateLimit = _limit("10/1h", "Sign-ups from one client address (IP) per period.")
    limit_signup_per_email: RateLimit = _limit("5/1d", "Sign-ups for one email address per period (each may send it a mail).")
    limit_guests_per_client: RateLimit = _limit("60/1h", "New guest profiles from one client address per period.")
    limit_login_per_client: RateLimit = _limit("30/10m", "Log-in attempts from one client address per period (any email).")
    limit_checkins_per_account: RateLimit = _limit("30/1h", "Check-ins by one listener per period.")
    limit_checkins_per_client: RateLimit = _limit("120/1h", "Check-ins from one client address per period.")
    limit_bookings_per_client: RateLimit = _limit("10/1h", "Consult bookings from one client address per period.")
    limit_bookings_per_email: RateLimit = _limit("3/1d", "Consult bookings for one email address per period (each sends it a mail).")
    limit_downloads_per_account: RateLimit = _limit("10/1h", "Session downloads by one listener per period.")
    limit_downloads_per_client: RateLimit = _limit("30/1h", "Session downloads from one client address per period.")
    limit_streams_per_account: RateLimit = _limit("60/10m", "Stream starts (and resumes) by one listener per period.")
    limit_streams_per_client: RateLimit = _limit("300/10m", "Stream starts from one client address per period.")
    limit_scans_per_account: RateLimit = _limit("12/1h", "Music library scans one listener may start per period (web and CLI).")
    # fmt: on

    # -- music library (issue 16) ---------------------------------------------------------
    library_roots: str = Field(
        default="",
        description="Folders (separated by the OS path separator, `:` on Linux) inside which "
        "listeners may add music folders. Empty: the music library is off.",
    )
    login_free_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Wrong passwords for one email from one client before log-in backs off.",
    )
    login_max_backoff_s: float = Field(
        default=900.0,
        ge=1.0,
        le=86_400.0,
        description="Longest wait, seconds, between log-in attempts for one email from one "
        "client (the backoff doubles per failure up to this, and never locks others out).",
    )
    max_body_bytes: int = Field(
        default=1_000_000,
        ge=1_024,
        le=1_000_000_000,
        description="Largest request body accepted, bytes (larger: 413 before parsing).",
    )
    signup_confirmation: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Sign-up by emailed link, answering the same whether or not the address "
        "has an account: `auto` when an SMTP server is set, `always`, or `never` (direct "
        "sign-up, which says when an address is taken).",
    )
    signup_confirm_hours: float = Field(
        default=24.0,
        ge=0.25,
        le=720.0,
        description="Hours a sign-up link stays valid.",
    )
    booking_confirmation: bool = Field(
        default=True,
        description="A consult booking holds its slot only once the email address confirms "
        "through the link mailed to it (the only email an unconfirmed address gets).",
    )
    booking_confirm_minutes: float = Field(
        default=30.0,
        ge=5.0,
        le=1440.0,
        description="Minutes a booking's confirmation link stays valid; unconfirmed "
        "bookings lapse.",
    )
    calibration_wait_s: float = Field(
        default=0.0,
        ge=0.0,
        le=60.0,
        description="Most seconds a stream waits for its plan's loudness calibration before "
        "starting at a safe provisional gain (it then glides to the calibrated gain).",
    )
    # -- scale out: job queue (sonora/core/jobs.py, docs/deploy.md) --------------------
    broker_url: str = Field(
        default="",
        description="Job queue broker, e.g. amqp://guest:guest@127.0.0.1:5672// (RabbitMQ, "
        "recommended) or redis://127.0.0.1:6379/0. Empty: jobs run in the web process "
        "(single-process installs); set it and run `sonora worker` on any host.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per log line (for log shippers); `text`: plain.",
    )
    metrics_token: str = Field(
        default="",
        description="Bearer token that lets a non-local client read /metrics (empty: only "
        "clients on the loopback interface may).",
    )
    job_queue: str = Field(
        default="sonora",
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="Broker queue name for Sonora's jobs (one per deployment sharing a broker).",
    )
    job_visibility_timeout_s: float = Field(
        default=600.0,
        ge=10.0,
        le=86_400.0,
        description="Redis broker only: seconds before a job taken by a worker that died is "
        "delivered again (RabbitMQ redelivers when the worker's connection drops).",
    )
    # -- downloads on the job queue (sonora/core/downloads.py) ------------------------
    media_dir: Path | None = Field(
        default=None,
        description="Folder for rendered session downloads. Empty: `<data dir>/media`. "
        "Several hosts: a volume shared by every web process and worker.",
    )
    download_ttl_h: float = Field(
        default=24.0,
        ge=0.1,
        le=720.0,
        description="Hours a rendered download is kept after it is finished; then a "
        "scheduled job removes it (asking again renders it again).",
    )
    download_wait_s: float = Field(
        default=50.0,
        ge=0.0,
        le=600.0,
        description="The old `GET /api/plans/{id}/download` waits this long (without "
        "rendering in the web process) for its render before answering 503 + Retry-After; "
        "keep it under the proxy's read timeout (nginx: 60 s).",
    )
    download_renders_per_account: int = Field(
        default=2,
        ge=1,
        le=50,
        description="Download renders one listener may have waiting or running at once "
        "(renders started per period are limited by `limit_downloads_per_account`).",
    )
    download_threads: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Without a broker (single process): threads of the web process that "
        "render downloads.",
    )

    @field_validator("sample_rate")
    @classmethod
    def _check_rate(cls, v: int) -> int:
        if not 22_050 <= v <= 96_000:
            raise ValueError("allowed 22050 to 96000 Hz")
        return v

    @field_validator("default_country")
    @classmethod
    def _upper(cls, v: str) -> str:
        from sonora.countries import check_country

        return check_country(v, "default_country")

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return Path(os.path.expanduser(str(v)))

    @model_validator(mode="after")
    def _database(self) -> Settings:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'sonora.db'}")
        return self

    @property
    def base_url(self) -> str:
        """``public_url`` without a trailing slash, or ``http://HOST:PORT``."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def signup_confirms(self) -> bool:
        """Whether sign-up goes through an emailed link (``signup_confirmation``)."""
        if self.signup_confirmation == "auto":
            return bool(self.smtp_host)
        return self.signup_confirmation == "always"

    @property
    def outbox_folder(self) -> Path:
        """Where the file email backend writes (``outbox_dir`` or ``data_dir/outbox``)."""
        return self.outbox_dir if self.outbox_dir is not None else self.data_dir / "outbox"

    @property
    def media_folder(self) -> Path:
        """Where rendered downloads live (``media_dir`` or ``data_dir/media``)."""
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"

    @property
    def library_root_paths(self) -> list[str]:
        """``library_roots`` as a list of expanded folders (empty: the library is off)."""
        parts = (p.strip() for p in self.library_roots.split(os.pathsep))
        return [os.path.expanduser(p) for p in parts if p]

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite."""
        return self.database_url.startswith("sqlite")

    def ensure_secret_key(self) -> str:
        """Return the secret key, generating and persisting one if none is set.

        The generated key is written to ``data_dir / "secret_key"`` with mode 0600 (via
        a temporary file renamed into place) and read back on later starts.

        Returns
        -------
        str
            The key.
        """
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / SECRET_KEY_FILE
        if path.exists():
            key = path.read_text().strip()
            if key:
                return key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        os.replace(tmp, path)
        return key

    @classmethod
    def documented_env_vars(cls) -> list[str]:
        """Environment variable names of every setting, e.g. ``SONORA_PORT``."""
        return [ENV_PREFIX + name.upper() for name in cls.model_fields]


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with keyword overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
