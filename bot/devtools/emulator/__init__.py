"""A local Telegram Bot API emulator for tests and the sandbox.

Point a bot at it with ``Bot(token, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot")``
and drive the people in the chat through :class:`EmulatorClient` (the control API under
``/_emulator``). :class:`FaultPlan` makes a seeded share of the bot's calls fail (429, 500,
502, timeouts, dropped connections, before or after they take effect); :class:`LimitWatch`
checks what the emulator accepted against Telegram's limits. It does not import the rest of
duban.
"""

from __future__ import annotations

from bot.devtools.emulator.client import (
    CallbackAnswer,
    ChatMessage,
    EmChat,
    EmFile,
    EmulatorClient,
    EmulatorError,
    EmUser,
)
from bot.devtools.emulator.faults import FaultPlan, LimitWatch
from bot.devtools.emulator.server import EmulatorServer, RunningEmulator, run_emulator
from bot.devtools.emulator.state import ApiError, RateLimit, World, WorldStore

__all__ = [
    "ApiError",
    "CallbackAnswer",
    "ChatMessage",
    "EmChat",
    "EmFile",
    "EmUser",
    "EmulatorClient",
    "EmulatorError",
    "EmulatorServer",
    "FaultPlan",
    "LimitWatch",
    "RateLimit",
    "RunningEmulator",
    "World",
    "WorldStore",
    "run_emulator",
]
