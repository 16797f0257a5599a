"""Forks ``duban run`` processes from one that has already imported duban.

``python -m bench.trials.zygote`` reads one JSON object a line on stdin —
``{"env": {...}, "log": PATH, "cwd": DIR}``, and optionally ``"args"`` (``["run"]`` when not
given; e.g. ``["run", "--webhook-url", URL, …]``) — forks, and in the child runs exactly what
``duban run`` runs (``bot.cli.main`` with those arguments), with that environment and its
output in ``log``. It answers ``pid N`` for each child and ``exit N CODE`` when one ends (a
negative code: killed by that signal). It ends when stdin closes.

Importing duban takes seconds; a kill trial starts the bot dozens of times, and only what
happens after the imports is under test. The parent never starts a thread or an event loop,
so a fork is a clean copy of an interpreter that has imported the modules and done nothing else.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import traceback
from typing import Any


def _child(request: dict[str, Any]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        args = [str(arg) for arg in request.get("args", ["run"])]
        sys.argv = ["duban", *args]
        from bot.cli.main import main

        main(args, prog_name="duban")
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap(out: Any) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        out.write(f"exit {pid} {code}\n")
        out.flush()


def main() -> None:
    import bot.app
    import bot.cli.main
    import bot.runner  # noqa: F401

    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.signal(signal.SIGCHLD, lambda *_: os.write(wake_write, b"x"))
    out = sys.stdout
    stdin = sys.stdin.buffer
    pending = b""
    while True:
        ready, _, _ = select.select([stdin, wake_read], [], [])
        if wake_read in ready:
            os.read(wake_read, 4096)
            _reap(out)
        if stdin not in ready:
            continue
        chunk = os.read(stdin.fileno(), 65536)
        if not chunk:
            break
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if not line.strip():
                continue
            request = json.loads(line)
            out.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request)
            out.write(f"pid {pid}\n")
            out.flush()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _reap(out)


if __name__ == "__main__":
    main()
