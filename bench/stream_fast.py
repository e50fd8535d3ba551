"""Streaming latency on realistic clips: this tree's socket beside an older tree's, one run.

Every speech clip of a realistic manifest (bench.realistic: MBROLA, Piper, espeak-ng voices
under noise) is answered over /stream/interaction at real-time pace, in two ways:

- `stop`: the clip, then the stop gesture 1.5 s after it (as issue 9 measured);
- `silence`: the clip, then silence only (the stop gesture only after `--silence-s`, 8 s).

`--rescore FILE.json` recomputes a result file's offsets and summary with the current
`speech_bounds` (no servers).

Each clip answers a one-turn copy of its scenario's turn (`fast-<slug>-<turn>`), in a fresh
session, so every clip is judged against its own accepted answers. With `--legacy-tree DIR`
(a checkout of the older code, e.g. `git archive <commit> | tar -x -C DIR`) that tree's ASR
server and Daphne run beside this tree's, each on a database of its own (migrated by its
own code), and the clips alternate between them. Speech onset and end come from Silero
VAD on the clip (no padding).

Reported per system and way: end of speech → `final` of a correct answer (median), end of
speech → `penalty` (median), end of speech → `unclear` reset (median), onset → first
`partial` (median), the longest gap between the end of speech and any verdict or reset (and
the same without the clips the socket never heard: a `no_speech` reset at the stop), the
outcomes, and the load average.

    .venv/bin/python bench/stream_fast.py --manifest DIR/manifest.json [--every 8]
        [--legacy-tree DIR] [--output FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from django.conf import settings  # noqa: E402

from interaction.asr.audio import decode_upload  # noqa: E402
from interaction.stream_client import StreamClient  # noqa: E402
from interaction.stream_client import register_learner as register  # noqa: E402
from tests.live import daphne_command, free_port, port_open, tail  # noqa: E402

STOP_AFTER_S = 1.5
SILENCE_S = 8.0
WAYS = ("stop", "silence")
VERDICTS = ("final", "penalty", "reset", "error")


class Server:
    """A subprocess run in `cwd`, its output in a log file."""

    def __init__(self, command: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.command, self.cwd, self.env, self.log = command, cwd, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready: Any, *, timeout: float, what: str) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{what} did not start:\n{tail(self.log)}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def speech_bounds(samples: np.ndarray) -> tuple[float, float] | None:
    """(onset, end) of the speech in seconds (Silero VAD, no padding); None: no speech.

    The VAD runs on the clip followed by 3 s of silence: on the clip alone it cannot close
    the last chunk (its minimum silence is 2 s) and the "end" is the file's end, up to 0.7 s
    after the last word on these clips."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    padded = np.concatenate([samples, np.zeros(3 * 16_000, samples.dtype)])
    chunks = get_speech_timestamps(padded, VadOptions(speech_pad_ms=0))
    if not chunks:
        return None
    return chunks[0]["start"] / 16_000, chunks[-1]["end"] / 16_000


