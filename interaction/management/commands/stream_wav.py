"""`manage.py stream_wav --scenario SLUG FILE.wav...`: play answers over the streaming socket.

Each file is one answer, sent in 100 ms frames of 16 kHz pcm_s16le at real-time pace,
followed by 0.6 s of silence and the stop gesture (unless the server auto-finalised first).
Every event is printed as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from interaction.asr.audio import AudioError, decode_upload
from interaction.stream_client import StreamClient, register_learner
from interaction.vocabulary import SessionStatus

ENDED = (SessionStatus.COMPLETED, SessionStatus.FAILED)


class Command(BaseCommand):
    help = "Play WAV answers over /stream/interaction in real time and print every event."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--scenario", required=True, help="Scenario slug to play.")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Parley's base URL.")
        parser.add_argument("--token", help="API token (default: register a throwaway learner).")
        parser.add_argument(
            "--timeout", type=float, default=30.0, help="Seconds to wait for each event."
        )
        parser.add_argument("--speed", type=float, default=1.0, help="1 = real time.")

    def handle(self, *args: Any, **options: Any) -> None:
        clips = [self._load(path) for path in options["files"]]
        token = options["token"] or register_learner(options["url"])
        try:
            last = asyncio.run(self._play(options, token, clips))
        except TimeoutError as error:
            raise CommandError(f"No event within {options['timeout']:g} s.") from error
        self.stdout.write(
            f"status={last.get('status', 'active')} score={last['score']} "
            f"lives={last['lives_remaining']}/{last['lives_total']}"
        )

    def _load(self, path: Path) -> np.ndarray:
        try:
            return decode_upload(
                path.read_bytes(),
                content_type=None,
                filename=path.name,
                max_bytes=50 * 1024 * 1024,
                max_seconds=300,
            )
        except (OSError, AudioError) as error:
            raise CommandError(f"{path}: {error}") from error

    async def _play(self, options: dict[str, Any], token: str, clips: list[np.ndarray]):
        client = await StreamClient.open(
            options["url"],
            token,
            timeout=options["timeout"],
            speed=options["speed"],
            on_event=lambda event: self.stdout.write(json.dumps(event, ensure_ascii=False)),
        )
        try:
            ready = await client.start(scenario=options["scenario"])
            if ready["type"] == "error":
                raise CommandError(ready["message"])
            for clip in clips:
                if client.events[-1].get("status") in ENDED:
                    break
                await client.answer(clip)
        finally:
            await client.close()
        return client.events[-1]
