"""Settings: environment over .env over TOML over defaults; bad values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from bot.core.i18n import DubanError
from bot.settings import NAMES, Settings, _as_duban_error, load_settings


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


# --- pydantic-settings: sources, precedence, the secret token, errors ---------------------------

def _write(folder: Path, toml: str = "", dotenv: str = "") -> dict[str, str]:
    """A TOML file and a .env in ``folder``; the environment that names the TOML file."""
    config = folder / "duban.toml"
    config.write_text(toml, encoding="utf-8")
    (folder / ".env").write_text(dotenv, encoding="utf-8")
    return {"DUBAN_CONFIG": str(config)}


def test_precedence_of_all_three_sources(tmp_path: Path) -> None:
    environ = _write(
        tmp_path,
        toml='org = "toml-org.toml"\ndatabase_url = "sqlite:///toml.db"\n'
             'catalog = "toml-catalog.json"\n',
        dotenv="DUBAN_ORG=dotenv-org.toml\nDATABASE_URL=sqlite:///dotenv.db\n")
    settings = load_settings({**environ, "DUBAN_ORG": "env-org.toml"}, cwd=tmp_path)
    assert settings.org == Path("env-org.toml")  # environment over .env over TOML
    assert settings.database_url == "sqlite:///dotenv.db"  # .env over TOML
    assert settings.catalog == Path("toml-catalog.json")  # TOML over the default
    assert settings.holidays is None  # nowhere: the default
    assert settings.timezone == "Asia/Shanghai"


def test_explicit_environ_is_the_only_environment_read(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_MODE", "bogus")
    monkeypatch.setenv("DUBAN_CONFIG", str(tmp_path / "missing.toml"))
    assert load_settings({}, cwd=tmp_path).mode == "production"


def test_token_is_secret_from_every_source(tmp_path: Path) -> None:
    from_toml = load_settings(_write(tmp_path, toml='telegram_bot_token = "1:TOML"\n'),
                              cwd=tmp_path)
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=1:DOTENV\n", encoding="utf-8")
    from_dotenv = load_settings({}, cwd=tmp_path)
    for settings, token in ((from_toml, "1:TOML"), (from_dotenv, "1:DOTENV")):
        assert isinstance(settings.bot_token, SecretStr)
        assert settings.telegram_bot_token == token
        assert token not in repr(settings)
        assert token not in str(settings)
        assert token not in settings.model_dump_json()


def test_empty_environment_value_is_not_set(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///dotenv.db\n", encoding="utf-8")
    settings = load_settings({"DATABASE_URL": "", "DUBAN_MODE": "", "DUBAN_TIMEZONE": "",
                              "TELEGRAM_BOT_TOKEN": "", "DUBAN_CONFIG": ""}, cwd=tmp_path)
    assert settings.database_url == "sqlite:///dotenv.db"
    assert settings.mode == "production"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.telegram_bot_token is None


def test_dotenv_export_quotes_and_comments(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# the bot\n"
        'export TELEGRAM_BOT_TOKEN="123:ABC"\n'
        "export DUBAN_ORG='my org.toml'\n"
        'DATABASE_URL="sqlite:///a b.db"  # a comment\n'
        "DUBAN_CATALOG=${HOME}/catalog.json\n"  # kept as written: no interpolation
        "DUBAN_COORDINATORS = 1, 2\n"
        "DUBAN_TIMEZONE\n",  # no "=": not a setting
        encoding="utf-8")
    settings = load_settings({}, cwd=tmp_path)
    assert settings.telegram_bot_token == "123:ABC"
    assert settings.org == Path("my org.toml")
    assert settings.database_url == "sqlite:///a b.db"
    assert settings.catalog == Path("${HOME}/catalog.json")
    assert settings.coordinators == (1, 2)
    assert settings.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(("toml", "expected"), [
    ("coordinators = [3, 4]\n", (3, 4)),
    ('coordinators = "3, 4"\n', (3, 4)),
    ("coordinators = 5\n", (5,)),
])
def test_coordinators_in_toml(tmp_path: Path, toml: str, expected: tuple[int, ...]) -> None:
    assert load_settings(_write(tmp_path, toml=toml), cwd=tmp_path).coordinators == expected


@pytest.mark.parametrize(("toml", "bad"), [
    ('coordinators = [1, "abc"]\n', "abc"),
    ('coordinators = "1,x"\n', "x"),
    ("coordinators = [1, -2]\n", "-2"),
])
def test_bad_coordinator_in_toml(tmp_path: Path, toml: str, bad: str) -> None:
    with pytest.raises(DubanError) as caught:
        load_settings(_write(tmp_path, toml=toml), cwd=tmp_path)
    assert caught.value.message == ("DUBAN_COORDINATORS must list Telegram user ids, "
                                    "separated by commas; got {value}.")
    assert caught.value.params == {"value": bad}


BAD_VALUES = [
    ("DUBAN_MODE", "mode", "bogus", "DUBAN_MODE must be one of {modes}; got {value}."),
    ("DUBAN_TIMEZONE", "timezone", "Mars/Olympus", "Unknown time zone {value}."),
    ("DUBAN_TIMEZONE", "timezone", "Asia", "Unknown time zone {value}."),  # a directory
]


@pytest.mark.parametrize("source", ["environment", ".env", "toml"])
@pytest.mark.parametrize(("name", "key", "value", "message"), BAD_VALUES)
def test_bad_value_from_each_source_is_a_duban_error(tmp_path: Path, source: str, name: str,
                                                     key: str, value: str, message: str) -> None:
    if source == "environment":
        environ = {name: value}
    elif source == ".env":
        environ = _write(tmp_path, dotenv=f"{name}={value}\n")
    else:
        environ = _write(tmp_path, toml=f'{key} = "{value}"\n')
    with pytest.raises(DubanError) as caught:
        load_settings(environ, cwd=tmp_path)
    assert not isinstance(caught.value, ValidationError)
    assert caught.value.message == message
    assert caught.value.params["value"] == value
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_toml_scalars_are_read_as_text(tmp_path: Path) -> None:
    with pytest.raises(DubanError, match="Unknown time zone 8"):
        load_settings(_write(tmp_path, toml="timezone = 8\n"), cwd=tmp_path)


def test_simulated_clock_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(DubanError, match="refused in production"):
        load_settings({"DUBAN_CLOCK_FILE": "clock.txt"}, cwd=tmp_path)
    settings = load_settings({"DUBAN_CLOCK_FILE": "clock.txt", "DUBAN_MODE": "sandbox"},
                             cwd=tmp_path)
    assert settings.clock_file == Path("clock.txt")


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(DubanError, match="settings file"):
        load_settings({"DUBAN_CONFIG": str(tmp_path / "missing.toml")}, cwd=tmp_path)


def test_undecodable_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"DUBAN_ORG=\xff\xfe\n")
    with pytest.raises(DubanError, match="settings file"):
        load_settings({}, cwd=tmp_path)


def test_keyword_construction_reads_nothing_else(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings(...) in tests and benches: the arguments and the defaults, never os.environ."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DUBAN_MODE", "bogus")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-env.db")
    (tmp_path / ".env").write_text("DUBAN_LOCALE=en\n", encoding="utf-8")
    settings = Settings(telegram_bot_token="1:KEY", mode="test", coordinators=(7,),
                        clock_file=Path("clock.txt"))
    assert settings.telegram_bot_token == "1:KEY"
    assert (settings.mode, settings.locale) == ("test", "zh_CN")
    assert settings.database_url == Settings().database_url != "sqlite:///from-env.db"
    assert settings.tz.key == "Asia/Shanghai"


def test_frozen_and_replaceable() -> None:
    settings = Settings(telegram_bot_token="1:KEY", coordinators=(7,))
    with pytest.raises(ValidationError):
        settings.mode = "test"  # type: ignore[misc]
    copy = settings.but(locale="en", mode="sandbox")
    assert (copy.locale, copy.mode, copy.coordinators) == ("en", "sandbox", (7,))
    assert copy.telegram_bot_token == "1:KEY"
    with pytest.raises(ValidationError):  # but() validates again
        settings.but(clock_file=Path("clock.txt"))


def test_every_field_has_its_names() -> None:
    assert set(NAMES) == set(Settings.model_fields)


def test_unexpected_validation_error_still_names_the_setting() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(database_url=5)
    assert str(_as_duban_error(caught.value)).startswith("DATABASE_URL: ")


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([name for name, _ in NAMES.values()]), st.text()))
def test_any_text_is_settings_or_a_duban_error(environ: dict[str, str]) -> None:
    try:
        load_settings(environ, cwd=Path("/nonexistent-duban-dir"))
    except DubanError:
        pass
