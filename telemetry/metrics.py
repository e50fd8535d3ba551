"""Prometheus metrics: bounded labels only (outcome, source, mode, event type), never ids."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter("parley_attempts_total", "Judged answers.", ["outcome", "source", "mode"])
ASR_SECONDS = Histogram(
    "parley_asr_seconds",
    "Recognition time of one answer (whole clip, or END_OF_AUDIO to final when streaming).",
    ["mode"],
    buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0),
)
STREAM_CONNECTIONS = Gauge("parley_stream_connections", "Open /stream/interaction sockets.")
STREAM_EVENTS = Counter("parley_stream_events_total", "Events sent on the stream.", ["type"])
STREAM_ERRORS = Counter("parley_stream_errors_total", "Error events sent.", ["code"])
