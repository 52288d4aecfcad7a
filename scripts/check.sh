#!/usr/bin/env bash
# The static checks, defined once: scripts/test.sh (so CI) and `make check` run this.
# Lint (with unused `noqa`s reported), formatting, and types (mypy on src/, settings in
# pyproject.toml). Runs them all and fails if any failed, so one run reports everything.
# VENV: the virtual environment that has the tools (default: .venv).
set -uo pipefail
cd "$(dirname "$0")/.."
py="${VENV:-.venv}/bin/python"
status=0
"$py" -m ruff check src tests bench || status=1
"$py" -m ruff format --check src tests bench || status=1
"$py" -m mypy || status=1
exit "$status"
