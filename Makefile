# `make check`: the static checks CI runs (ruff, ruff format, mypy); `make test`: those and
# the whole test suite, as CI runs it. Both take VENV=path to use an existing environment.
.PHONY: check test format

check:
	bash scripts/check.sh

test:
	bash scripts/test.sh

# Rewrite the files `make check` would find unformatted, and fix what ruff can fix itself.
format:
	$${VENV:-.venv}/bin/python -m ruff format src tests bench
	$${VENV:-.venv}/bin/python -m ruff check --fix src tests bench
