"""Paused real voices over the socket: is a thinking pause ever judged as the answer's end?

Real recordings with their exact texts: Debian's French telephony prompts
(`asterisk-core-sounds-fr-g722`, G.722 at 16 kHz, one speaker; texts in
`asterisk-core-sounds-fr`, CC-BY-SA-3.0). Each chosen prompt is played twice at real-time
pace with no stop gesture (the learner simply stops talking; the stop comes only after
`--tail-s` of silence): as recorded (`plain`), and with 1–2 s of silence inserted at the
quietest point between its words in the middle of the sentence (`paused`). Each answers a
one-turn scenario whose accepted answer is the prompt's text, in a fresh session.

With `--legacy-tree DIR` (e.g. `git archive <commit> | tar -x -C DIR`) that tree's ASR
server and Daphne run beside this tree's, each on a database of its own, and the clips
alternate between them (see bench/stream_fast.py).

Reported per system and variant: answers judged before the end of speech (a verdict that
came while words were still to come), hearts lost, the share judged correct, end of speech
→ verdict (median, max), and for plain answers end of speech → `final` of a correct answer
(median). Speech bounds: Silero VAD on the played clip.

Without `--audio`/`--texts` the two packages are fetched with `apt-get download` and
unpacked with `dpkg -x` under var/bench/asterisk-fr.

    .venv/bin/python bench/stream_pauses.py [--count 14] [--legacy-tree DIR]
        [--audio DIR --texts FILE.txt.gz] [--output bench/results/stream_pauses.json]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gzip
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import av  # noqa: E402
import numpy as np  # noqa: E402

from bench.stream_fast import (  # noqa: E402  (sets Django up)
    Server,
    speech_bounds,
    start_system,
)
from interaction.stream_client import StreamClient  # noqa: E402
from interaction.stream_client import register_learner as register  # noqa: E402

PACKAGES = ("asterisk-core-sounds-fr-g722", "asterisk-core-sounds-fr")
HOME = REPO / "var/bench/asterisk-fr"
AUDIO = "usr/share/asterisk/sounds/fr_CA_f_June"
TEXTS = "usr/share/doc/asterisk-core-sounds-fr/core-sounds-fr.txt.gz"
RATE = 16_000
VARIANTS = ("plain", "paused")
VERDICTS = ("final", "penalty", "reset", "error")


def fetch() -> tuple[Path, Path]:
    """The prompts' audio folder and texts file, downloaded and unpacked once."""
    audio, texts = HOME / AUDIO, HOME / TEXTS
    if not (audio.is_dir() and texts.is_file()):
        debs = HOME / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "-q", "download", *PACKAGES], check=True, cwd=debs)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg", "-x", str(deb), str(HOME)], check=True)
    return audio, texts


def prompt_texts(path: Path) -> dict[str, str]:
    """name → text, from the package's `name: text` lines (sound effects left out)."""
    texts = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        entries = [line.partition(":") for line in lines]
    for name, sep, text in entries:
        text = text.strip().strip('“”"')
        if sep and text[:1].isalpha() and not re.search(r"[\[\](){}]", text):
            texts[name.strip()] = text
    return texts


def decode(path: Path) -> np.ndarray:
    """A G.722 prompt as 16 kHz mono float32."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        parts = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    return np.concatenate(parts).astype(np.float32)


def quietest_point(samples: np.ndarray, onset: float, end: float) -> int:
    """The sample at the quietest 60 ms between 30 % and 70 % of the speech: a word gap."""
    hop = RATE // 100  # 10 ms
    frames = samples[: samples.size // hop * hop].reshape(-1, hop)
    energy = np.convolve(np.sqrt(np.mean(frames**2, axis=1)), np.ones(6) / 6, mode="same")
    first = int((onset + 0.3 * (end - onset)) * 100)
    last = int((onset + 0.7 * (end - onset)) * 100)
    return (first + int(np.argmin(energy[first:last]))) * hop


def usable_prompts(
    audio: Path, texts: Path
) -> list[tuple[str, str, np.ndarray, tuple[float, float]]]:
    """Every prompt of 4–12 words with speech of 1.5–6 s: (name, text, samples, bounds)."""
    chosen = []
    for name, text in sorted(prompt_texts(texts).items()):
        path = audio / f"{name}.g722"
        if not path.is_file() or not 4 <= len(text.split()) <= 12:
            continue
        samples = decode(path)
        bounds = speech_bounds(samples)
        if bounds is not None and 1.5 <= bounds[1] - bounds[0] <= 6.0:
            chosen.append((name, text, samples, bounds))
    return chosen


def clips(audio: Path, texts: Path, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` prompts of 4–12 words with speech of 1.5–6 s, each plain and paused."""
    rng = random.Random(seed)
    chosen: list[dict[str, Any]] = [
        {"name": name, "text": text, "samples": samples, "bounds": bounds}
        for name, text, samples, bounds in usable_prompts(audio, texts)
    ]
    step = max(1, len(chosen) // count)
    items = []
    for clip in chosen[::step][:count]:
        at = quietest_point(clip["samples"], *clip["bounds"])
        pause_s = round(rng.uniform(1.0, 2.0), 2)
        paused = np.concatenate(
            [clip["samples"][:at], np.zeros(int(pause_s * RATE), np.float32), clip["samples"][at:]]
        )
        for variant, samples in (("plain", clip["samples"]), ("paused", paused)):
            bounds = speech_bounds(samples)
            assert bounds is not None
            items.append(
                {
                    "id": f"{clip['name']}·{variant}",
                    "name": clip["name"],
                    "text": clip["text"],
                    "variant": variant,
                    "pause_s": pause_s if variant == "paused" else 0.0,
                    "pause_at_s": round(at / RATE, 3) if variant == "paused" else None,
                    "samples": samples,
                    "bounds": bounds,
                }
            )
    return items


def scenario_mappings(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "slug": f"pause-{item['name']}",
            "title": f"Paused answers: {item['name']}",
            "language": "fr",
            "difficulty": "normal",
            "lives": 3,
            "streaming_enabled": True,
            "turns": [{"prompt": "Répétez.", "answers": [item["text"]]}],
        }
        for item in {item["name"]: item for item in items}.values()
    ]


