"""How long a verdict waits for the shared model while partials stream (in-process).

Two threads share one model, as in the ASR server: a partial loop (`PartialStreamer.decode`
every 0.3 s of a clip's audio, as it would run while the learner speaks) and, every
`--every-s`, an evidence pass (`answer_evidence`, what an evaluate or a final pass runs)
whose `timings_ms.lock_wait` is recorded. Run once with `locking.ModelLock` (partials yield)
and once with a plain `threading.Lock`, on the same clips.

    .venv/bin/python bench/partial_lock.py --manifest DIR/manifest.json [--clips 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from interaction.asr.audio import decode_upload  # noqa: E402
from interaction.asr.server.evidence import answer_evidence  # noqa: E402
from interaction.asr.server.loading import load_model  # noqa: E402
from interaction.asr.server.locking import ModelLock  # noqa: E402
from interaction.asr.server.model_files import ensure_model  # noqa: E402
from interaction.asr.server.partials import PartialStreamer, PartialTimings  # noqa: E402


class _Client:
    """What PartialStreamer.decode reads of WhisperLive's client."""

    def __init__(self, model: Any, language: str) -> None:
        self.transcriber, self.language = model, language
        self.no_speech_thresh, self.client_uid, self.exit = 0.45, "bench", False


def measure(model: Any, clips: list[dict[str, Any]], lock: Any, rounds: int) -> dict[str, Any]:
    waits: list[float] = []
    partial_ms: list[float] = []
    for item in clips:
        audio = item["samples"]
        streamer = PartialStreamer(
            _Client(model, item["target"]), lock=lock, timings=PartialTimings()
        )
        stop = threading.Event()

        def partials(
            streamer: PartialStreamer = streamer,
            audio: np.ndarray = audio,
            stop: threading.Event = stop,
        ) -> None:
            end = 8_000
            while not stop.is_set():
                streamer._decoded_speech = 0  # decode every time: the busiest case
                decoded = streamer.decode(audio[:end])
                if decoded is not None:
                    partial_ms.append(decoded.decode_ms)
                end = min(audio.size, end + 4_800)

        thread = threading.Thread(target=partials, daemon=True)
        thread.start()
        for _ in range(rounds):
            time.sleep(0.23)  # land somewhere inside a partial decode
            payload = answer_evidence(
                model,
                audio,
                target_language=item["target"],
                accepted_answers=item["answers"],
                lock=lock,
            )
            waits.append(payload["timings_ms"].get("lock_wait", 0.0))
        stop.set()
        thread.join()
    ordered = sorted(waits)
    return {
        "evaluations": len(waits),
        "lock_wait_ms_median": round(statistics.median(ordered), 1),
        "lock_wait_ms_p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
        "lock_wait_ms_max": round(ordered[-1], 1),
        "partial_decode_ms_median": round(statistics.median(partial_ms), 1) if partial_ms else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/partial_lock.json")
    args = parser.parse_args()
    manifest = json.loads(args.manifest.read_text())
    speech = [item for item in manifest if item["expected"] == "correct"]
    step = max(1, len(speech) // args.clips)
    clips = []
    for item in speech[::step][: args.clips]:
        path = args.manifest.parent / item["wav"]
        samples = decode_upload(
            path.read_bytes(),
            content_type=None,
            filename=path.name,
            max_bytes=10**8,
            max_seconds=60,
        )
        clips.append({**item, "samples": samples})
    model = load_model(ensure_model("base", None), device="cpu", compute_type="int8", cpu_threads=2)
    load_before = os.getloadavg()
    result = {
        "ModelLock (partials yield)": measure(model, clips, ModelLock(), args.rounds),
        "threading.Lock": measure(model, clips, threading.Lock(), args.rounds),
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
