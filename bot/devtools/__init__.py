"""Tools that serve tests and the sandbox, not production: the Bot API emulator and the sandbox."""
