# Conveniences for developers; CI runs .ci/run.
.PHONY: install test test-all lint run messages bench

install:
	pip install -e '.[dev]'

test:
	python -m pytest

# The suite on SQLite and on a throw-away PostgreSQL server, as CI runs it.
test-all:
	bash .ci/run

lint:
	ruff check .
	mypy

run:
	duban

# Re-extract the message catalog and update the translations' .po files.
messages:
	pybabel extract -F babel.cfg --no-default-keywords -k N_ -k gettext -k ngettext:1,2 -o locales/messages.pot --no-location --sort-output --width 100 .
	pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete --width 100

bench:
	python bench/run.py
