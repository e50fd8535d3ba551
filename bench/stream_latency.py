"""Streaming latency: Parley's socket vs the same clips sent straight to WhisperLive.

For every demo scenario, each turn's first accepted answer is spoken by espeak-ng and played
in 100 ms frames at real-time pace, followed by 0.6 s of silence and the stop gesture:

- through Parley: /stream/interaction on a Daphne process (Postgres, Redis, judging);
- direct: the same WhisperLive server, the same recognition options, its own protocol.

The two paths alternate clip by clip. Reported: speech onset → first partial and end of
speech → verdict (final/penalty), median and p90 per path, and the ratio Parley / direct.

    .venv/bin/python bench/stream_latency.py [--rounds 2] [--output FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402

from interaction.asr.audio import decode_upload  # noqa: E402
from interaction.asr.types import RecognitionOptions  # noqa: E402
from interaction.asr.whisperlive import WhisperLiveProvider  # noqa: E402
from interaction.stream_client import (  # noqa: E402
    TAIL_SILENCE_S,
    StreamClient,
    paced,
    with_tail,
)
from interaction.stream_client import register_learner as register  # noqa: E402
from scenarios.models import Scenario  # noqa: E402
from tests.live import ServerProcess, daphne_command, free_port, port_open  # noqa: E402

VOICES = {"fr": "fr", "es": "es", "de": "de", "en": "en-us"}
ONSET_LEVEL = 0.02


def speak(text: str, language: str, directory: Path) -> np.ndarray:
    path = directory / f"{abs(hash((text, language)))}.wav"
    subprocess.run(
        ["espeak-ng", "-v", VOICES[language], "-s", "150", "-w", str(path), text], check=True
    )
    return decode_upload(
        path.read_bytes(), content_type=None, filename=path.name, max_bytes=10**8, max_seconds=60
    )


def speech_bounds(samples: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(samples) > ONSET_LEVEL)
    return loud[0] / 16_000, (loud[-1] + 1) / 16_000


async def direct(provider: WhisperLiveProvider, samples: np.ndarray, options: RecognitionOptions):
    """(first partial, verdict) seconds from the first frame, on WhisperLive's own protocol."""
    stream = await provider.open_stream(options)
    started = time.monotonic()
    first_partial: list[float] = []

    async def read() -> None:
        async for _ in stream.partials():
            if not first_partial:
                first_partial.append(time.monotonic() - started)

    reader = asyncio.create_task(read())
    async for frame in paced(with_tail(samples, TAIL_SILENCE_S)):
        await stream.send_audio(frame.tobytes())
    await stream.finish()
    verdict = time.monotonic() - started
    reader.cancel()
    return (first_partial[0] if first_partial else None), verdict


def prepare(workdir: Path) -> list[tuple[str, str, list[tuple[str, np.ndarray, tuple[str, ...]]]]]:
    """(slug, language, [(answer, speech, accepted answers)]) for every demo scenario."""
    plays = []
    for scenario in Scenario.objects.prefetch_related("turns__answers").order_by("slug"):
        clips = []
        for turn in scenario.turns.all():
            answers = tuple(answer.text for answer in turn.answers.all())
            clips.append((answers[0], speak(answers[0], scenario.language, workdir), answers))
        plays.append((scenario.slug, scenario.language, clips))
    return plays


async def run(rounds: int, base_url: str, asr_url: str, plays: list) -> dict:
    provider = WhisperLiveProvider([asr_url])
    token = await asyncio.to_thread(register, base_url)
    rows = []
    for round_index in range(rounds):
        for slug, language, clips in plays:
            client = await StreamClient.open(base_url, token, timeout=60)
            ready = await client.start(scenario=slug)
            assert ready["type"] == "ready", ready
            for answer, samples, accepted in clips:
                onset, end = speech_bounds(samples)
                events, timing = await client.answer(samples)
                options = RecognitionOptions(language=language, candidates=accepted)
                direct_partial, direct_verdict = await direct(provider, samples, options)
                rows.append(
                    {
                        "round": round_index,
                        "scenario": slug,
                        "answer": answer,
                        "onset_s": onset,
                        "speech_end_s": end,
                        "parley_first_partial_s": _minus(timing.first_partial_s, onset),
                        "parley_verdict_s": _minus(timing.verdict_s, end),
                        "parley_outcome": events[-1].get("outcome", events[-1]["type"]),
                        "parley_auto": bool(events[-1].get("auto")),
                        "direct_first_partial_s": _minus(direct_partial, onset),
                        "direct_verdict_s": _minus(direct_verdict, end),
                    }
                )
                print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
                if events[-1].get("status") in ("completed", "failed"):
                    break
            await client.close()
    return {
        "rows": rows,
        "summary": summarise(rows),
        "settings": {
            "ASR_MODEL": settings.ASR_MODEL,
            "tail_silence_s": TAIL_SILENCE_S,
        },
    }


def _minus(value: float | None, offset: float) -> float | None:
    return None if value is None else round(value - offset, 3)


def summarise(rows: list[dict]) -> dict:
    def stats(key: str) -> dict:
        values = sorted(row[key] for row in rows if row[key] is not None)
        if not values:
            return {"n": 0}
        p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
        return {
            "n": len(values),
            "median": round(statistics.median(values), 3),
            "p90": round(p90, 3),
        }

    summary = {
        key: stats(key)
        for key in (
            "parley_first_partial_s",
            "direct_first_partial_s",
            "parley_verdict_s",
            "direct_verdict_s",
        )
    }
    for measure in ("first_partial_s", "verdict_s"):
        parley, straight = summary[f"parley_{measure}"], summary[f"direct_{measure}"]
        if parley.get("n") and straight.get("n"):
            summary[f"ratio_{measure}"] = {
                "median": round(parley["median"] / straight["median"], 3),
                "p90": round(parley["p90"] / straight["p90"], 3),
            }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/stream_latency.json")
    args = parser.parse_args()
    asr_port, app_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "ASR_SERVERS": f"ws://127.0.0.1:{asr_port}",
        }
        asr = ServerProcess(
            [sys.executable, str(REPO / "manage.py"), "run_asr_server", "--port", str(asr_port)],
            env=env,
            log_path=workdir / "asr.log",
        )
        app = ServerProcess(daphne_command(app_port), env=env, log_path=workdir / "daphne.log")
        try:
            asr.start(
                lambda: "parley-asr ready" in (workdir / "asr.log").read_text(),
                timeout=120,
                what="ASR server",
            )
            app.start(lambda: port_open(app_port), timeout=60, what="Daphne")
            plays = prepare(workdir)
            result = asyncio.run(
                run(
                    args.rounds, f"http://127.0.0.1:{app_port}", f"ws://127.0.0.1:{asr_port}", plays
                )
            )
        finally:
            app.stop()
            asr.stop()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
