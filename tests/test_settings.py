"""Settings: environment over .env over TOML over defaults; bad values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.i18n import DubanError
from bot.settings import load_settings


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.locale == "zh_CN"
    assert settings.telegram_bot_token is None


def test_precedence_env_over_dotenv_over_toml(tmp_path: Path) -> None:
    config = tmp_path / "duban.toml"
    config.write_text('database_url = "sqlite:///from-toml.db"\nlocale = "en"\n'
                      'coordinators = [1, 2]\n', encoding="utf-8")
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///from-dotenv.db\n"
                                   "export DUBAN_TIMEZONE='Asia/Urumqi'\n", encoding="utf-8")
    settings = load_settings({"DUBAN_CONFIG": str(config), "DUBAN_LOCALE": "zh"}, cwd=tmp_path)
    assert settings.database_url == "sqlite:///from-dotenv.db"
    assert settings.timezone == "Asia/Urumqi"
    assert settings.locale == "zh_CN"
    assert settings.coordinators == (1, 2)


def test_token_never_in_repr(tmp_path: Path) -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": "123:SECRET"}, cwd=tmp_path)
    assert settings.telegram_bot_token == "123:SECRET"
    assert "SECRET" not in repr(settings)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("DUBAN_COORDINATORS", "12,abc", "Telegram user ids"),
    ("DUBAN_TIMEZONE", "Mars/Olympus", "Unknown time zone"),
])
def test_bad_values(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(DubanError, match=message):
        load_settings({name: value}, cwd=tmp_path)


def test_unreadable_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("not = [valid", encoding="utf-8")
    with pytest.raises(DubanError, match="settings file"):
        load_settings({"DUBAN_CONFIG": str(bad)}, cwd=tmp_path)