async def answer(base_url: str, token: str, item: dict[str, Any], tail_s: float) -> dict:
    client = await StreamClient.open(base_url, token, timeout=60, tail_s=tail_s)
    try:
        ready = await client.start(scenario=f"pause-{item['name']}")
        assert ready["type"] == "ready", ready
        events, timing = await client.answer(item["samples"])
    finally:
        await client.close()
    onset, end = item["bounds"]
    verdicts = [e for e in events if e["type"] in VERDICTS]
    verdict = verdicts[-1] if verdicts else {}
    return {
        "id": item["id"],
        "variant": item["variant"],
        "text": item["text"],
        "pause_s": item["pause_s"],
        "pause_at_s": item["pause_at_s"],
        "onset_s": round(onset, 3),
        "speech_end_s": round(end, 3),
        "verdict": verdict.get("type"),
        "outcome": verdict.get("outcome") or verdict.get("reason"),
        "auto": verdict.get("auto"),
        "transcript": verdict.get("transcript"),
        "lives_lost": -sum(min(0, e.get("livesDelta", 0)) for e in events),
        "verdict_s": None if timing.verdict_s is None else round(timing.verdict_s - end, 3),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 3) if values else None

    delays = [r["verdict_s"] for r in rows if r["verdict_s"] is not None]
    finals = [
        r["verdict_s"]
        for r in rows
        if r["verdict"] == "final" and r["outcome"] == "correct" and r["verdict_s"] is not None
    ]
    return {
        "answers": len(rows),
        "judged_before_the_end": sum(1 for d in delays if d < 0),
        "hearts_lost": sum(r["lives_lost"] for r in rows),
        "correct": sum(1 for r in rows if r["outcome"] == "correct"),
        "end_to_verdict_s": {"median": median(delays), "max": max(delays) if delays else None},
        "end_to_final_correct_s": {"n": len(finals), "median": median(finals)},
        "no_verdict": sum(1 for r in rows if r["verdict_s"] is None),
        "outcomes": dict(collections.Counter(r["outcome"] for r in rows).most_common()),
    }


def table(summary: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| system · variant | answers | judged before the end | hearts lost | judged correct "
        "| end → verdict, median (max) | end → final (correct), median |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, s in summary.items():
        lines.append(
            f"| {key} | {s['answers']} | {s['judged_before_the_end']} | {s['hearts_lost']} "
            f"| {s['correct']} / {s['answers']} | {s['end_to_verdict_s']['median']} s "
            f"({s['end_to_verdict_s']['max']} s) | {s['end_to_final_correct_s']['median']} s "
            f"(n {s['end_to_final_correct_s']['n']}) |"
        )
    return "\n".join(lines)


async def run(systems: dict[str, str], items: list[dict[str, Any]], tail_s: float) -> list:
    tokens = {name: await asyncio.to_thread(register, url) for name, url in systems.items()}
    rows = []
    for number, item in enumerate(items, start=1):
        for name, url in systems.items():
            row = {"system": name, **await answer(url, tokens[name], item, tail_s)}
            rows.append(row)
            print(f"[{number}/{len(items)}] {json.dumps(row, ensure_ascii=False)}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=14, help="prompts (each plain and paused)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--tail-s", type=float, default=4.0, help="silence before the stop")
    parser.add_argument("--audio", type=Path, default=None)
    parser.add_argument("--texts", type=Path, default=None)
    parser.add_argument("--legacy-tree", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/stream_pauses.json")
    args = parser.parse_args()
    audio, texts = (args.audio, args.texts) if args.audio and args.texts else fetch()
    items = clips(audio, texts, args.count, args.seed)
    trees = {"new": REPO}
    if args.legacy_tree is not None:
        trees["legacy"] = args.legacy_tree.resolve()
    servers: list[Server] = []
    systems: dict[str, str] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        mappings = Path(tmp) / "scenarios.json"
        mappings.write_text(json.dumps(scenario_mappings(items), ensure_ascii=False))
        try:
            for name, tree in trees.items():
                started, systems[name] = start_system(
                    name, tree, mappings, Path(tmp), database_suffix="pauses"
                )
                servers += started
            rows = asyncio.run(run(systems, items, args.tail_s))
        finally:
            for server in reversed(servers):
                server.stop()
    summary = {
        f"{name} · {variant}": summarise(
            [r for r in rows if r["system"] == name and r["variant"] == variant]
        )
        for variant in VARIANTS
        for name in systems
    }
    result = {
        "rows": rows,
        "summary": summary,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "prompts": args.count,
        "tail_s": args.tail_s,
        "source": "Debian asterisk-core-sounds-fr(-g722) 1.6.1, fr_CA_f_June, CC-BY-SA-3.0",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(summary))
    print(f"load average before {load_before}, after {result['load_average']['after']}")


if __name__ == "__main__":
    main()
