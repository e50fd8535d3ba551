"""Where a server process spends its CPU: py-spy's sampled stacks, summed per streamed second.

`bench.capacity --profile DIR` records the app server with py-spy (a bench-only tool, not a
project dependency: `.venv/bin/pip install py-spy`) during each profiled step's streaming
window, all threads, without pausing the process (`--nonblocking`), idle threads left out,
so a sample is a thread running Python or C code (or waiting for the GIL inside it). Then

    python -m bench.profile_stacks DIR/parley_100.txt --learners 100 --seconds 8

prints the top costs: self time by function, inclusive time of the project's own functions,
and self time by area (ORM, Postgres driver, WebSocket framing, JSON, asyncio…), each in
milliseconds of CPU per learner per streamed second and as a share of all samples.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

RATE = 100  # samples a second
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*)\)$")
PROJECT = ("interaction/", "config/", "telemetry/", "scenarios/", "bench/")
# The area of a self frame, by the first of these its file starts with (or contains).
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("websocket framing (autobahn, twisted)", ("autobahn/", "twisted/", "txaio/")),
    ("daphne (ASGI server)", ("daphne/",)),
    ("channels (consumer, layer)", ("channels/", "channels_redis/", "asgiref/")),
    ("redis client", ("redis/",)),
    ("Django ORM and transactions", ("django/db/",)),
    ("Django (other)", ("django/",)),
    ("Postgres driver (psycopg)", ("psycopg/", "psycopg_binary/", "psycopg_pool/")),
    ("JSON", ("json/",)),
    ("asyncio and threads", ("asyncio/", "threading.py", "concurrent/", "queue.py")),
    ("numpy / audio", ("numpy/", "av/", "interaction/asr/audio")),
    ("telemetry and metrics", ("telemetry/", "prometheus_client/")),
    ("Parley streaming (interaction/ws)", ("interaction/ws/",)),
    ("Parley (other app code)", PROJECT),
    ("logging", ("logging/",)),
)


def record(
    *, pid: int, seconds: float, out: Path, rate: int = RATE, children: bool = False
) -> subprocess.Popen[bytes]:
    """Start py-spy on `pid` (and its child processes) for `seconds` (it writes `out`)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "--pid", str(pid), "--format", "raw", "--nolineno"]
    command += ["--rate", str(rate), "--duration", str(max(1, round(seconds)))]
    command += ["--gil", "--nonblocking", "--output", str(out)]
    command += ["--subprocesses"] if children else []
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class Profile:
    samples: int
    self_by_function: Counter[str]
    inclusive_project: Counter[str]
    self_by_area: Counter[str]


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for part in stack.split(";"):
        match = FRAME.match(part.strip())
        if match:
            frames.append((match["function"], match["file"]))
        else:
            frames.append((part.strip(), ""))
    return frames


def area_of(file: str) -> str:
    for name, prefixes in AREAS:
        if any(file.startswith(p) or f"/{p}" in file for p in prefixes):
            return name
    return "other (stdlib, C calls)"


def load(path: Path) -> Profile:
    self_fn: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        total += count
        function, file = frames[-1]
        self_fn[f"{function} ({file})"] += count
        areas[area_of(file)] += count
        seen = {f"{fn} ({fl})" for fn, fl in frames if fl.startswith(PROJECT)}
        for name in seen:
            inclusive[name] += count
    return Profile(total, self_fn, inclusive, areas)


def summary(
    profile: Profile, *, learners: int, seconds: float, rate: int = RATE, top: int = 15
) -> dict[str, list[tuple[str, float, float]]]:
    """(name, ms of CPU per learner per streamed second, share of samples) lists."""
    per = 1000 / rate / (learners * seconds)

    def rows(counter: Counter[str]) -> list[tuple[str, float, float]]:
        return [
            (name, round(n * per, 3), round(100 * n / max(1, profile.samples), 1))
            for name, n in counter.most_common(top)
        ]

    return {
        "areas": rows(profile.self_by_area),
        "self": rows(profile.self_by_function),
        "project_inclusive": rows(profile.inclusive_project),
        "total": [("all samples", round(profile.samples * per, 3), 100.0)],
    }


def markdown(result: dict[str, list[tuple[str, float, float]]], key: str) -> str:
    lines = ["| where | ms CPU per learner-second | share |", "|---|---|---|"]
    lines += [f"| `{name}` | {ms:.2f} | {share:.0f} % |" for name, ms, share in result[key]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", type=Path)
    parser.add_argument("--learners", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=int, default=RATE)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = summary(
        load(args.stacks),
        learners=args.learners,
        seconds=args.seconds,
        rate=args.rate,
        top=args.top,
    )
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key in ("total", "areas", "self", "project_inclusive"):
        print(f"\n## {key}\n\n{markdown(result, key)}")


if __name__ == "__main__":
    main()
