"""The sandbox: the whole bot without Telegram, in a browser.

``duban sandbox`` (and ``duban`` with no ``TELEGRAM_BOT_TOKEN``) starts, on loopback, the local
Bot API emulator, the unmodified bot as its own process pointed at it, and a web chat page where
a person acts as any seeded persona and moves the simulated clock.
"""

from __future__ import annotations

from bot.devtools.sandbox.app import Sandbox, SandboxOptions, default_directory

__all__ = ["Sandbox", "SandboxOptions", "default_directory"]
