"""Start-up and connection failures through the command line: one line naming the setting to
fix, exit code 1, and the traceback only with ``--debug`` (``bot/cli/failures.py``)."""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url

from bot.cli import failures
from bot.cli.main import main
from bot.data import DATA_DIR
from bot.devtools.emulator import run_emulator

TOKEN = "424242:failures-trial"
WEBHOOK = ("--webhook-url", "https://bot.example.org/telegram")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment in an empty folder: the demo organisation, a SQLite file there, no
    health endpoint (test mode), no token."""
    monkeypatch.chdir(tmp_path)
    for name in ("DUBAN_LOCALE", "DUBAN_CATALOG", "DUBAN_CONFIG", "TELEGRAM_BOT_TOKEN",
                 "TELEGRAM_API_BASE_URL", "DUBAN_WEBHOOK_SECRET", "DUBAN_MONITOR_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'duban.db'}")
    monkeypatch.setenv("DUBAN_ORG", str(DATA_DIR / "demo_org.toml"))
    monkeypatch.setenv("DUBAN_MODE", "test")
    return tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["--lang", "en", *args], catch_exceptions=False)


def one_line(result: Result) -> str:
    """The failure as the person reads it: exit code 1, no traceback, and the last line of
    the error output is the one line (log lines of the start-up may come before it)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.stderr
    return lines[-1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def emulator_url() -> Iterator[str]:
    """The Bot API emulator, in its own thread and event loop (the command line runs its own
    loop in this one), accepting TOKEN only."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    found: dict[str, object] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        async with run_emulator(TOKEN) as running:
            found.update(url=running.base_url, stop=stop)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the emulator did not start"
    try:
        yield str(found["url"])
    finally:
        stop = found["stop"]
        assert isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


# -- the database ------------------------------------------------------------------------------

BAD_DATABASES = [
    ("nonsense", "is not a database URL: nonsense"),
    ("mysql://x", "names mysql, which duban cannot use"),
    ("postgresql://u@127.0.0.1:1/db", "The database postgresql://u@127.0.0.1:1/db cannot be "
                                      "reached"),
    ("sqlite:////no/such/folder/duban.db", "cannot be opened (/no/such/folder: No such file"),
]


@pytest.mark.parametrize(("url", "expected"), BAD_DATABASES)
@pytest.mark.parametrize("command", [("db", "upgrade"), ("doctor",), ("case", "list"), ("run",)])
def test_a_bad_database_url_is_one_line_naming_the_setting(
        env: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str,
        command: tuple[str, ...]) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    line = one_line(invoke(*command))
    assert expected in line and "DATABASE_URL (or --database)" in line, line


def test_the_database_option_is_named_too_and_a_password_is_not_shown(env: Path) -> None:
    line = one_line(invoke("--database", "postgresql://duban:s3cret@127.0.0.1:1/duban",
                           "db", "upgrade"))
    assert "s3cret" not in line and "duban:***@127.0.0.1:1" in line, line


def test_debug_shows_the_traceback_then_the_line(env: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/db")
    result = invoke("--debug", "db", "upgrade")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConnectionRefusedError" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: The database postgresql://u@127.0.0.1:1/db cannot be reached")


def test_a_bug_is_not_dressed_up_as_a_setting(env: Path) -> None:
    """An exception that is no start-up failure keeps its traceback: it is a bug to report."""
    problem = failures.explain(KeyError("cases"), failures.Setup("sqlite:///x.db"))
    assert problem is None


# -- the Bot API -------------------------------------------------------------------------------


def test_the_bot_api_unreachable(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", url)
    line = one_line(invoke("run"))
    assert f"The Bot API at {url} cannot be reached" in line, line
    assert "TELEGRAM_API_BASE_URL" in line


def test_an_invalid_token_is_refused_in_one_line_without_the_token(
        env: Path, monkeypatch: pytest.MonkeyPatch, emulator_url: str) -> None:
    wrong = "424242:not-the-token"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", wrong)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", emulator_url)
    result = invoke("run")
    line = one_line(result)
    assert "Telegram refused the bot token; check TELEGRAM_BOT_TOKEN" in line, line
    assert wrong not in result.output
    debug = invoke("--debug", "run")
    assert "InvalidToken" in debug.stderr and wrong not in debug.output


def test_the_webhook_port_already_in_use(env: Path, monkeypatch: pytest.MonkeyPatch,
                                         emulator_url: str) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", emulator_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("run", *WEBHOOK, "--secret-token", "s3cret_token-1", "--listen",
                        "127.0.0.1", "--port", str(port))
    line = result.stderr.strip().splitlines()[-1]
    assert result.exit_code == 1, result.output
    assert line == (f"Error: The webhook port {port} on 127.0.0.1 is already in use; choose "
                    "another with --port, or stop the program using it."), result.stderr
    assert "OSError" not in result.stderr


# -- the webhook secret --------------------------------------------------------------------------


@pytest.mark.parametrize(("secret", "expected"), [
    ("bad secret!", "contains ' '"),
    ("a" * 300, "is 300 characters long; Telegram allows 1 to 256."),
    (" abc ", "contains ' '"),
    ("密钥", "contains '密'"),
])
def test_a_secret_telegram_would_refuse_is_refused_up_front(
        env: Path, monkeypatch: pytest.MonkeyPatch, secret: str, expected: str) -> None:
    # Nothing is opened: the database URL would fail otherwise.
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/db")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    line = one_line(invoke("run", *WEBHOOK, "--secret-token", secret))
    assert line.startswith("Error: The webhook secret (--secret-token or DUBAN_WEBHOOK_SECRET)")
    assert expected in line, line
    if len(secret) > 3:
        assert secret.strip() not in line  # the secret itself is not shown


def test_the_secret_from_the_environment_is_checked_too(env: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_WEBHOOK_SECRET", "with space")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert "contains ' '" in one_line(invoke("run", *WEBHOOK))


@pytest.mark.parametrize("secret", ["a", "A-z_0-9", "x" * 256])
def test_secrets_telegram_accepts(secret: str) -> None:
    failures.check_secret_token(secret)


def test_a_refused_access_is_a_listening_problem_only_where_the_server_listens() -> None:
    setup = failures.Setup("sqlite:///x.db", listen="127.0.0.1", port=80)
    denied = PermissionError(errno.EACCES, "Permission denied")
    assert failures.explain(denied, setup) is None  # e.g. a file: not the port's fault
    taken = OSError(errno.EADDRINUSE, "address already in use")
    problem = failures.explain(RuntimeError("shutting down"), setup)
    assert problem is None
    wrapped = RuntimeError("shutting down")
    wrapped.__context__ = taken
    found = failures.explain(wrapped, setup)
    assert found is not None and found.message == failures.PORT_IN_USE


@pytest.mark.postgres
def test_a_database_the_server_does_not_have(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES

    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("DUBAN_REQUIRE_POSTGRES=1 but DUBAN_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured (set DUBAN_TEST_POSTGRES_URL)")
    url = make_url(POSTGRES_URL).set(database="duban_no_such_database")
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    line = one_line(invoke("db", "upgrade"))
    assert "refused the connection (database \"duban_no_such_database\" does not exist)" in line
    assert "DATABASE_URL (or --database)" in line
