"""Client → server text frames, parsed and validated once into frozen dataclasses."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from interaction.ws.errors import StreamError

MAX_TEXT_FRAME_BYTES = 4 * 1024
MAX_JSON_DEPTH = 4
"""Our messages are flat objects; deeper nesting is refused before it is decoded."""
MAX_SEQ = 2**31 - 1
"""seq is stored as a Postgres integer."""
MAX_PING_T = 2.0**53
"""ping's t is echoed: any number a browser's JSON keeps exactly (its clock in ms fits)."""
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
    if _nesting(text) > MAX_JSON_DEPTH:
        raise StreamError("bad_json", f"JSON may nest at most {MAX_JSON_DEPTH} levels deep.")
    try:
        message = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise StreamError("bad_json", f"The frame is not JSON: {error.msg}.") from None
    _check_text(message)
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
    if not isinstance(t, int | float) or isinstance(t, bool) or not abs(t) <= MAX_PING_T:
        raise StreamError("bad_message", f"ping needs a number t (at most {MAX_PING_T:.0f}).")
    # The client's last measured round trip, for stored telemetry (the recorder drops values
    # out of range); anything but a number is ignored.
    rtt = message.get("rtt")
    return Ping(
        t=t, rtt=rtt if isinstance(rtt, int | float) and not isinstance(rtt, bool) else None
    )


def _nesting(text: str) -> int:
    """How deep arrays and objects nest in `text` (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise StreamError("bad_json", f"{name} is not a JSON number.")


def _check_text(value: Any) -> None:
    """Refuse NUL characters and lone surrogates anywhere (Postgres and UTF-8 cannot hold
    them); the depth was bounded before decoding."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)
    elif isinstance(value, str):
        if "\x00" in value:
            raise StreamError("bad_message", "Text may not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise StreamError(
                "bad_message", "Text may not contain lone surrogates (invalid UTF-16)."
            ) from None


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
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEQ:
            raise StreamError("bad_message", f"{name} must be an integer from 0 to {MAX_SEQ}.")
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
