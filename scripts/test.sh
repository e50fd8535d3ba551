#!/usr/bin/env bash
# Set up, then run the checks and the whole test suite: ESLint and the JavaScript unit tests
# (scripts/test_js.sh), ruff, mypy, migrations, pytest (the fixtures start their own
# WhisperLive server and Daphne processes). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/test_js.sh

VENV=${VENV:-.venv}
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
"$VENV/bin/python" manage.py makemigrations --check --dry-run
"$VENV/bin/python" -m pytest "$@"
