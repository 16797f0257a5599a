"""Settings from the environment, a ``.env`` file, or a TOML file (``DUBAN_CONFIG``).

Precedence: environment, then ``.env`` in the working directory, then the TOML file, then the
defaults. :class:`Settings` is a frozen pydantic-settings model; :func:`load_settings` is the only
way the environment and the files are read, and it reports every bad value as a localized
:class:`~bot.core.i18n.DubanError`, never as a pydantic ``ValidationError``.

The bot token is a :class:`~pydantic.SecretStr` from the moment it is read, so it never lands in a
``repr``, a validation error or a log line; :attr:`Settings.telegram_bot_token` gives the plain
text to the code that must send it to Telegram.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.core.clock import DEFAULT_TIMEZONE
from bot.core.i18n import DEFAULT_LOCALE, N_, DubanError, normalize_locale
from bot.core.uploads import DEFAULT_MAX_UPLOAD_MB, MB
from models.db import DEFAULT_DATABASE_URL

Mode = Literal["production", "sandbox", "test"]
MODES: tuple[str, ...] = get_args(Mode)

# Field -> (name in the environment and in .env, key in the TOML file). The names are fixed
# rather than derived from the field names (DATABASE_URL but DUBAN_ORG), so that an unrelated
# variable such as MODE or ORG is never read as a setting.
NAMES: dict[str, tuple[str, str]] = {
    "bot_token": ("TELEGRAM_BOT_TOKEN", "telegram_bot_token"),
    "telegram_api_base_url": ("TELEGRAM_API_BASE_URL", "telegram_api_base_url"),
    "database_url": ("DATABASE_URL", "database_url"),
    "org": ("DUBAN_ORG", "org"),
    "catalog": ("DUBAN_CATALOG", "catalog"),
    "coordinators": ("DUBAN_COORDINATORS", "coordinators"),
    "timezone": ("DUBAN_TIMEZONE", "timezone"),
    "locale": ("DUBAN_LOCALE", "locale"),
    "mode": ("DUBAN_MODE", "mode"),
    "clock_file": ("DUBAN_CLOCK_FILE", "clock_file"),
    "holidays": ("DUBAN_HOLIDAYS", "holidays"),
    "evidence_dir": ("DUBAN_EVIDENCE_DIR", "evidence_dir"),
    "max_upload_mb": ("DUBAN_MAX_UPLOAD_MB", "max_upload_mb"),
    "monitor_port": ("DUBAN_MONITOR_PORT", "monitor_port"),
    "monitor_listen": ("DUBAN_MONITOR_LISTEN", "monitor_listen"),
    "monitor_sweep_intervals": ("DUBAN_MONITOR_SWEEP_INTERVALS", "monitor_sweep_intervals"),
}
CONFIG_VARIABLE = "DUBAN_CONFIG"
#: Where ``/healthz`` and ``/metrics`` are served in production unless DUBAN_MONITOR_PORT says
#: otherwise; in the sandbox and tests the endpoint is off unless a port is given.
DEFAULT_MONITOR_PORT = 9470
MAX_UPLOAD_MB_LIMIT = 2000  # what a local Bot API server lets a bot download
_OFF = ("off", "none", "no", "false")

# The error type of a validation problem that carries a DubanError (message id and parameters).
_PROBLEM = "duban_setting"


def _problem(message: str, **params: Any) -> PydanticCustomError:
    """A validation error that :func:`load_settings` turns back into ``DubanError(message)``.

    The template is the English message, so a ``ValidationError`` from ``Settings(...)`` in code
    reads the same; the message id travels in the context under ``message_id``.
    """
    return PydanticCustomError(_PROBLEM, message, {**params, "message_id": message})


# An IPv4 or IPv6 address or a host name (what aiohttp's TCPSite takes).
_LISTEN = re.compile(r"[0-9A-Za-z.:\[\]%_-]{1,253}")


def _whole(value: object) -> int | None:
    """A whole number given as an int or as text ("20"); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    # isascii: str.isdigit() also accepts "²", which int() refuses.
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _blank_is_none(value: object) -> object:
    # ``DUBAN_ORG=`` in .env (or ``org = ""`` in TOML) means "none", as it did before.
    return None if value == "" else value


