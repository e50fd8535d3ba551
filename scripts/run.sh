#!/usr/bin/env bash
# Set up, then run Parley: the WhisperLive ASR server and Daphne (HTTP + WebSocket) on loopback.
# PORT (default 8000) and ASR_PORT (default 9090) choose the ports; Ctrl-C stops both.
# PARLEY_WEB_PROCESSES=N (or auto: one per core; default 1) runs N Daphne processes on PORT
# (config/workers.py), sharing Postgres and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

VENV=${VENV:-.venv}
PORT=${PORT:-8000}
ASR_PORT=${ASR_PORT:-9090}
export ASR_SERVERS=${ASR_SERVERS:-ws://127.0.0.1:$ASR_PORT}

"$VENV/bin/python" manage.py run_asr_server --port "$ASR_PORT" &
asr_pid=$!
trap 'kill "$asr_pid" 2>/dev/null; wait "$asr_pid" 2>/dev/null' EXIT INT TERM

echo "Parley: http://127.0.0.1:$PORT/  (API under /api/, admin under /admin/; ASR on :$ASR_PORT;" \
  "web processes: ${PARLEY_WEB_PROCESSES:-1})"
"$VENV/bin/python" -m config.server -b 127.0.0.1 -p "$PORT" config.asgi:application
