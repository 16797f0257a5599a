"""``python -m bot.cli``: the same as the ``duban`` command."""

from bot.cli.main import main

main()