class Settings(BaseSettings):
    """The bot's settings; immutable. Build it with :func:`load_settings`.

    ``Settings(...)`` with keyword arguments (tests, benches) uses those and the defaults only:
    it never reads the process environment or a file.
    """

    # frozen: settings are shared by every part of the bot; extra="forbid": a misspelt keyword
    # argument is an error, as it was for the dataclass this replaces.
    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=True)

    # Given as telegram_bot_token= (keyword, TOML key) or bot_token= (the field's own name, which
    # is what dataclasses.replace passes back).
    bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("telegram_bot_token", "bot_token"))
    telegram_api_base_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    org: Path | None = None
    catalog: Path | None = None
    coordinators: tuple[int, ...] = ()
    timezone: str = DEFAULT_TIMEZONE
    locale: str = DEFAULT_LOCALE
    mode: Mode = "production"
    clock_file: Path | None = None  # simulated time (sandbox and tests only)
    holidays: Path | None = None  # local additions to China's holiday calendar
    #: Where evidence photos and documents are kept (bot.services.evidence); by default a
    #: folder ``evidence`` beside the SQLite database, or ``./evidence`` for PostgreSQL.
    evidence_dir: Path | None = None
    #: The largest file people may send (evidence, case files), in MB; Telegram lets a bot
    #: download 20 MB, a local Bot API server more.
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    #: The port of the health and metrics endpoint (bot.services.monitor); None: off; 0: any
    #: free port. Not given: DEFAULT_MONITOR_PORT in production, off in the sandbox and tests.
    monitor_port: int | None = None
    monitor_listen: str = "127.0.0.1"
    #: How many sweep intervals may pass without a successful sweep before /healthz says 503.
    monitor_sweep_intervals: int = 3

    @property
    def telegram_bot_token(self) -> str | None:
        """The bot token as plain text, for the Telegram client and the log redactor."""
        return None if self.bot_token is None else self.bot_token.get_secret_value()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def evidence_path(self) -> Path:
        """The evidence store's folder: ``evidence_dir``, else beside the database."""
        if self.evidence_dir is not None:
            return self.evidence_dir
        return default_evidence_dir(self.database_url)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * MB

    def but(self, **changes: Any) -> Settings:
        """A copy with ``changes``, checked again like any other settings (unlike
        ``model_copy(update=...)``, which would not validate)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return Settings(**{**values, **changes})

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token(cls, value: object) -> object:
        if isinstance(value, SecretStr) and not value.get_secret_value():
            return None
        return _blank_is_none(value)

    @field_validator("telegram_api_base_url", "org", "catalog", "clock_file", "holidays",
                     "evidence_dir", mode="before")
    @classmethod
    def _optional(cls, value: object) -> object:
        return _blank_is_none(value)

    @field_validator("max_upload_mb", mode="before")
    @classmethod
    def _max_upload_mb(cls, value: object) -> int:
        number = _whole(value)
        if number is None or not 1 <= number <= MAX_UPLOAD_MB_LIMIT:
            raise _problem(N_("DUBAN_MAX_UPLOAD_MB must be a whole number of megabytes from 1 "
                              "to {limit}; got {value}."), limit=MAX_UPLOAD_MB_LIMIT,
                           value=str(value))
        return number

    @field_validator("monitor_port", mode="before")
    @classmethod
    def _monitor_port(cls, value: object) -> int | None:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", *_OFF)):
            return None
        number = _whole(value)
        if number is None or not 0 <= number <= 65535:
            raise _problem(N_("DUBAN_MONITOR_PORT must be a port number (1 to 65535), 0 for any "
                              "free port, or off; got {value}."), value=str(value))
        return number

    @field_validator("monitor_listen", mode="before")
    @classmethod
    def _monitor_listen(cls, value: object) -> str:
        text = str(value).strip() if value is not None else ""
        if not _LISTEN.fullmatch(text):
            raise _problem(N_("DUBAN_MONITOR_LISTEN must be an IP address or a host name, such "
                              "as 127.0.0.1; got {value}."), value=str(value))
        return text

    @field_validator("monitor_sweep_intervals", mode="before")
    @classmethod
    def _monitor_sweep_intervals(cls, value: object) -> int:
        number = _whole(value)
        if number is None or not 1 <= number <= 1000:
            raise _problem(N_("DUBAN_MONITOR_SWEEP_INTERVALS must be a whole number from 1 to "
                              "1000; got {value}."), value=str(value))
        return number

    @model_validator(mode="before")
    @classmethod
    def _monitor_default(cls, data: Any) -> Any:
        """The endpoint listens by default in production only: a sandbox or a test run beside
        a production bot never takes its port."""
        if isinstance(data, dict) and "monitor_port" not in data:
            production = data.get("mode", "production") == "production"
            return {**data, "monitor_port": DEFAULT_MONITOR_PORT if production else None}
        return data

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: object) -> object:
        return DEFAULT_DATABASE_URL if value == "" else value

    @field_validator("coordinators", mode="before")
    @classmethod
    def _coordinators(cls, value: object) -> tuple[int, ...]:
        """Accept ``"1,2"`` or ``"1;2"`` (environment), a list or a single number (TOML)."""
        if isinstance(value, str):
            items: list[object] = list(value.replace(";", ",").split(","))
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            items = [value]
        ids: list[int] = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            # isascii: str.isdigit() also accepts "²", which int() refuses.
            if not (text.isascii() and text.isdigit()):
                raise _problem(N_("DUBAN_COORDINATORS must list Telegram user ids, "
                                  "separated by commas; got {value}."), value=text)
            ids.append(int(text))
        return tuple(ids)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        # OSError: ZoneInfo("Asia") finds a directory, not a zone.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise _problem(N_("Unknown time zone {value}."), value=value) from None
        return value

    @field_validator("locale", mode="before")
    @classmethod
    def _locale(cls, value: object) -> str:
        return normalize_locale(None if value is None else str(value))

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        # Checked here, before the Literal, so the error is ours and names the choices.
        if value not in MODES:
            raise _problem(N_("DUBAN_MODE must be one of {modes}; got {value}."),
                           modes=", ".join(MODES), value=str(value))
        return value

    @model_validator(mode="after")
    def _simulated_time_not_in_production(self) -> Settings:
        if self.clock_file is not None and self.mode == "production":
            raise _problem(N_("DUBAN_CLOCK_FILE (simulated time) is only for the sandbox and "
                              "tests; it is refused in production mode."))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The keyword arguments, then (inside :func:`load_settings` only) the environment,
        ``.env`` and the TOML file, highest priority first.

        pydantic-settings' own env and dotenv sources are not used: they read ``os.environ`` and
        derive names from the fields, while load_settings is given its mapping and its directory.
        """
        origin = _LOADING.get()
        if origin is None:
            return (init_settings,)
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            _TextSource(settings_cls, origin.environ, skip_empty=True),
            _TextSource(settings_cls, _read_dotenv(origin.cwd / ".env")),
        ]
        config = origin.environ.get(CONFIG_VARIABLE)
        if config:
            sources.append(_TomlSource(settings_cls, config))
        return tuple(sources)


