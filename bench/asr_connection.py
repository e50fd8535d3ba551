"""What a streamed utterance's ASR traffic costs the app: a new connection against a kept one.

    python -m bench.asr_connection [--utterances 300] [--rounds 4]

The capacity bench's scripted WhisperLive peer runs in a process of its own; this process
plays utterances through `WhisperLiveProvider` as the socket does (open, audio in 0.3 s
chunks, finish), on uvloop, with kept connections off (`keep_idle_s=0`: a new connection
per utterance) and on, alternating `--rounds` times, the order flipped each round. It
reports this process's CPU per utterance (what a learner's answer costs the app server),
for an utterance of one chunk and for a two-second answer's seven. No database, no Django
settings.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import uvloop

from interaction.asr.types import RecognitionOptions
from interaction.asr.whisperlive import WhisperLiveProvider
from tests.live import free_port

OPTIONS = RecognitionOptions(
    language="fr", other_languages=("en",), candidates=("Je voudrais un café",)
)
CHUNK = np.zeros(int(16_000 * 0.3), dtype=np.float32).tobytes()
WARM_UP = 20
RESULTS = Path(__file__).parent / "results" / "asr_connection.json"


async def utterances(url: str, *, keep_idle_s: float, count: int, chunks: int) -> float:
    """CPU ms of this process per utterance, over `count` utterances after a warm-up."""
    pool = WhisperLiveProvider([url], keep_idle_s=keep_idle_s)

    async def one(chunk_count: int) -> None:
        stream = await pool.open_stream(OPTIONS)
        for _ in range(chunk_count):
            await stream.send_audio(CHUNK)
        await stream.finish()

    for _ in range(WARM_UP):
        await one(1)
    started = time.process_time()
    for _ in range(count):
        await one(chunks)
    return (time.process_time() - started) / count * 1000


def measure(url: str, *, count: int, rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for chunks in (1, 7):
        runs: dict[str, list[float]] = {"new": [], "kept": []}
        for round_ in range(rounds):
            order = (("new", 0.0), ("kept", 10.0))
            for name, keep in order if round_ % 2 == 0 else order[::-1]:  # ABBA: no order bias
                ms = uvloop.run(utterances(url, keep_idle_s=keep, count=count, chunks=chunks))
                runs[name].append(round(ms, 3))
        results[f"{chunks}_chunks"] = runs
        print(f"{chunks} chunk(s): new {runs['new']} ms, kept {runs['kept']} ms per utterance")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    port = free_port()
    peer = subprocess.Popen(
        [sys.executable, "-m", "bench.capacity", "--role", "peer", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert peer.stdout is not None
        if "peer ready" not in peer.stdout.readline():
            raise SystemExit("the scripted peer did not start")
        results = measure(f"ws://127.0.0.1:{port}", count=args.utterances, rounds=args.rounds)
    finally:
        peer.terminate()
        peer.wait(timeout=10)
    RESULTS.write_text(
        json.dumps({"utterances": args.utterances, "rounds": args.rounds, **results}, indent=1)
        + "\n"
    )


if __name__ == "__main__":
    main()
