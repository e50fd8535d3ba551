"""Client → server text frames, parsed and validated once into frozen dataclasses."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from interaction.ws.errors import StreamError

MAX_TEXT_FRAME_BYTES = 4 * 1024
CLIENT_TYPES = ("start", "stop", "reset", "ping")
ENCODINGS = ("pcm_s16le", "webm_opus")
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8_000, 48_000


@dataclass(frozen=True)
class Start:
    """Open a new session on `scenario`, or resume `session` after event `last_seq`.

    sample_rate in Hz (8000..48000) and encoding describe the binary frames that follow.
    """

    scenario: str | None
    session: str | None
    last_seq: int = 0
    sample_rate: int = 16_000
    encoding: str = "pcm_s16le"


@dataclass(frozen=True)
class Stop:
    """The learner's stop gesture: judge what was said."""


@dataclass(frozen=True)
class Reset:
    """Discard the utterance under way."""


@dataclass(frozen=True)
class Ping:
    t: float
    rtt: float | None = None  # the client's last measured round trip (ms), for telemetry


ClientMessage = Start | Stop | Reset | Ping


def message_parse(text: str) -> ClientMessage:
    """One text frame as a message; StreamError (bad_json, unknown_type, …) otherwise."""
    if len(text) > MAX_TEXT_FRAME_BYTES:
        raise StreamError("frame_too_large", "Text frames may be at most 4 KiB.")
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise StreamError("bad_json", f"The frame is not JSON: {error.msg}.") from None
    if not isinstance(message, dict) or message.get("type") not in CLIENT_TYPES:
        raise StreamError("unknown_type", f"type must be one of {', '.join(CLIENT_TYPES)}.")
    kind = message["type"]
    if kind == "start":
        return _start(message)
    if kind == "stop":
        return Stop()
    if kind == "reset":
        return Reset()
    t = message.get("t")
    if not isinstance(t, int | float) or isinstance(t, bool):
        raise StreamError("bad_message", "ping needs a number t.")
    rtt = message.get("rtt")
    return Ping(
        t=t, rtt=rtt if isinstance(rtt, int | float) and not isinstance(rtt, bool) else None
    )


def _start(message: dict[str, Any]) -> Start:
    scenario, session = message.get("scenario"), message.get("session")
    if (scenario is None) == (session is None):
        raise StreamError("bad_message", "start needs either a scenario or a session.")
    if scenario is not None and not isinstance(scenario, str):
        raise StreamError("bad_message", "scenario must be a slug.")
    if session is not None and not isinstance(session, str):
        raise StreamError("bad_message", "session must be a session id.")
    last_seq = message.get("last_seq", 0)
    sample_rate = message.get("sample_rate", 16_000)
    for name, value in (("last_seq", last_seq), ("sample_rate", sample_rate)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise StreamError("bad_message", f"{name} must be a non-negative integer.")
    encoding = message.get("encoding", "pcm_s16le")
    if session is not None:
        try:
            uuid.UUID(session)
        except ValueError:
            raise StreamError("unknown_session", "No such session for this learner.") from None
    if encoding not in ENCODINGS:
        raise StreamError("bad_encoding", f"encoding must be one of {', '.join(ENCODINGS)}.")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise StreamError(
            "bad_sample_rate",
            f"sample_rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz.",
        )
    return Start(
        scenario=scenario,
        session=session,
        last_seq=last_seq,
        sample_rate=sample_rate,
        encoding=encoding,
    )
