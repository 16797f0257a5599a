"""``python -m bot.devtools.emulator --host 127.0.0.1 --port 0 --token TOKEN [--state-dir DIR]``.

Prints the base URL once listening, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from bot.devtools.emulator.server import EmulatorServer
from bot.devtools.emulator.state import RateLimit, World, WorldStore


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.devtools.emulator",
                                     description="Local Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", required=True, help="the bot token the emulator accepts")
    parser.add_argument("--bot-username", default="duban_emulator_bot")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="save the world here and reload it on restart")
    parser.add_argument("--privacy-mode", action="store_true",
                        help="in groups, deliver only commands and replies to the bot")
    parser.add_argument("--per-chat-per-minute", type=int, default=None)
    parser.add_argument("--global-per-second", type=int, default=None)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    world = World(args.token, bot_username=args.bot_username, privacy_mode=args.privacy_mode)
    world.limiter.configure(RateLimit(args.per_chat_per_minute, args.global_per_second))
    store = WorldStore(args.state_dir) if args.state_dir else None
    server = EmulatorServer(world, store=store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    base_url = await server.start(args.host, args.port)
    print(base_url, flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
