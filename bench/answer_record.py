"""What recording a streamed answer costs the app: under the session's lock, or without it.

    python -m bench.answer_record [--answers 300] [--rounds 4]

In the app's database (the demo scenarios, as `scripts/setup.sh` imports them), one learner
plays `cafe-paris` as the socket does: sessions opened through `stream_session_open`, each
turn's first accepted answer recorded through the socket's database pool (`ws.db`) with the
evidence the capacity bench's scripted peer sends, a new session when one ends. Each round
records `--answers` answers one way, then the other (the order flipped each round, after a
warm-up): *locked* is `stream_attempt_record` in its transaction (`BEGIN`, the row's lock,
the rows and events, `COMMIT`), *unlocked* is `stream_attempt_record_unlocked` from the
session as the last record left it, one statement in autocommit. It reports this process's
CPU and the wall time per answer, on uvloop, one at a time (nothing else running).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.common import django_setup

RESULTS = Path(__file__).parent / "results" / "answer_record.json"
WARM_UP = 30


def answer(text: str) -> Any:
    """The answer the scripted peer's evidence makes of `text` (as the capacity bench's)."""
    from interaction.asr.hypotheses import final_hypothesis
    from interaction.services import answer_from_hypothesis
    from tests.asr.whisperlive_peer import evidence_payload

    evidence = evidence_payload(
        text,
        probabilities=tuple(0.95 for _ in text.split()),
        language_probabilities={"fr": 0.97, "en": 0.01},
        answers={text: -0.05},
        transcript_logprob=-0.05,
    )
    return answer_from_hypothesis(final_hypothesis({"evidence": evidence}), audio_ms=2000)


class Learner:
    """One learner's sessions, recorded one way or the other."""

    def __init__(self, learner: Any) -> None:
        self.learner = learner
        self.context: Any = None
        self.answers: dict[str, Any] = {}

    async def record(self, *, locked: bool) -> None:
        from interaction import stream_services
        from interaction.ws.db import db_call, db_statement

        if self.context is None or not self.context.active:
            self.context = await db_statement(
                stream_services.stream_session_open,
                learner=self.learner,
                scenario_slug="cafe-paris",
                owner="bench",
            )
        text = self.context.answers[0]
        streamed = stream_services.StreamedAnswer(
            self.answers.setdefault(text, answer(text)),
            utterance="00000000-0000-0000-0000-000000000000",
            auto=False,
            next_seq=self.context.event_seq + 1,
        )
        recorded: Any
        if locked:
            recorded = await db_call(
                stream_services.stream_attempt_record,
                session_id=self.context.session_id,
                owner="bench",
                streamed=streamed,
            )
        else:
            unlocked: Any = stream_services.stream_attempt_record_unlocked
            recorded = await db_statement(
                unlocked, known=self.context.session, owner="bench", streamed=streamed
            )
        assert recorded is not None  # nobody else writes this learner's sessions
        _, self.context = recorded


async def one_way(learner: Learner, *, locked: bool, count: int) -> tuple[float, float]:
    """This process's CPU ms and wall ms per answer, over `count` answers."""
    for _ in range(WARM_UP):
        await learner.record(locked=locked)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await learner.record(locked=locked)
    return (
        (time.process_time() - cpu) / count * 1000,
        (time.perf_counter() - wall) / count * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    django_setup()
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-answer-record")
    learner = Learner(user)
    runs: dict[str, dict[str, list[float]]] = {
        name: {"cpu_ms": [], "wall_ms": []} for name in ("locked", "unlocked")
    }
    for round_ in range(args.rounds):
        order = ("locked", "unlocked") if round_ % 2 == 0 else ("unlocked", "locked")
        for name in order:  # ABBA: no order bias
            cpu, wall = uvloop.run(one_way(learner, locked=name == "locked", count=args.answers))
            runs[name]["cpu_ms"].append(round(cpu, 3))
            runs[name]["wall_ms"].append(round(wall, 3))
            print(f"round {round_ + 1} {name:8s}: {cpu:.3f} ms CPU, {wall:.3f} ms wall per answer")
    RESULTS.write_text(json.dumps({"answers": args.answers, "runs": runs}, indent=2) + "\n")
    print(f"wrote {RESULTS.name}")


if __name__ == "__main__":
    main()
