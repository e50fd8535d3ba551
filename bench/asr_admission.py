"""ASR admission: how many concurrent utterances one server finishes within the final timeout.

One real ASR server (`manage.py run_asr_server`, admitting far more than it is offered) gets
`c` utterances at once, for each level `c`: espeak-ng French answers played in 100 ms frames
at real-time pace as a learner's socket relays them (partials decoded meanwhile), a
mid-stream evaluation at the end of speech (the speculative verdict), 0.6 s of trailing
silence, then END_OF_AUDIO. Reported per level: the final's latency after END_OF_AUDIO
(median, max) and how many finals came within ASR_FINAL_TIMEOUT_S. The largest level where
every final came in time, with a margin (the slowest within half the timeout), is what
`ASR_MAX_CLIENTS` should admit on this machine; more is answered WAIT, which the client turns
into an immediate `asr_busy` ("try again in a moment") instead of a timeout.

    .venv/bin/python bench/asr_admission.py [--levels 1,2,3,4,6,8] [--rounds 2]
        [--output bench/results/asr_admission.json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import CACHE, RESULTS, asr_server, django_setup, fmt, md_table  # noqa: E402

django_setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402

from interaction.asr.audio import decode_upload  # noqa: E402
from interaction.asr.types import AsrError, RecognitionOptions  # noqa: E402
from interaction.asr.whisperlive import WhisperLiveProvider  # noqa: E402
from interaction.stream_client import paced, with_tail  # noqa: E402

ANSWERS = (
    "Je voudrais un café, s'il vous plaît",
    "Je voudrais manger sur place",
    "Un croissant et un jus d'orange, merci",
    "L'addition, s'il vous plaît",
)
TAIL_S = 0.6


def speak(text: str) -> np.ndarray:
    folder = CACHE / "admission"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.wav"
    if not path.is_file():
        raw = path.with_suffix(".raw.wav")
        subprocess.run(["espeak-ng", "-v", "fr", "-s", "150", "-w", str(raw), text], check=True)
        subprocess.run(
            ["sox", "-D", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)], check=True
        )
        raw.unlink()
    return decode_upload(
        path.read_bytes(),
        content_type="audio/wav",
        filename="a.wav",
        max_bytes=10**8,
        max_seconds=60,
    )


async def utterance(provider: WhisperLiveProvider, clip: np.ndarray, text: str) -> float | None:
    """Seconds from END_OF_AUDIO to the final; None when it failed."""
    options = RecognitionOptions(language="fr", other_languages=("en",), candidates=(text,))
    stream = await provider.open_stream(options)
    reader = asyncio.create_task(_drain(stream))
    try:
        speech_frames = int(clip.size / 1600)
        evaluation: asyncio.Task[object] | None = None
        index = 0
        async for frame in paced(with_tail(clip, TAIL_S)):
            await stream.send_audio(frame.astype(np.float32).tobytes())
            index += 1
            if index == speech_frames + 3:  # 0.3 s after speech: the speculative evaluation
                evaluation = asyncio.create_task(stream.evaluate())
        started = time.perf_counter()
        try:
            await stream.finish()
        except AsrError as failed:
            print(f"  failed: {failed}", flush=True)
            return None
        if evaluation is not None and not evaluation.done():
            evaluation.cancel()
        return time.perf_counter() - started
    finally:
        reader.cancel()
        await stream.close()


async def _drain(stream: object) -> None:
    async for _ in stream.partials():  # type: ignore[attr-defined]
        pass


async def level(url: str, concurrency: int, clips: list[tuple[str, np.ndarray]]) -> list:
    # Each run its own provider: a long final must not open the breaker for the next level.
    provider = WhisperLiveProvider([url], connect_timeout=30, final_timeout=300)
    jobs = []
    for index in range(concurrency):
        text, clip = clips[index % len(clips)]
        jobs.append(asyncio.create_task(utterance(provider, clip, text)))
        await asyncio.sleep(0.05)  # learners do not start in the same millisecond
    return list(await asyncio.gather(*jobs))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,2,3,4,6,8")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS / "asr_admission.json")
    args = parser.parse_args()
    timeout = float(settings.ASR_FINAL_TIMEOUT_S)
    clips = [(text, speak(text)) for text in ANSWERS]
    levels = [int(value) for value in args.levels.split(",")]
    rows: list[list[object]] = []
    records: list[dict[str, Any]] = []
    with asr_server(port=free_port(), env={"ASR_MAX_CLIENTS": str(max(levels) + 1)}) as server:
        asyncio.run(level(server.url, 1, clips))  # warm-up
        for concurrency in levels:
            latencies: list[float | None] = []
            for _ in range(args.rounds):
                latencies += asyncio.run(level(server.url, concurrency, clips))
            done = [value for value in latencies if value is not None]
            in_time = sum(1 for value in done if value <= timeout)
            record = {
                "concurrency": concurrency,
                "utterances": len(latencies),
                "final_median_s": float(np.median(done)) if done else None,
                "final_max_s": max(done) if done else None,
                "within_timeout": in_time,
            }
            records.append(record)
            rows.append(
                [
                    concurrency,
                    len(latencies),
                    fmt(record["final_median_s"]),
                    fmt(record["final_max_s"]),
                    f"{in_time}/{len(latencies)}",
                ]
            )
            print(rows[-1], flush=True)
    safe = [
        r["concurrency"]
        for r in records
        if r["within_timeout"] == r["utterances"] and (r["final_max_s"] or 0) <= timeout / 2
    ]
    result = {
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "final_timeout_s": timeout,
        "levels": records,
        "recommended_max_clients": max(safe) if safe else 1,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        md_table(
            ["concurrent", "utterances", "final median s", "final max s", "within timeout"], rows
        )
    )
    print(f"recommended ASR_MAX_CLIENTS: {result['recommended_max_clients']}")


if __name__ == "__main__":
    main()
