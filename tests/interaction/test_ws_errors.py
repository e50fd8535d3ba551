"""interaction/ws/errors.py: what a StreamError tells the client to do."""

from __future__ import annotations

from interaction.ws.errors import StreamError


def test_a_stream_error_is_final_for_the_frame_only_by_default() -> None:
    error = StreamError("bad_json", "Not JSON.")
    assert (str(error), error.code) == ("Not JSON.", "bad_json")
    assert (error.retryable, error.fatal, error.fallback) == (False, False, False)


def test_its_flags_are_kept() -> None:
    error = StreamError("asr_unavailable", "Down.", retryable=True, fatal=True, fallback=True)
    assert (error.retryable, error.fatal, error.fallback) == (True, True, True)
