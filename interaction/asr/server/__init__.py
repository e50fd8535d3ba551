"""Parley's ASR server: what runs inside the `manage.py run_asr_server` process.

| module | job |
|---|---|
| `runner` | `run()`: offline, load, serve, announce READY_MARKER |
| `loading` | device choice, model load from local files, warm-up |
| `transcription_server` | WhisperLive's server with Parley's partial-pass and final-pass hooks |
| `options` | Parley's block of the connection options, read leniently |
| `final_pass` | one utterance's audio → the `parley.final` message |
| `encoder` | language ID and transcription share one encoder run |
| `locking` | holding the shared model's lock |
| `model_files` | where the model files live; assembling the split base model |

Importing this package loads no model library (faster-whisper, whisper-live, torch): those
load inside `run()`, after it has made the process offline. The client side of the wire
lives in `interaction.asr.whisperlive`; both spell the protocol from `interaction.asr.wire`.
"""

from __future__ import annotations

from .model_files import ModelError
from .runner import run

__all__ = ["ModelError", "run"]
