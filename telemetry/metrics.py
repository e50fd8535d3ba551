"""Prometheus metrics: bounded labels only (outcome, source, mode, event type, error code),
never ids. Error codes are the fixed `StreamError` codes of the code base."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter("parley_attempts_total", "Judged answers.", ["outcome", "source", "mode"])
POINTS = Counter(
    "parley_score_points_total", "Points won (+) or lost (−), by direction.", ["mode", "direction"]
)
LIVES_LOST = Counter("parley_lives_lost_total", "Lives lost to penalties.", ["mode", "outcome"])
ASR_SECONDS = Histogram(
    "parley_asr_seconds",
    "Recognition time of one answer (whole clip, or END_OF_AUDIO to final when streaming).",
    ["mode"],
    buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0),
)
STREAM_CONNECTIONS = Gauge("parley_stream_connections", "Open /stream/interaction sockets.")
STREAM_EVENTS = Counter("parley_stream_events_total", "Events sent on the stream.", ["type"])
STREAM_ERRORS = Counter("parley_stream_errors_total", "Error events sent.", ["code"])
STREAM_RTT_SECONDS = Histogram(
    "parley_stream_rtt_seconds",
    "Round trip of the client's ping/pong, as the client reports it.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2),
)
STREAM_RECONNECTS = Counter(
    "parley_stream_reconnects_total", "Stream connections that resumed an existing session."
)


def attempt_counted(
    *, outcome: str, source: str, mode: str, score_delta: int, lives_delta: int
) -> None:
    """One recorded answer's series (called after commit): attempts, points, lives."""
    ATTEMPTS.labels(outcome, source, mode).inc()
    if score_delta:
        POINTS.labels(mode, "won" if score_delta > 0 else "lost").inc(abs(score_delta))
    if lives_delta < 0:
        LIVES_LOST.labels(mode, outcome).inc(-lives_delta)
