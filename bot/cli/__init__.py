"""The ``duban`` command line: one package, one command group per subject.

``main`` (the entry point) lives in :mod:`bot.cli.main`; :mod:`bot.cli.app` holds what every
command shares (settings, the reader's language, the services built by :func:`bot.app.build_deps`).
"""

from bot.cli.main import main

__all__ = ["main"]
