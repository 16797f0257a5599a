"""Settings from the environment, a ``.env`` file, or a TOML file (``DUBAN_CONFIG``).

Precedence: environment, then ``.env`` in the working directory, then the TOML file, then the
defaults. The bot token is kept out of ``repr`` so it never lands in a log line.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.clock import DEFAULT_TIMEZONE
from bot.core.i18n import DEFAULT_LOCALE, N_, DubanError, normalize_locale
from models.db import DEFAULT_DATABASE_URL

# Setting name -> TOML key
_KEYS = {
    "TELEGRAM_BOT_TOKEN": "telegram_bot_token",
    "TELEGRAM_API_BASE_URL": "telegram_api_base_url",
    "DATABASE_URL": "database_url",
    "DUBAN_ORG": "org",
    "DUBAN_CATALOG": "catalog",
    "DUBAN_COORDINATORS": "coordinators",
    "DUBAN_TIMEZONE": "timezone",
    "DUBAN_LOCALE": "locale",
    "DUBAN_MODE": "mode",
    "DUBAN_CLOCK_FILE": "clock_file",
    "DUBAN_HOLIDAYS": "holidays",
}
MODES = ("production", "sandbox", "test")


@dataclass(frozen=True)
class Settings:
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_api_base_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    org: Path | None = None
    catalog: Path | None = None
    coordinators: tuple[int, ...] = ()
    timezone: str = DEFAULT_TIMEZONE
    locale: str = DEFAULT_LOCALE
    mode: str = "production"
    clock_file: Path | None = None  # simulated time (sandbox and tests only)
    holidays: Path | None = None  # local additions to China's holiday calendar

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read the settings; a bad value is a clear error naming the setting."""
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    merged: dict[str, str] = {}
    config_path = environ.get("DUBAN_CONFIG")
    if config_path:
        try:
            data = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DubanError(N_("Cannot read the settings file {path}: {reason}"),
                             path=config_path, reason=str(exc)) from None
        for name, key in _KEYS.items():
            if key in data:
                value = data[key]
                merged[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    merged.update({k: v for k, v in _read_dotenv(cwd / ".env").items() if k in _KEYS})
    merged.update({k: v for k, v in environ.items() if k in _KEYS and v != ""})

    coordinators: list[int] = []
    for item in merged.get("DUBAN_COORDINATORS", "").replace(";", ",").split(","):
        if item.strip():
            if not item.strip().isdigit():
                raise DubanError(N_("DUBAN_COORDINATORS must list Telegram user ids, "
                                    "separated by commas; got {value}."), value=item.strip())
            coordinators.append(int(item.strip()))
    timezone = merged.get("DUBAN_TIMEZONE", DEFAULT_TIMEZONE)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DubanError(N_("Unknown time zone {value}."), value=timezone) from None
    mode = merged.get("DUBAN_MODE", "production")
    if mode not in MODES:
        raise DubanError(N_("DUBAN_MODE must be one of {modes}; got {value}."),
                         modes=", ".join(MODES), value=mode)
    clock_file = Path(merged["DUBAN_CLOCK_FILE"]) if merged.get("DUBAN_CLOCK_FILE") else None
    if clock_file is not None and mode == "production":
        raise DubanError(N_("DUBAN_CLOCK_FILE (simulated time) is only for the sandbox and "
                            "tests; it is refused in production mode."))
    return Settings(
        mode=mode, clock_file=clock_file,
        holidays=Path(merged["DUBAN_HOLIDAYS"]) if merged.get("DUBAN_HOLIDAYS") else None,
        telegram_bot_token=merged.get("TELEGRAM_BOT_TOKEN") or None,
        telegram_api_base_url=merged.get("TELEGRAM_API_BASE_URL") or None,
        database_url=merged.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        org=Path(merged["DUBAN_ORG"]) if merged.get("DUBAN_ORG") else None,
        catalog=Path(merged["DUBAN_CATALOG"]) if merged.get("DUBAN_CATALOG") else None,
        coordinators=tuple(coordinators),
        timezone=timezone,
        locale=normalize_locale(merged.get("DUBAN_LOCALE")),
    )
