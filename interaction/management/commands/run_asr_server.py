"""`manage.py run_asr_server`: the WhisperLive server with Parley's final pass.

Binds loopback by default; the port defaults to the first `ASR_SERVERS` URL's port, the
model to `ASR_MODEL`. The base model is assembled and verified first if needed.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

# Light: the package loads no model library until run(), which first makes the process
# offline (HF_HUB_OFFLINE=1) and then imports faster-whisper and whisper-live.
from interaction.asr.server import ModelError, run

MODEL_CHOICES = ("base", "tiny.en")


def _default_port() -> int:
    servers = getattr(settings, "ASR_SERVERS", None) or ["ws://127.0.0.1:9090"]
    return urlsplit(servers[0]).port or 9090


class Command(BaseCommand):
    help = "Run the WhisperLive ASR server (faster-whisper, one shared model, final pass)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
        parser.add_argument("--port", type=int, default=None, help="default: ASR_SERVERS[0]")
        parser.add_argument("--model", choices=MODEL_CHOICES, default=None, help="ASR_MODEL")
        parser.add_argument("--max-clients", type=int, default=settings.ASR_MAX_CLIENTS)
        parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
        parser.add_argument("--cpu-threads", type=int, default=0, help="0: all cores, up to 8")
        parser.add_argument("--model-dir", type=Path, default=None, help="ASR_MODEL_DIR")

    def handle(self, *args: object, **options: Any) -> None:
        model = options["model"] or settings.ASR_MODEL
        if model not in MODEL_CHOICES:
            raise CommandError(
                f"ASR_MODEL must be one of {', '.join(MODEL_CHOICES)}, not {model!r}"
            )
        # SIGTERM (process managers, test fixtures) stops as gracefully as Ctrl-C: clients get
        # a "going away" close instead of a reset.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            run(
                host=options["host"],
                port=options["port"] or _default_port(),
                model=model,
                max_clients=options["max_clients"],
                model_dir=options["model_dir"] or Path(settings.ASR_MODEL_DIR),
                device=options["device"],
                cpu_threads=options["cpu_threads"],
                announce=self._announce,
            )
        except ModelError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            self.stdout.write("ASR server stopped.")

    def _announce(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()  # test fixtures wait for this line


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
