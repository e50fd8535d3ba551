"""Difficulty analytics at size: report time and query count for growing data sets.

    python -m bench.analytics [--sizes 1000 10000 50000 100000] [--repeat 5]

Builds each data set in a scratch test database (created and dropped here; the configured
database is never written), then times the report's two queries (`analytics_turns_list`,
`analytics_scenarios_list`), the whole `/analytics/` overview, a scenario's page, and the
answers learners give (`frequent_answers_list`: one query over at most the newest 10,000
incorrect or unclear attempts). Times are medians; the ratio to the smallest size shows how
the cost grows (every figure is one query, so the query counts must not grow at all).
Writes bench/results/analytics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
OUTCOMES = ["correct"] * 6 + ["incorrect_answer"] * 2 + ["wrong_language", "no_speech", "unclear"]
WRONG = ["Un thé, s'il vous plaît", "Une bière", "Je voudrais un croissant", "euh", "Merci"]


def _spelling(rng: random.Random, text: str) -> str:
    """`text` as a recogniser may write it: case, punctuation and accents vary."""
    variant = rng.choice([text, text.lower(), text.upper(), text.rstrip(".") + "."])
    if rng.random() < 0.3:
        variant = variant.replace("é", "e").replace("î", "i").replace("è", "e")
    if rng.random() < 0.05:
        variant = f"{variant} {rng.randrange(1000)}"  # the long tail of one-offs
    return variant


def bulk_played(*, sessions: int, scenario: Any, seed: int = 7) -> int:
    """`sessions` sessions of `scenario` with ~5 attempts each, written with bulk inserts
    (no ledger rows: the figures read attempts and sessions). How many attempts."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from interaction.models import Attempt, Session

    rng = random.Random(seed)
    turns = list(scenario.turns.order_by("order"))
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"bulk-{seed}-{n}") for n in range(max(1, sessions // 10))
    )
    start = timezone.now() - timedelta(days=30)
    rows = []
    for n in range(sessions):
        status = rng.choice(["completed", "completed", "failed", "active"])
        rows.append(
            Session(
                learner=users[n % len(users)],
                scenario=scenario,
                mode=rng.choice(["time_stop", "streaming"]),
                lives_total=3,
                lives_remaining=0 if status == "failed" else rng.randint(1, 3),
                turn_count=len(turns),
                turn_index=rng.randrange(len(turns)),
                status=status,
            )
        )
    stored = Session.objects.bulk_create(rows, batch_size=2000)
    Session.objects.filter(pk__in=[s.pk for s in stored]).update(started_at=start)
    attempts = []
    for session in stored:
        for turn in turns[: session.turn_index + 1]:
            for _ in range(rng.choice([1, 1, 2, 3])):
                outcome = rng.choice(OUTCOMES)
                attempts.append(
                    Attempt(
                        session=session,
                        turn=turn,
                        turn_index=turn.order,
                        source="audio",
                        transcript=_spelling(rng, rng.choice(WRONG))
                        if outcome in ("incorrect_answer", "unclear")
                        else "…",
                        confidence=rng.random(),
                        outcome=outcome,
                        lives_delta=-1 if outcome in ("incorrect_answer", "wrong_language") else 0,
                        auto_finalised=rng.random() < 0.2,
                    )
                )
    Attempt.objects.bulk_create(attempts, batch_size=5000)
    return len(attempts)


SCENARIO_PAGE = "/analytics/scenarios/bench-cafe/"


def _limit_rows(connection: Any, sql: str) -> int | None:
    """The rows the answers query's LIMIT let through (EXPLAIN ANALYZE): what it grouped."""

    def walk(node: dict[str, Any]) -> int | None:
        if node.get("Node Type") == "Limit":
            return int(node["Actual Rows"])
        for child in node.get("Plans", []):
            found = walk(child)
            if found is not None:
                return found
        return None

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return walk(plan[0]["Plan"])


def _median_s(action: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def measure(client: Any, *, repeat: int) -> dict[str, Any]:
    """Query counts and median times of the figures, both pages and the answers, as the
    database stands."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from interaction.models import Attempt, Session
    from telemetry.analytics import analytics_scenarios_list, analytics_turns_list
    from telemetry.answers import frequent_answers_list

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as queries:
        analytics_turns_list()
        analytics_scenarios_list()
    with CaptureQueriesContext(connection) as page_queries:
        assert client.get("/analytics/").status_code == 200
    with CaptureQueriesContext(connection) as answers_queries:
        groups = frequent_answers_list()
    with CaptureQueriesContext(connection) as scenario_page_queries:
        assert client.get(SCENARIO_PAGE).status_code == 200
    return {
        "attempts": Attempt.objects.count(),
        "sessions": Session.objects.count(),
        "missed_attempts": Attempt.objects.filter(
            outcome__in=["incorrect_answer", "unclear"]
        ).count(),
        "answer_groups": len(groups),
        "answers_rows_grouped": _limit_rows(connection, answers_queries[0]["sql"]),
        "figures_queries": len(queries),
        "page_queries": len(page_queries),
        "answers_queries": len(answers_queries),
        "scenario_page_queries": len(scenario_page_queries),
        "figures_s": round(
            _median_s(lambda: (analytics_turns_list(), analytics_scenarios_list()), repeat), 4
        ),
        "page_s": round(_median_s(lambda: client.get("/analytics/"), repeat), 4),
        "answers_s": round(_median_s(frequent_answers_list, repeat), 4),
        "scenario_page_s": round(_median_s(lambda: client.get(SCENARIO_PAGE), repeat), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000, 100000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from interaction.models import Attempt
    from scenarios.services import scenario_upsert
    from scenarios.specs import spec_from_mapping

    setup_test_environment()
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"{connection.settings_dict['NAME']}_bench_analytics"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    results: list[dict[str, Any]] = []
    try:
        scenario = scenario_upsert(
            spec=spec_from_mapping(
                {
                    "slug": "bench-cafe",
                    "title": "Bench café",
                    "language": "fr",
                    "turns": [
                        {"prompt": f"Turn {n}", "answers": [f"réponse {n}"]} for n in range(6)
                    ],
                }
            )
        )
        staff = get_user_model().objects.create_user("bench-staff", is_staff=True)
        client = Client()
        client.force_login(staff)
        made = 0
        for size in sorted(args.sizes):
            seed = 0
            while Attempt.objects.count() < size:
                seed += 1
                need = size - Attempt.objects.count()
                made += bulk_played(
                    sessions=max(10, need // 5), scenario=scenario, seed=seed + size
                )
            row = measure(client, repeat=args.repeat)
            results.append(row)
            print(json.dumps(row))
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
    base = results[0]
    for row in results:
        for timed in ("figures", "page", "answers", "scenario_page"):
            row[f"{timed}_ratio_to_smallest"] = round(row[f"{timed}_s"] / base[f"{timed}_s"], 2)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analytics.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
