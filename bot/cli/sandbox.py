"""``duban sandbox``: the bot, the Bot API emulator and the web chat page, on loopback."""

from __future__ import annotations

import asyncio
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.app import App, pass_app
from bot.core.i18n import N_

if TYPE_CHECKING:
    from bot.devtools.sandbox.app import Sandbox


@click.command("sandbox")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              envvar="DUBAN_SANDBOX_DIR", default=None,
              help="The sandbox folder (default: ~/.local/share/duban/sandbox).")
@click.option("--reset", is_flag=True, help="Start over with fresh demo data.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Loopback address for the web page.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port for the web page (a free one if taken; 0: any).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@pass_app
def sandbox_command(app: App, directory: Path | None, reset: bool, host: str, port: int,
                    no_browser: bool) -> None:
    """Try the bot without Telegram: a web chat page with demo data and a movable clock."""
    # The emulator and the web page: imported for the sandbox, not with every command.
    from bot.devtools.sandbox.app import SandboxOptions, default_directory, serve

    options = SandboxOptions(directory=directory or default_directory(), host=host, port=port,
                             reset=reset, locale=app.settings.locale)

    def announce(sandbox: Sandbox) -> None:
        app.say(N_("duban sandbox: open {url}"), url=sandbox.url)
        if sandbox.fresh:
            app.say(N_("New demo data in {path}."), path=str(sandbox.paths.root))
        else:
            app.say(N_("Continuing the sandbox saved in {path} (--reset starts over)."),
                    path=str(sandbox.paths.root))
        app.say(N_("Ctrl-C stops the sandbox."))

    asyncio.run(serve(options, announce, None if no_browser else _open))


def _open(url: str) -> None:
    try:
        webbrowser.open(url)
    except webbrowser.Error:
        pass
