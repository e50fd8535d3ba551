"""Stored stream telemetry: a real consumer with a scripted recogniser, and the batches."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone
from prometheus_client import generate_latest

from interaction.services import session_start
from telemetry.models import StreamConnection, StreamSample
from telemetry.recorder import ConnectionRecorder
from tests.interaction.scripted_asr import Script
from tests.interaction.test_consumer import (  # noqa: F401  (fixtures)
    CAFE,
    connect,
    final,
    provider,
    receive,
    receive_until,
    start,
    token,
    tone,
)

SAMPLES = "SELECT kind, value_ms, code FROM telemetry_streamsample ORDER BY at, id"


def stored_samples() -> list[tuple[str, float | None, str]]:
    return list(StreamSample.objects.order_by("at", "id").values_list("kind", "value_ms", "code"))


@pytest.mark.django_db(transaction=True)
async def test_a_connection_stores_rtt_asr_errors_and_reconnects(
    provider,  # noqa: F811  (the consumer tests' fixture)
    token,  # noqa: F811
    scenario,
) -> None:
    provider(Script(final=final(CAFE), evaluations=[]), Script(final=final(CAFE), evaluations=[]))
    communicator = await connect(token)
    await communicator.send_json_to({"type": "ping", "t": 1.0, "rtt": 42.5})
    assert (await receive(communicator))["type"] == "pong"
    await communicator.send_json_to({"type": "ping", "t": 2.0, "rtt": "fast"})  # ignored
    await receive(communicator)
    ready = await start(communicator)
    for _ in range(10):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    await receive_until(communicator, "final")
    await communicator.send_json_to({"type": "dance"})
    error = await receive(communicator)
    assert error["code"] == "unknown_type"
    await communicator.disconnect()

    again = await connect(token)
    await again.send_json_to(
        {"type": "start", "session": ready["session"], "last_seq": error["seq"]}
    )
    resumed = await receive_until(again, "ready")
    assert resumed[-1]["resumed"] is True, resumed
    await again.disconnect()
    await asyncio.sleep(0.1)

    connections = await database_sync_to_async(
        lambda: list(
            StreamConnection.objects.order_by("opened_at").values_list(
                "session_id", "resumed", "closed_at", "close_code"
            )
        )
    )()
    assert [(str(s), r) for s, r, _, _ in connections] == [
        (ready["session"], False),
        (ready["session"], True),
    ]
    assert all(closed is not None for _, _, closed, _ in connections)
    samples = await database_sync_to_async(stored_samples)()
    assert samples == [
        ("rtt", 42.5, ""),
        ("asr", 500.0, ""),
        ("error", None, "unknown_type"),
        ("reconnect", None, ""),
    ]
    text = generate_latest().decode()
    assert "parley_stream_rtt_seconds_bucket" in text
    assert "parley_stream_reconnects_total" in text
    assert 'parley_stream_errors_total{code="unknown_type"}' in text


@pytest.mark.django_db
def test_samples_are_written_in_batches(learner, django_assert_num_queries) -> None:
    recorder = ConnectionRecorder(learner_id=learner.pk, batch_size=3)
    for ms in (10, 20, 30, 40, 50):
        recorder.rtt(ms)
    recorder.rtt(float("nan"))
    recorder.rtt(-1)
    with django_assert_num_queries(1):  # the connection row and its five samples
        recorder._write(closed=None)
    assert StreamSample.objects.count() == 5


@pytest.mark.django_db
def test_a_later_write_brings_the_connection_up_to_date(learner, scenario) -> None:
    """The first write inserts the connection's row; later ones (a batch, the close) update
    it with the session it joined and how it ended, and add their samples."""
    recorder = ConnectionRecorder(learner_id=learner.pk, batch_size=50)
    recorder.rtt(10)
    recorder._write(closed=None)
    recorder.session_id = str(session_start(learner=learner, scenario=scenario).pk)
    recorder.resumed = True
    recorder.rtt(20)
    recorder._write(closed=(timezone.now(), 1000))
    row = StreamConnection.objects.get()
    assert (str(row.session_id), row.resumed, row.close_code) == (recorder.session_id, True, 1000)
    assert row.closed_at is not None
    assert row.opened_at <= row.closed_at
    stored = StreamSample.objects.order_by("value_ms").values_list("value_ms", flat=True)
    assert list(stored) == [10.0, 20.0]


@pytest.mark.django_db
def test_metrics_for_staff_or_the_scrape_token(learner, settings) -> None:
    from django.contrib.auth import get_user_model

    settings.METRICS_SCRAPE_TOKEN = "s3cret"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    scraped = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert scraped.status_code == 200
    assert "parley_attempts_total" in scraped.content.decode()
    browser = Client()
    browser.force_login(learner)
    assert browser.get("/metrics").status_code == 403
    staff = get_user_model().objects.create_user("ops", password="pw", is_staff=True)
    browser.force_login(staff)
    assert browser.get("/metrics").status_code == 200
    settings.METRICS_SCRAPE_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@pytest.mark.django_db
def test_score_and_life_series(played) -> None:
    text = generate_latest().decode()
    # No on_commit callbacks ran in this test's transaction; the series exist with their labels.
    assert "parley_score_points_total" in text
    assert "parley_lives_lost_total" in text


@pytest.mark.django_db
def test_score_and_life_series_count_after_commit(
    make_learner, scenario, django_capture_on_commit_callbacks
) -> None:
    from interaction.services import answer_from_text, attempt_record, session_start
    from telemetry.metrics import LIVES_LOST, POINTS

    won = POINTS.labels("time_stop", "won")
    lost = LIVES_LOST.labels("time_stop", "incorrect_answer")
    before = (won._value.get(), lost._value.get())
    session = session_start(learner=make_learner("zed"), scenario=scenario)
    with django_capture_on_commit_callbacks(execute=True):
        attempt_record(session=session, answer=answer_from_text(text="Une bière, merci"))
        attempt_record(session=session, answer=answer_from_text(text="Un café, s'il vous plaît"))
    assert (won._value.get(), lost._value.get()) == (before[0] + 15, before[1] + 1)


@pytest.mark.django_db
async def test_replayed_events_are_not_counted_again(learner) -> None:
    recorder = ConnectionRecorder(learner_id=learner.pk, batch_size=50)
    recorder.replayed_up_to(5)
    await recorder.event({"type": "error", "seq": 3, "code": "asr_unavailable"})
    await recorder.event({"type": "error", "seq": 6, "code": "idle"})
    assert [sample.code for sample in recorder._pending] == ["idle"]
