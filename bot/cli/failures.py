"""Start-up and connection failures as one line a person can act on.

``duban run`` and every command that opens the database can fail before doing anything useful:
a malformed or unsupported ``DATABASE_URL``, a database that cannot be reached, a Bot API that
cannot be reached or that refuses the token, a webhook port already in use, a webhook secret
Telegram would refuse. :func:`explain` turns such an exception into a
:class:`~bot.core.i18n.DubanError` that names the setting to fix; the command line prints it as
one line, and the traceback only with ``--debug``. An exception it does not recognise is a bug
and keeps its traceback.

The checks that need nothing but the value (:func:`check_database_url`,
:func:`check_secret_token`) run before anything is opened, so a bad value is refused up front.
"""

from __future__ import annotations

import errno
import os
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from telegram.error import BadRequest, InvalidToken, NetworkError

from bot.core.i18n import N_, DubanError
from bot.settings import Settings
from models.db import normalize_url

#: The drivers duban runs on, after :func:`models.db.normalize_url` (plain ``sqlite:///`` and
#: ``postgresql://`` URLs are given these).
SUPPORTED_DRIVERS = frozenset({"sqlite+aiosqlite", "postgresql+asyncpg"})
#: What Telegram accepts as a webhook's secret token (Bot API, setWebhook).
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
DEFAULT_API = "https://api.telegram.org"

MALFORMED_URL = N_("DATABASE_URL (or --database) is not a database URL: {url}. Write it like "
                   "sqlite:///duban.db or postgresql://user:password@host:5432/duban.")
UNSUPPORTED_URL = N_("DATABASE_URL (or --database) names {driver}, which duban cannot use; use "
                     "sqlite:///FILE or postgresql://user:password@host:5432/DATABASE.")
DATABASE_UNREACHABLE = N_("The database {url} cannot be reached ({reason}); check DATABASE_URL "
                          "(or --database) and that the database server is running.")
SQLITE_CANNOT_OPEN = N_("The database {url} cannot be opened ({reason}); check DATABASE_URL "
                        "(or --database): its folder must exist and be writable.")
DATABASE_REFUSED = N_("The database {url} refused the connection ({reason}); check the user, "
                      "the password and the database name in DATABASE_URL (or --database).")
TOKEN_REFUSED = N_("Telegram refused the bot token; check TELEGRAM_BOT_TOKEN (the token "
                   "@BotFather gave you).")
API_UNREACHABLE = N_("The Bot API at {url} cannot be reached ({reason}); check "
                     "TELEGRAM_API_BASE_URL and the network.")
WEBHOOK_REFUSED = N_("Telegram refused the webhook ({reason}); check --webhook-url.")
PORT_IN_USE = N_("The webhook port {port} on {listen} is already in use; choose another with "
                 "--port, or stop the program using it.")
CANNOT_LISTEN = N_("The webhook server cannot listen on {listen}:{port} ({reason}); check "
                   "--listen and --port.")
SECRET_LENGTH = N_("The webhook secret (--secret-token or DUBAN_WEBHOOK_SECRET) is {length} "
                   "characters long; Telegram allows 1 to 256.")
SECRET_CHARACTER = N_("The webhook secret (--secret-token or DUBAN_WEBHOOK_SECRET) contains "
                      "{character}; Telegram allows only A-Z, a-z, 0-9, _ and -.")

# Where an exception was raised tells which connection failed: the database's drivers and
# SQLAlchemy, or the webhook server's listening socket.
_DATABASE_MODULES = ("asyncpg", "aiosqlite", "sqlalchemy", "sqlite3", "psycopg")
_LISTENING_MODULES = ("aiohttp.web", "tornado", "telegram.ext._utils.webhookhandler")
#: Errors of binding a listening socket whatever raised them (EACCES, a port below 1024, only
#: when the webhook server raised it: a file can be refused too).
_BIND_ERRNOS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL})


@dataclass(frozen=True)
class Setup:
    """What a command connects to: the settings that an error message names."""

    database_url: str
    api_base_url: str | None = None
    token: str | None = None
    #: The webhook's listening address and port, in webhook mode.
    listen: str | None = None
    port: int | None = None

    @classmethod
    def of(cls, settings: Settings, database: str | None = None, *, listen: str | None = None,
           port: int | None = None) -> Setup:
        return cls(database or settings.database_url, settings.telegram_api_base_url,
                   settings.telegram_bot_token, listen, port)


