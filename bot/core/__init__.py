"""The pure domain: clock, words, dates, departments, matching, the organisation, workflows,
routing, button data, case files, and the policy parser and catalog.

No database, no Telegram, no I/O beyond reading a file it is given (checked by import-linter).
"""
