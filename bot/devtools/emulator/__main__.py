"""``python -m bot.devtools.emulator --host 127.0.0.1 --port 0 --token TOKEN [--state-dir DIR]``.

Prints the base URL once listening, then serves until interrupted. ``--faults 0.1`` makes a
tenth of the bot's sending calls fail (``--fault-kinds``, ``--fault-after``, ``--fault-seed``…;
see :mod:`bot.devtools.emulator.faults`); ``GET /_emulator/limits`` tells whether what the
emulator accepted kept to Telegram's limits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from bot.devtools.emulator.faults import FaultPlan, FaultPlanError, parse_kinds
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
    faults = parser.add_argument_group("faults", "failures injected into the bot's calls")
    faults.add_argument("--faults", type=float, default=0.0, metavar="RATE",
                        help="share of the calls that fail, 0 to 1 (default 0: none)")
    faults.add_argument("--fault-seed", type=int, default=0)
    faults.add_argument("--fault-methods", default="", metavar="M1,M2",
                        help="Bot API methods that fail (default: every sending method)")
    faults.add_argument("--fault-kinds", default="429,500,502,timeout,drop",
                        metavar="KIND[=WEIGHT],...",
                        help="kinds of failure and their weights: 429, 500, 502, timeout "
                             "(held past the client's timeout), drop (no answer)")
    faults.add_argument("--fault-after", type=float, default=0.5, metavar="SHARE",
                        help="share of the failures (not 429s) that strike after the call "
                             "took effect (default 0.5)")
    faults.add_argument("--fault-retry-after", type=int, default=1, metavar="SECONDS")
    faults.add_argument("--fault-hang", type=float, default=6.0, metavar="SECONDS",
                        help="how long a timeout holds the answer (default 6)")
    args = parser.parse_args(argv)
    try:
        args.fault_plan = FaultPlan(
            rate=args.faults, seed=args.fault_seed,
            methods=tuple(m.strip() for m in args.fault_methods.split(",") if m.strip()),
            kinds=parse_kinds(args.fault_kinds), after=args.fault_after,
            retry_after=args.fault_retry_after, hang=args.fault_hang)
    except FaultPlanError as error:
        parser.error(str(error))
    return args


async def serve(args: argparse.Namespace) -> None:
    world = World(args.token, bot_username=args.bot_username, privacy_mode=args.privacy_mode)
    world.limiter.configure(RateLimit(args.per_chat_per_minute, args.global_per_second))
    world.faults.configure(args.fault_plan)
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
