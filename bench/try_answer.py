"""Try an answer against a learner's attempt: the same clip, the same verdict?

    python -m bench.try_answer [--clips DIR] [--limit 60]

For a sample of the realistic bench's clips (`python -m bench.realistic build`; every label,
voice family and condition, spread evenly over the manifest), each clip is judged twice by
the product against the same turn of the demo scenarios: posted by a designer to the Try an
answer form (`/designer/turns/<id>/try/`, nothing stored) and recorded as a learner's
time-stop attempt (`speech.answer_from_audio` → `services.attempt_record`, the API's path,
on a session at that turn with enough points for a penalty's points to count in full, as the
form assumes). Both go through this tree's WhisperLive server (started here)
and a scratch test database (created and dropped here). Counts the clips whose outcome,
points and hearts, and transcript agree, and that the form stored nothing. Writes
bench/results/try_answer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from bench.common import CACHE, RESULTS, asr_server

VERDICT_KEYS = ("outcome", "points", "hearts")
DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo"


def sample(clips: list[Any], limit: int) -> list[Any]:
    """`limit` clips spread evenly over the manifest (which rotates labels and voices)."""
    if len(clips) <= limit:
        return clips
    step = len(clips) / limit
    return [clips[int(i * step)] for i in range(limit)]


def _learner_verdict(clip: Any, path: Path, turn: Any, learner: Any) -> dict[str, Any]:
    from interaction.models import Session
    from interaction.playground import AMPLE_SCORE
    from interaction.services import attempt_record, session_start
    from interaction.speech import answer_from_audio

    # At the turn with enough points, as the form assumes: a penalty's points count in full.
    session = session_start(learner=learner, scenario=turn.scenario)
    Session.objects.filter(pk=session.pk).update(turn_index=turn.order, score=AMPLE_SCORE)
    session.refresh_from_db()
    began = time.perf_counter()
    answer = answer_from_audio(
        session=session, data=path.read_bytes(), content_type="audio/wav", filename=path.name
    )
    result = attempt_record(session=session, answer=answer)
    return {
        "outcome": str(result.verdict.outcome),
        "points": result.change.score_delta,
        "hearts": result.change.lives_delta,
        "transcript": answer.transcript,
        "seconds": round(time.perf_counter() - began, 3),
    }


def _tried_verdict(client: Any, path: Path, turn: Any) -> dict[str, Any]:
    began = time.perf_counter()
    with path.open("rb") as audio:
        page = client.post(f"/designer/turns/{turn.pk}/try/", {"audio": audio})
    if page.status_code != 200 or not page.context.get("result"):
        return {"outcome": f"error {page.status_code}", "seconds": 0.0}
    result = page.context["result"]
    return {
        "outcome": str(result["outcome"]),
        "points": result["points"],
        "hearts": result["hearts"],
        "transcript": result["answer"].transcript,
        "seconds": round(time.perf_counter() - began, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=CACHE / "realistic")
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from bench.realistic import load_manifest
    from interaction.models import Attempt, ScoreEvent, Session
    from scenarios.files import scenario_files_import
    from scenarios.models import Turn

    clips = sample(load_manifest(args.clips), args.limit)
    setup_test_environment()
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"{connection.settings_dict['NAME']}_bench_try_answer"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    rows: list[dict[str, Any]] = []
    try:
        scenario_files_import(sorted(DEMO.glob("*.yaml")))
        users = get_user_model().objects
        designer = users.create_user("bench-designer", is_staff=True)
        learner = users.create_user("bench-learner")
        client = Client()
        client.force_login(designer)
        with asr_server(port=9297) as server:
            settings.ASR_SERVERS = [server.url]
            for clip in clips:
                turn = Turn.objects.select_related("scenario").get(
                    scenario__slug=clip.scenario, order=clip.turn
                )
                path = args.clips / clip.wav
                before = (Session.objects.count(), Attempt.objects.count())
                before_ledger = ScoreEvent.objects.count()
                tried = _tried_verdict(client, path, turn)
                stored = (
                    Session.objects.count(),
                    Attempt.objects.count(),
                ) != before or ScoreEvent.objects.count() != before_ledger
                learned = _learner_verdict(clip, path, turn, learner)
                row = {
                    "clip": clip.id,
                    "expected": clip.expected,
                    "tried": tried,
                    "learner": learned,
                    "form_stored_rows": stored,
                    "same_verdict": all(
                        tried.get(key) == learned.get(key)
                        for key in ("outcome", "points", "hearts")
                    ),
                    "same_transcript": tried.get("transcript") == learned.get("transcript"),
                }
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False))
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
    summary = {
        "clips": len(rows),
        "same_verdict": sum(row["same_verdict"] for row in rows),
        "same_transcript": sum(row["same_transcript"] for row in rows),
        "form_stored_rows": sum(row["form_stored_rows"] for row in rows),
        "outcomes": sorted({row["learner"]["outcome"] for row in rows}),
        "median_form_s": _median([row["tried"]["seconds"] for row in rows]),
        "median_attempt_s": _median([row["learner"]["seconds"] for row in rows]),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "try_answer.json").write_text(
        json.dumps({"summary": summary, "clips": rows}, indent=2, ensure_ascii=False) + "\n"
    )
    print(json.dumps(summary, indent=2))


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


if __name__ == "__main__":
    main()