def bench_scenarios(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One single-turn scenario mapping (file format) per (scenario, turn) the clips answer."""
    demo = {path.stem: path for path in (REPO / "scenarios/demo").glob("*.yaml")}
    mappings = []
    for slug, turn in sorted({(item["scenario"], int(item["turn"])) for item in items}):
        data = dict(yaml.safe_load(demo[slug].read_text(encoding="utf-8")))
        data.update(
            slug=f"fast-{slug}-{turn}",
            title=f"{data.get('title', slug)} (turn {turn})",
            turns=[data["turns"][turn]],
            streaming_enabled=True,
        )
        mappings.append(data)
    return mappings


UPSERT = (
    "import json, sys; "
    "from scenarios.services import scenario_upsert; "
    "from scenarios.specs import spec_from_mapping; "
    "[scenario_upsert(spec=spec_from_mapping(m)) for m in json.load(open(sys.argv[-1]))]"
)


def prepare_database(tree: Path, env: dict[str, str], mappings: Path) -> None:
    """Migrate `env`'s database with `tree`'s own code and upsert the bench scenarios."""
    for command in (
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        [sys.executable, "-c", f"import django; django.setup(); {UPSERT}", str(mappings)],
    ):
        subprocess.run(command, cwd=tree, env=env, check=True)


def database_create(name: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')


async def answer(base_url: str, token: str, item: dict[str, Any], way: str) -> dict[str, Any]:
    tail_s = STOP_AFTER_S if way == "stop" else SILENCE_S
    client = await StreamClient.open(base_url, token, timeout=60, tail_s=tail_s)
    try:
        ready = await client.start(scenario=f"fast-{item['scenario']}-{item['turn']}")
        assert ready["type"] == "ready", ready
        events, timing = await client.answer(item["samples"])
    finally:
        await client.close()
    onset, end = item["bounds"]
    verdict: dict[str, Any] = next((e for e in reversed(events) if e["type"] in VERDICTS), {})
    return {
        "id": item["id"],
        "family": item["family"],
        "expected": item["expected"],
        "way": way,
        "onset_s": round(onset, 3),
        "speech_end_s": round(end, 3),
        "verdict": verdict.get("type"),
        "outcome": verdict.get("outcome") or verdict.get("reason"),
        "auto": verdict.get("auto"),
        "transcript": verdict.get("transcript"),
        "first_partial_s": None
        if timing.first_partial_s is None
        else round(timing.first_partial_s - onset, 3),
        "verdict_s": None if timing.verdict_s is None else round(timing.verdict_s - end, 3),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 3) if values else None

    finals = [
        r["verdict_s"]
        for r in rows
        if r["expected"] == "correct" and r["verdict"] == "final" and r["outcome"] == "correct"
    ]
    penalties = [r["verdict_s"] for r in rows if r["verdict"] == "penalty"]
    partials = [r["first_partial_s"] for r in rows if r["first_partial_s"] is not None]
    unclear = [r["verdict_s"] for r in rows if r["outcome"] == "unclear"]
    gaps = [r["verdict_s"] for r in rows if r["verdict_s"] is not None]
    heard = [
        r["verdict_s"] for r in rows if r["verdict_s"] is not None and r["outcome"] != "no_speech"
    ]
    return {
        "clips": len(rows),
        "final_correct_s": {"n": len(finals), "median": median(finals)},
        "penalty_s": {"n": len(penalties), "median": median(penalties)},
        "first_partial_s": {"n": len(partials), "median": median(partials)},
        "unclear_s": {"n": len(unclear), "median": median(unclear)},
        "longest_gap_s": round(max(gaps), 3) if gaps else None,
        "longest_gap_heard_s": round(max(heard), 3) if heard else None,
        "no_verdict": sum(1 for r in rows if r["verdict_s"] is None),
        "outcomes": dict(
            collections.Counter(f"{r['expected']}->{r['outcome']}" for r in rows).most_common()
        ),
    }


async def run(systems: dict[str, str], items: list[dict[str, Any]], ways: list[str]) -> list:
    tokens = {name: await asyncio.to_thread(register, url) for name, url in systems.items()}
    rows = []
    for number, item in enumerate(items, start=1):
        for way in ways:
            for name, url in systems.items():
                row = {"system": name, **await answer(url, tokens[name], item, way)}
                rows.append(row)
                print(f"[{number}/{len(items)}] {json.dumps(row, ensure_ascii=False)}", flush=True)
    return rows


def table(summary: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| system · way | clips | end → final (correct), median | end → penalty, median "
        "| end → unclear reset, median | onset → first partial, median | longest gap "
        "(heard) | no verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, s in summary.items():
        lines.append(
            f"| {key} | {s['clips']} | {s['final_correct_s']['median']} s "
            f"(n {s['final_correct_s']['n']}) | {s['penalty_s']['median']} s "
            f"(n {s['penalty_s']['n']}) | {s['unclear_s']['median']} s "
            f"(n {s['unclear_s']['n']}) | {s['first_partial_s']['median']} s "
            f"(n {s['first_partial_s']['n']}) | {s['longest_gap_s']} s "
            f"({s['longest_gap_heard_s']} s) | {s['no_verdict']} |"
        )
    return "\n".join(lines)


def load_clip(path: Path) -> np.ndarray:
    return decode_upload(
        path.read_bytes(), content_type=None, filename=path.name, max_bytes=10**8, max_seconds=60
    )


def rescore(result_path: Path, manifest_path: Path, output: Path) -> None:
    """Re-derive every row's offsets from its absolute times with today's speech_bounds."""
    result = json.loads(result_path.read_text())
    manifest = {item["id"]: item for item in json.loads(manifest_path.read_text())}
    bounds: dict[str, tuple[float, float] | None] = {}
    for row in result["rows"]:
        if row["id"] not in bounds:
            bounds[row["id"]] = speech_bounds(
                load_clip(manifest_path.parent / manifest[row["id"]]["wav"])
            )
        new = bounds[row["id"]]
        if new is None:
            continue
        for key, old, fresh in (
            ("first_partial_s", row["onset_s"], new[0]),
            ("verdict_s", row["speech_end_s"], new[1]),
        ):
            if row[key] is not None:
                row[key] = round(row[key] + old - fresh, 3)
        row["onset_s"], row["speech_end_s"] = round(new[0], 3), round(new[1], 3)
    systems = dict.fromkeys(row["system"] for row in result["rows"])
    ways = dict.fromkeys(row["way"] for row in result["rows"])
    result["summary"] = {
        f"{name} · {way}": summarise(
            [r for r in result["rows"] if r["system"] == name and r["way"] == way]
        )
        for way in ways
        for name in systems
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result["summary"]))
    print(f"load average {result.get('load_average')}")


def start_system(
    name: str, tree: Path, mappings: Path, tmp: Path, *, database_suffix: str = "bench"
) -> tuple[list[Server], str]:
    """`tree`'s ASR server and Daphne on a database of their own, migrated by the tree's own
    code (their models may differ); (servers, base URL)."""
    database = settings.DATABASES["default"]
    asr_port, app_port = free_port(), free_port()
    database_name = f"{database['NAME']}_{database_suffix}_{name}"
    database_create(database_name)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "ASR_SERVERS": f"ws://127.0.0.1:{asr_port}",
        "PYTHONPATH": str(tree),
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": (
            f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database_name}"
        ),
    }
    prepare_database(tree, env, mappings)
    log = tmp / f"{name}-asr.log"
    asr = Server(
        [sys.executable, "manage.py", "run_asr_server", "--port", str(asr_port)],
        cwd=tree,
        env=env,
        log=log,
    )
    asr.start(lambda: "parley-asr ready" in log.read_text(), timeout=180, what=f"{name} ASR")
    app = Server(daphne_command(app_port), cwd=tree, env=env, log=tmp / f"{name}.log")
    try:
        app.start(lambda: port_open(app_port), timeout=60, what=f"{name} app")
    except RuntimeError:
        asr.stop()
        raise
    return [asr, app], f"http://127.0.0.1:{app_port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--every", type=int, default=8, help="every Nth speech clip")
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--legacy-tree", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/stream_fast.json")
    parser.add_argument("--rescore", type=Path, default=None)
    args = parser.parse_args()
    ways = [way for way in args.ways.split(",") if way in WAYS]
    if args.rescore is not None:
        rescore(args.rescore, args.manifest, args.output)
        return

    manifest = json.loads(args.manifest.read_text())
    speech = [  # every Nth of each expected outcome, so penalties are measured too
        item
        for expected in ("correct", "incorrect_answer", "wrong_language")
        for item in [i for i in manifest if i["expected"] == expected][:: args.every]
    ]
    items = []
    for item in speech:
        samples = load_clip(args.manifest.parent / item["wav"])
        bounds = speech_bounds(samples)
        if bounds is not None:
            items.append({**item, "samples": samples, "bounds": bounds})
    mappings = bench_scenarios(items)

    trees = {"new": REPO}
    if args.legacy_tree is not None:
        trees["legacy"] = args.legacy_tree.resolve()
    servers: list[Server] = []
    systems: dict[str, str] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        scenarios = Path(tmp) / "scenarios.json"
        scenarios.write_text(json.dumps(mappings, ensure_ascii=False))
        try:
            for name, tree in trees.items():
                started, systems[name] = start_system(name, tree, scenarios, Path(tmp))
                servers.extend(started)
            rows = asyncio.run(run(systems, items, ways))
        finally:
            for server in reversed(servers):
                server.stop()
    load_after = os.getloadavg()
    summary = {
        f"{name} · {way}": summarise([r for r in rows if r["system"] == name and r["way"] == way])
        for way in ways
        for name in systems
    }
    result = {
        "rows": rows,
        "summary": summary,
        "load_average": {"before": load_before, "after": load_after},
        "clips": len(items),
        "every": args.every,
        "stop_after_s": STOP_AFTER_S,
        "silence_s": SILENCE_S,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(summary))
    print(json.dumps({k: v["outcomes"] for k, v in summary.items()}, indent=1))
    print(f"load average before {load_before}, after {load_after}")


if __name__ == "__main__":
    main()
