"""Stored telemetry of one /stream/interaction connection, written in batches.

The consumer opens a recorder when a learner connects (`connection_recorder_open`), reports
what it sees (`rtt`, `event` for every event it sends, `close`), and the streaming session
reports ASR latencies through `asr_observed` (the recorder of the connection it runs in is
found through a context variable, so the session needs no reference to it). Samples are
buffered in memory and written with one bulk insert per TELEMETRY_BATCH_SIZE samples and
on close, never per sample. Every report also updates the Prometheus series.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from interaction.json_rows import json_rows, json_rows_sql
from interaction.prepared import prepared_cursor
from interaction.ws.db import db_statement
from interaction.ws.errors import StreamError
from telemetry import metrics
from telemetry.models import StreamConnection, StreamSample

logger = logging.getLogger(__name__)

MAX_RTT_MS = 60_000.0  # a client's report beyond this is nonsense, not a round trip

_current: ContextVar[ConnectionRecorder | None] = ContextVar("parley_stream_recorder", default=None)


class ConnectionRecorder:
    def __init__(self, *, learner_id: int, batch_size: int) -> None:
        self.id = uuid.uuid4()
        self.learner_id = learner_id
        self.batch_size = max(1, batch_size)
        self.session_id: str | None = None
        self.resumed = False
        self._pending: list[StreamSample] = []
        self._replayed_up_to = 0

    def replayed_up_to(self, seq: int | None) -> None:
        """A resume asks for the events after `seq`: those sent again are not new telemetry."""
        self._replayed_up_to = seq or 0

    # --- what the socket reports ---------------------------------------------------------
    def rtt(self, milliseconds: Any) -> None:
        """A round trip the client measured (ms); anything but a sane number is ignored."""
        if isinstance(milliseconds, bool) or not isinstance(milliseconds, int | float):
            return
        if not math.isfinite(milliseconds) or not 0 <= milliseconds <= MAX_RTT_MS:
            return
        metrics.STREAM_RTT_SECONDS.observe(milliseconds / 1000)
        self._add(StreamSample.Kind.RTT, value_ms=float(milliseconds))

    def asr(self, milliseconds: float) -> None:
        self._add(StreamSample.Kind.ASR, value_ms=float(milliseconds))

    async def event(self, event: Mapping[str, Any]) -> None:
        """Every event the socket sends: `ready` names the session (and a resume), `error`
        its code. Events replayed to a resumed client are skipped."""
        kind = event.get("type")
        seq = event.get("seq")
        if isinstance(seq, int) and 0 < seq <= self._replayed_up_to:
            return  # a replayed event, counted when it was first sent
        if kind == "ready" and event.get("session"):
            self.session_id = str(event["session"])
            if event.get("resumed"):
                self.resumed = True
                metrics.STREAM_RECONNECTS.inc()
                self._add(StreamSample.Kind.RECONNECT)
        elif kind == "error":
            self._add(StreamSample.Kind.ERROR, code=str(event.get("code", ""))[:40])
        if len(self._pending) >= self.batch_size:
            await self.flush()

    async def flush(self) -> None:
        await self._store(closed=None)

    async def close(self, code: int | None) -> None:
        _current.set(None)
        await self._store(closed=(timezone.now(), code))

    async def _store(self, *, closed: tuple[datetime, int | None] | None) -> None:
        """On the socket's database pool (never Channels' one shared thread, where a slow
        write would hold up every socket); telemetry is best-effort: a failed write is logged
        and its samples dropped, the learner's socket goes on."""
        try:
            await db_statement(self._write, closed=closed)  # one statement
        except StreamError:
            logger.warning("stream telemetry of connection %s not stored", self.id)

    # --- storage -----------------------------------------------------------------------
    def _add(self, kind: str, *, value_ms: float | None = None, code: str = "") -> None:
        self._pending.append(
            StreamSample(
                connection_id=self.id, kind=kind, value_ms=value_ms, code=code, at=timezone.now()
            )
        )

    def _write(self, *, closed: tuple[datetime, int | None] | None) -> None:
        """The connection's row (inserted, or brought up to date) and its pending samples, in
        one statement: every closing socket writes here, and three ORM statements were a
        tenth of a streaming server's database work (docs/performance.md)."""
        pending, self._pending = self._pending, []
        samples = [(s.kind, s.value_ms, s.code, s.at) for s in pending]
        closed_at, code = closed if closed is not None else (None, None)
        with prepared_cursor() as cursor:
            cursor.execute(
                _write_sql(),
                [
                    self.id,
                    self.learner_id,
                    self.session_id,
                    self.resumed,
                    closed_at,
                    code,
                    json_rows(SAMPLE_COLUMNS, samples),
                ],
            )


SAMPLE_COLUMNS = (("kind", "text"), ("value_ms", "float8"), ("code", "text"), ("at", "timestamptz"))
_SAMPLES_FROM = json_rows_sql(SAMPLE_COLUMNS)


@cache
def _write_sql() -> str:
    quote = connection.ops.quote_name
    connections, samples = (
        quote(StreamConnection._meta.db_table),
        quote(StreamSample._meta.db_table),
    )
    return (
        f"WITH c AS (INSERT INTO {connections} AS c "
        "(id, learner_id, session_id, resumed, opened_at, closed_at, close_code) "
        "VALUES (%s, %s, %s, %s, now(), %s, %s) "
        "ON CONFLICT (id) DO UPDATE SET session_id = EXCLUDED.session_id, "
        "resumed = EXCLUDED.resumed, closed_at = COALESCE(EXCLUDED.closed_at, c.closed_at), "
        "close_code = COALESCE(EXCLUDED.close_code, c.close_code) RETURNING c.id) "
        f"INSERT INTO {samples} (connection_id, kind, value_ms, code, at) "
        f"SELECT c.id, x.kind, x.value_ms, x.code, x.at FROM c, {_SAMPLES_FROM}"
    )


def connection_recorder_open(*, learner_id: int) -> ConnectionRecorder:
    """A recorder for the connection whose task calls this (it becomes the current one)."""
    recorder = ConnectionRecorder(learner_id=learner_id, batch_size=settings.TELEMETRY_BATCH_SIZE)
    _current.set(recorder)
    return recorder


def asr_observed(*, mode: str, milliseconds: int | None) -> None:
    """An answer's ASR latency: the Prometheus histogram, and the current connection's
    stored telemetry when called inside a stream connection."""
    if milliseconds is None:
        return
    metrics.ASR_SECONDS.labels(mode).observe(milliseconds / 1000)
    recorder = _current.get()
    if recorder is not None:
        recorder.asr(milliseconds)