def default_evidence_dir(database_url: str) -> Path:
    """``evidence`` beside a SQLite database file (``./evidence`` for ``duban.db``, the
    sandbox's folder for the sandbox's database); ``./evidence`` for any other database."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return Path("evidence")
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:"):
        return Path(url.database).parent / "evidence"
    return Path("evidence")


@dataclass(frozen=True)
class _Origin:
    """Where :func:`load_settings` reads: an environment mapping and a working directory."""

    environ: Mapping[str, str]
    cwd: Path


# Set by load_settings while it builds Settings: settings_customise_sources has no other way to
# receive arguments. A context variable keeps concurrent loads (threads, tasks) apart.
_LOADING: ContextVar[_Origin | None] = ContextVar("duban_settings_origin", default=None)


@contextmanager
def _loading(origin: _Origin) -> Iterator[None]:
    token = _LOADING.set(origin)
    try:
        yield
    finally:
        _LOADING.reset(token)


def _value(field_name: str, value: object) -> object:
    # The token is wrapped as soon as it is read, so even pydantic-settings' debug log of the
    # sources (PYDANTIC_SETTINGS_DEBUG) shows it masked.
    return SecretStr(str(value)) if field_name == "bot_token" else value


class _FieldSource(PydanticBaseSettingsSource):
    """A source that looks each field up by its fixed name (:data:`NAMES`)."""

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                found[key] = value
        return found


class _TextSource(_FieldSource):
    """Settings given as text under their environment names (``TELEGRAM_BOT_TOKEN``, ...)."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str | None], *,
                 skip_empty: bool = False) -> None:
        super().__init__(settings_cls)
        self._values = values
        # True for the environment, where NAME= means "not set" and the next source is used.
        self._skip_empty = skip_empty

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value = self._values.get(NAMES[field_name][0])
        if value is None or (self._skip_empty and value == ""):
            return None, field_name, False
        return _value(field_name, value), field_name, False