def shown_url(url: str) -> str:
    """The URL without its password, fit to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def check_database_url(url: str) -> None:
    """A URL duban can open (SQLite or PostgreSQL), else a DubanError naming DATABASE_URL.

    A SQLite file whose folder does not exist is refused here too, before the driver tries
    (and fails in its own thread)."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        raise DubanError(MALFORMED_URL, url=shown_url(url)) from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise DubanError(UNSUPPORTED_URL, driver=parsed.drivername)
    path = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:" \
            and not path.startswith("file:") and not Path(path).parent.is_dir():
        raise DubanError(SQLITE_CANNOT_OPEN, url=shown_url(url),
                         reason=f"{Path(path).parent}: {os.strerror(errno.ENOENT)}")


def check_secret_token(secret: str) -> None:
    """A webhook secret Telegram accepts: 1 to 256 of ``A-Z a-z 0-9 _ -``. The secret itself is
    never shown, only its length or the first character Telegram would refuse."""
    if SECRET_TOKEN.fullmatch(secret):
        return
    if not 1 <= len(secret) <= 256:
        raise DubanError(SECRET_LENGTH, length=len(secret))
    bad = next(c for c in secret if not SECRET_TOKEN.fullmatch(c))
    raise DubanError(SECRET_CHARACTER, character=repr(bad))


def explain(error: BaseException, setup: Setup) -> DubanError | None:
    """The start-up or connection failure behind ``error`` (or an exception it was raised
    from) as a DubanError naming the setting to fix; None when it is none of those."""
    for found in _chain(error):
        problem = _explain_one(found, setup)
        if problem is not None:
            return problem
    return None


def _explain_one(error: BaseException, setup: Setup) -> DubanError | None:
    url = shown_url(setup.database_url)
    if isinstance(error, ArgumentError | NoSuchModuleError) or (
            isinstance(error, ModuleNotFoundError) and _raised_in(error, ("sqlalchemy",))):
        try:
            check_database_url(setup.database_url)
        except DubanError as problem:
            return problem
        return None
    if isinstance(error, OperationalError):
        unreachable = SQLITE_CANNOT_OPEN if _is_sqlite(setup.database_url) \
            else DATABASE_UNREACHABLE
        return DubanError(unreachable, url=url, reason=_reason(error.orig, setup))
    if _is_postgres_refusal(error):
        return DubanError(DATABASE_REFUSED, url=url, reason=_reason(error, setup))
    if isinstance(error, InvalidToken):
        return DubanError(TOKEN_REFUSED)
    if isinstance(error, BadRequest):  # a NetworkError to PTB, but Telegram did answer
        if setup.port is not None:
            return DubanError(WEBHOOK_REFUSED, reason=_reason(error, setup))
        return None
    if isinstance(error, NetworkError):  # TimedOut is a NetworkError too
        return DubanError(API_UNREACHABLE, url=setup.api_base_url or DEFAULT_API,
                          reason=_reason(error, setup))
    if isinstance(error, OSError):
        if _raised_in(error, _DATABASE_MODULES):
            return DubanError(DATABASE_UNREACHABLE, url=url, reason=_reason(error, setup))
        if setup.port is not None and (error.errno in _BIND_ERRNOS
                                       or _raised_in(error, _LISTENING_MODULES)):
            listen = setup.listen or "0.0.0.0"
            if error.errno == errno.EADDRINUSE:
                return DubanError(PORT_IN_USE, port=setup.port, listen=listen)
            return DubanError(CANNOT_LISTEN, port=setup.port, listen=listen,
                              reason=_reason(error, setup))
    return None


def _is_sqlite(url: str) -> bool:
    try:
        return make_url(url).get_backend_name() == "sqlite"
    except ArgumentError:
        return False


def _is_postgres_refusal(error: BaseException) -> bool:
    """asyncpg's own errors reach us only from connecting (SQLAlchemy wraps the others): a
    missing database or role, a wrong password."""
    return isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _raised_in(error: BaseException, modules: tuple[str, ...]) -> bool:
    tb: TracebackType | None = error.__traceback__
    for frame, _ in traceback.walk_tb(tb):
        name = str(frame.f_globals.get("__name__", ""))
        if name.startswith(modules):
            return True
    return False


def _reason(error: BaseException | None, setup: Setup) -> str:
    """The exception's own words on one line, without the bot token."""
    text = " ".join(str(error).split()) if error is not None else ""
    text = text or (type(error).__name__ if error is not None else "?")
    return redact(text, setup.token)


def redact(text: str, token: str | None) -> str:
    return text.replace(token, "<token>") if token else text


def traceback_text(error: BaseException, token: str | None) -> str:
    """The full traceback (for ``--debug``), without the bot token."""
    return redact("".join(traceback.format_exception(error)), token)
