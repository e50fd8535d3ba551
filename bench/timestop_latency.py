"""The time-stop POST, end to end, today's judge beside the fair judge.

    python -m bench.timestop_latency [--set DIR] [--clips 24] [--rounds 2] [--baseline COMMIT]

Each judge is a whole app of its own tree (today: `--baseline`, by default bench.today_path's
TODAY_COMMIT with its prompted final pass; fair: this tree) in a worker process with its own
database (`<DATABASE_URL name>_bench_<judge>`, created and migrated once) and its own ASR
server.
The parent sends each clip to both workers in turn (order alternating), and each worker
times `POST /api/sessions/<id>/attempts/` with the clip as `audio` through Django's test
client: upload parsing, decoding, recognition over the WebSocket, judging, the attempt and
ledger writes, the response. A fresh session per clip, so every clip answers turn 0 of its
own scenario. Clips: the realistic set's turn-0 clips with 2–4 s of audio.

Writes bench/results/timestop_latency.json (and prints the medians).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS, asr_server, django_setup

OUT = RESULTS / "timestop_latency.json"
CHILD = Path(__file__).resolve()


# --------------------------------------------------------------------------- worker


def worker() -> None:
    """Runs inside one tree (cwd, sys.path[0]): set up, then time one POST per stdin line."""
    import time

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # one bench learner starts a session per clip: more than a learner's abuse limits allow
    # (a tree that has them: docs/reliability.md), which this bench is not measuring
    if hasattr(settings, "PARLEY_RATE_LIMITS"):
        settings.PARLEY_RATE_LIMITS = dict.fromkeys(settings.PARLEY_RATE_LIMITS, "100000/min")
    call_command("migrate", verbosity=0)
    import yaml
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from scenarios.services import scenario_upsert
    from scenarios.specs import spec_from_mapping

    for path in sorted((Path.cwd() / "scenarios" / "demo").glob("*.yaml")):
        scenario_upsert(spec=spec_from_mapping(yaml.safe_load(path.read_text())))
    user, _ = get_user_model().objects.get_or_create(username="bench-learner")
    client = APIClient()
    client.force_authenticate(user)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        session = client.post("/api/sessions/", {"scenario": request["scenario"]}, format="json")
        with open(request["wav"], "rb") as audio:
            started = time.perf_counter()
            response = client.post(
                f"/api/sessions/{session.json()['id']}/attempts/",
                {"audio": audio},
                format="multipart",
            )
            wall = time.perf_counter() - started
        body = response.json()
        print(
            json.dumps(
                {
                    "status": response.status_code,
                    "post_s": round(wall, 4),
                    "outcome": body.get("outcome"),
                    "asr_ms": body.get("asr_ms"),
                    "transcript": body.get("transcript"),
                },
                ensure_ascii=False,
            ),
            flush=True,
        )


# --------------------------------------------------------------------------- parent


class Worker:
    def __init__(self, name: str, tree: Path, asr_url: str, database_url: str) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "ASR_SERVERS": asr_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(tree),
            "LOG_LEVEL": "WARNING",
        }
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), "--worker"],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready = json.loads(self.process.stdout.readline())
        assert ready.get("ready"), ready

    def post(self, clip: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(clip) + "\n")
        self.process.stdin.flush()
        result: dict[str, Any] = json.loads(self.process.stdout.readline())
        return result

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def database_for(judge: str) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_bench_{judge}"
    subprocess.run(
        ["createdb", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], name],
        capture_output=True,
    )
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"


def clips_of(folder: Path, count: int) -> list[dict[str, Any]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    chosen = []
    for clip in manifest:
        path = folder / clip["wav"]
        with wave.open(str(path)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
        if clip["turn"] == 0 and clip["expected"] != "no_speech" and 2.0 <= seconds <= 4.0:
            chosen.append(
                {
                    "id": clip["id"],
                    "scenario": clip["scenario"],
                    "wav": str(path),
                    "audio_s": round(seconds, 2),
                    "expected": clip["expected"],
                }
            )
    step = max(1, len(chosen) // count)
    return chosen[::step][:count]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--set", type=Path, default=REPO / "var" / "bench" / "realistic")
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", default=None, help="the commit to time beside this tree")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    django_setup()
    from bench.realistic import _free_port
    from bench.today_path import TODAY_COMMIT, today_root, today_server

    baseline = args.baseline or TODAY_COMMIT
    clips = clips_of(args.set, args.clips)
    print(f"{len(clips)} clips of 2–4 s, {args.rounds} rounds, beside {baseline}", flush=True)
    rows: list[dict[str, Any]] = []
    with (
        today_server(port=_free_port(), commit=baseline) as today_asr,
        asr_server(port=_free_port()) as fair_asr,
    ):
        workers = {
            "today": Worker("today", today_root(baseline), today_asr.url, database_for("today")),
            "fair": Worker("fair", REPO, fair_asr.url, database_for("fair")),
        }
        try:
            for round_index in range(args.rounds):
                for number, clip in enumerate(clips):
                    order = (
                        ["today", "fair"] if (number + round_index) % 2 == 0 else ["fair", "today"]
                    )
                    for judge in order:
                        result = workers[judge].post(clip)
                        rows.append({"judge": judge, "round": round_index, **clip, **result})
                        print(
                            f"  {judge:5} {clip['id']:40} {result['post_s']:.2f} s "
                            f"{result['outcome']}",
                            flush=True,
                        )
        finally:
            for item in workers.values():
                item.close()
    summary = {}
    for judge in ("today", "fair"):
        times = [r["post_s"] for r in rows if r["judge"] == judge and r["status"] == 200]
        summary[judge] = {
            "posts": len(times),
            "median_s": round(statistics.median(times), 3),
            "p90_s": round(sorted(times)[int(0.9 * (len(times) - 1))], 3),
        }
    ratios = [
        f["post_s"] / t["post_s"]
        for t, f in zip(
            [r for r in rows if r["judge"] == "today"],
            [r for r in rows if r["judge"] == "fair"],
            strict=True,
        )
    ]
    summary["fair_over_today_median_ratio"] = round(statistics.median(ratios), 3)
    OUT.write_text(
        json.dumps(
            {"today_commit": baseline, "summary": summary, "rows": rows},
            ensure_ascii=False,
            indent=1,
        )
        + "\n"
    )
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