class _TomlSource(_FieldSource):
    """The TOML file named by ``DUBAN_CONFIG``, read when the source is made.

    Not pydantic-settings' TomlConfigSettingsSource: that one skips a missing file silently, and
    a ``DUBAN_CONFIG`` that names no file is an error here.
    """

    def __init__(self, settings_cls: type[BaseSettings], path: str) -> None:
        super().__init__(settings_cls)
        try:
            self._data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise DubanError(N_("Cannot read the settings file {path}: {reason}"),
                             path=path, reason=str(exc)) from None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        key = NAMES[field_name][1]
        if key not in self._data:
            return None, field_name, False
        value = self._data[key]
        # Scalars are read as text, as they would be from the environment, so `timezone = 8` is
        # an unknown time zone rather than a type error; coordinators may be a list of ids.
        if not (field_name == "coordinators" and isinstance(value, list)):
            value = str(value)
        return _value(field_name, value), field_name, False


def _read_dotenv(path: Path) -> dict[str, str | None]:
    """The ``.env`` file, if there is one: ``export NAME=value``, quotes and comments allowed."""
    if not path.is_file():
        return {}
    try:
        # interpolate=False: a "$" in a value (a password) is kept as written, and ${NAME} is
        # never looked up in os.environ behind the caller's explicit mapping.
        return dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DubanError(N_("Cannot read the settings file {path}: {reason}"),
                         path=str(path), reason=str(exc)) from None


def _as_duban_error(exc: ValidationError) -> DubanError:
    """The first problem in ``exc`` as the DubanError it carries."""
    errors = exc.errors()
    for error in errors:
        if error["type"] == _PROBLEM:
            params = dict(error.get("ctx") or {})
            return DubanError(params.pop("message_id"), **params)
    # Not reached from load_settings: every source hands over text (or a list of ids), which
    # every field accepts, and each check raises a _problem. Should that change, still report a
    # DubanError naming the setting, in pydantic's (English) words.
    error = errors[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    field = "bot_token" if field == "telegram_bot_token" else field
    name = NAMES.get(field, (field, ""))[0]
    return DubanError(f"{name}: {error['msg']}")


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read the settings; a bad value is a clear error naming the setting.

    ``environ`` defaults to ``os.environ``; when given, it is the only environment read
    (including for ``DUBAN_CONFIG``). ``cwd`` is where ``.env`` is looked for.
    """
    origin = _Origin(os.environ if environ is None else environ, cwd or Path.cwd())
    with _loading(origin):
        try:
            return Settings()
        except ValidationError as exc:
            raise _as_duban_error(exc) from None
