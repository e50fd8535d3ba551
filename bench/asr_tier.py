"""ASR tier sizing: utterances per second one ASR server (the fair judge's pass) completes.

The real `manage.py run_asr_server` (base, int8, CPU) on this machine's cores; every demo
turn's first accepted answer spoken by espeak-ng; C workers each send one whole utterance
after another (the time-stop path's `transcribe`: one evidence pass with the turn's answers
as candidates) for `--seconds`. Reported per C: utterances per second, latency median / p90.

    python -m bench.asr_tier [--concurrency 1,2,4] [--seconds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, asr_server, django_setup

VOICES = {"fr": "fr", "es": "es", "de": "de", "en": "en-us"}


def clips(workdir: Path) -> list[tuple[bytes, str, tuple[str, ...], float]]:
    """(float32 samples, language, accepted answers, seconds) per demo turn."""
    import yaml

    from interaction.asr.audio import decode_upload

    out = []
    for path in sorted(Path("scenarios/demo").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        language = spec["language"]
        for index, turn in enumerate(spec["turns"]):
            answers = tuple(a if isinstance(a, str) else a["text"] for a in turn["answers"])
            wav = workdir / f"{path.stem}-{index}.wav"
            subprocess.run(
                ["espeak-ng", "-v", VOICES[language], "-s", "150", "-w", str(wav), answers[0]],
                check=True,
            )
            samples = decode_upload(
                wav.read_bytes(),
                content_type=None,
                filename=wav.name,
                max_bytes=10**8,
                max_seconds=60,
            )
            out.append((samples.tobytes(), language, answers, samples.size / 16_000))
    return out


async def measure(url: str, plays: list, concurrency: int, seconds: float) -> dict:
    from bench.common import whisperlive_provider
    from interaction.asr.types import RecognitionOptions

    provider = whisperlive_provider(url)
    latencies: list[float] = []
    audio_s = 0.0
    deadline = time.monotonic() + seconds

    async def worker(offset: int) -> None:
        nonlocal audio_s
        index = offset
        while time.monotonic() < deadline:
            samples, language, answers, length = plays[index % len(plays)]
            index += concurrency
            options = RecognitionOptions(language=language, candidates=answers)
            started = time.monotonic()
            await provider.transcribe(samples, options)
            latencies.append(time.monotonic() - started)
            audio_s += length

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    wall = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "utterances": len(latencies),
        "wall_s": round(wall, 1),
        "utterances_per_s": round(len(latencies) / wall, 2),
        "audio_s_per_s": round(audio_s / wall, 2),
        "latency_median_s": round(statistics.median(ordered), 3),
        "latency_p90_s": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--output", type=Path, default=RESULTS / "asr_tier.json")
    args = parser.parse_args()
    django_setup()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plays = clips(Path(tmp))
        with asr_server() as server:
            asyncio.run(measure(server.url, plays, 1, 5))  # warm-up, not counted
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                rows.append(asyncio.run(measure(server.url, plays, concurrency, args.seconds)))
                print(json.dumps(rows[-1]), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"rows": rows, "clips": len(plays)}, indent=1))


if __name__ == "__main__":
    main()
