"""Parley's hooks in WhisperLive's server: text frames, mid-stream evaluations, the final.

The socket is a stand-in (what the server reads and sends is what matters here); the model
is the real base model, spied on, so the test sees every prompt a deciding pass is given.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from whisper_live.server import TranscriptionServer

from interaction.asr.server.options import FinalPassOptions
from interaction.asr.server.transcription_server import (
    KEPT_IDLE_ENV,
    ParleyTranscriptionServer,
    UtteranceSocket,
)
from interaction.asr.wire import CANCELLED_TYPE, EVIDENCE_TYPE, FINAL_TYPE
from tests.asr.server.model_spy import ModelSpy
from tests.speech import read_wav

CAFE = ("Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît")
OPTIONS = FinalPassOptions(target_language="fr", other_languages=("en",), candidates=CAFE)


class FakeSocket:
    """Frames to hand out on recv(); what the server sends."""

    def __init__(self, *frames: str | bytes) -> None:
        self.frames = list(frames)
        self.sent: list[dict[str, Any]] = []
        self.sent_event = threading.Event()

    def recv(self) -> str | bytes:
        return self.frames.pop(0)

    def send(self, data: str) -> None:
        self.sent.append(json.loads(data))
        self.sent_event.set()


def server_with(client: Any) -> ParleyTranscriptionServer:
    server = ParleyTranscriptionServer()
    server.client_manager = SimpleNamespace(get_client=lambda _ws: client)
    server.single_model = False
    return server


def client_with(audio: np.ndarray | None, transcriber: Any = None, **extra: Any) -> Any:
    return SimpleNamespace(
        client_uid="c1",
        frames_np=audio,
        lock=threading.Lock(),
        transcriber=transcriber,
        parley_options=OPTIONS,
        **extra,
    )


def test_text_frames_are_requests_never_audio(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = np.linspace(-0.5, 0.5, 1_600, dtype=np.float32)
    ws = FakeSocket(
        json.dumps({"type": "parley.evaluate", "id": 7}),
        "not json at all",
        json.dumps({"type": "something.else"}),
        samples.tobytes(),
        b"END_OF_AUDIO",
    )
    server = server_with(client_with(None))
    asked: list[Any] = []
    monkeypatch.setattr(server, "_evaluate", lambda _client, _options, rid: asked.append(rid))

    audio = server.get_audio_from_websocket(ws)

    np.testing.assert_array_equal(audio, samples)
    assert server.get_audio_from_websocket(ws) is False  # END_OF_AUDIO ends the stream
    for _ in range(50):  # the evaluation runs in a thread of its own
        if asked:
            break
        threading.Event().wait(0.02)
    assert asked == [7]


def test_a_stock_client_never_starts_an_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    stock = SimpleNamespace(client_uid="stock")  # no "parley" block, no options
    ws = FakeSocket(json.dumps({"type": "parley.evaluate", "id": 1}), b"\0\0\0\0")
    server = server_with(stock)
    asked: list[Any] = []
    monkeypatch.setattr(server, "_evaluate", lambda *args: asked.append(args))
    assert server.get_audio_from_websocket(ws).tolist() == [0.0]
    assert asked == []


def test_a_failed_evaluation_answers_with_an_error_and_the_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from interaction.asr.server import transcription_server

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("no model")

    monkeypatch.setattr(transcription_server, "final_pass", broken)
    ws = FakeSocket()
    client = client_with(np.zeros(16_000, dtype=np.float32), None, websocket=ws)
    server_with(client)._evaluate(client, OPTIONS, 3)
    (reply,) = ws.sent
    assert (reply["type"], reply["id"], reply["uid"]) == (EVIDENCE_TYPE, 3, "c1")
    assert "no model" in reply["error"]


# --- a kept connection (reuse) -----------------------------------------------------------


class IdleSocket:
    """A connection's frames; once they run out it stays silent (recv times out)."""

    def __init__(self, *frames: str) -> None:
        self.frames = list(frames)
        self.timeouts: list[float | None] = []
        self.closed = False

    def recv(self, timeout: float | None = None) -> str:
        self.timeouts.append(timeout)
        if not self.frames:
            raise TimeoutError
        return self.frames.pop(0)

    def close(self) -> None:
        self.closed = True


def stock_utterances(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stand in for WhisperLive's own one-utterance `recv_audio`: read the options, end as
    `_finalize_client` would (kept when the options ask), close as stock code does."""
    served: list[str] = []

    def one_utterance(_server: Any, websocket: Any, *_args: Any, **_kwargs: Any) -> None:
        options = json.loads(websocket.recv())
        served.append(options["uid"])
        websocket.kept = options["kept"]
        websocket.close()

    monkeypatch.setattr(TranscriptionServer, "recv_audio", one_utterance)
    return served


def test_a_kept_connection_serves_the_next_utterance_until_it_idles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = stock_utterances(monkeypatch)
    monkeypatch.setenv(KEPT_IDLE_ENV, "2.5")
    ws = IdleSocket(json.dumps({"uid": "a", "kept": True}), json.dumps({"uid": "b", "kept": True}))

    ParleyTranscriptionServer().recv_audio(ws)

    assert served == ["a", "b"]
    assert ws.timeouts == [None, 2.5, 2.5]  # the first options as stock; then the idle bound
    assert ws.closed


def test_a_connection_not_kept_ends_with_its_utterance(monkeypatch: pytest.MonkeyPatch) -> None:
    served = stock_utterances(monkeypatch)
    ws = IdleSocket(json.dumps({"uid": "a", "kept": False}), json.dumps({"uid": "b", "kept": True}))

    ParleyTranscriptionServer().recv_audio(ws)

    assert served == ["a"]
    assert ws.closed
    assert len(ws.frames) == 1  # nothing read after it


@pytest.mark.parametrize(
    ("reuse", "end_of_audio", "pass_fails", "kept"),
    [
        (True, True, False, True),
        (False, True, False, False),  # the client did not ask
        (True, False, False, False),  # ended by the server's time limit, not END_OF_AUDIO
        (True, True, True, False),  # the final pass failed
    ],
)
def test_the_connection_is_kept_only_after_end_of_audio_and_a_final(
    monkeypatch: pytest.MonkeyPatch, reuse: bool, end_of_audio: bool, pass_fails: bool, kept: bool
) -> None:
    from interaction.asr.server import transcription_server

    def final(*_args: Any, **_kwargs: Any) -> Any:
        if pass_fails:
            raise RuntimeError("no model")
        return {"type": FINAL_TYPE, "evidence": {"audio_s": 0.1}, "asr_ms": 1}

    monkeypatch.setattr(transcription_server, "final_pass", final)
    ws = UtteranceSocket(FakeSocket())
    ws.end_of_audio = end_of_audio
    client = client_with(np.zeros(1_600, dtype=np.float32), websocket=ws)
    client.frames_ready = threading.Event()
    options = dataclasses.replace(OPTIONS, reuse=reuse)

    server_with(client)._finalize_client(client, options, [])

    assert ws.kept is kept


def test_end_of_audio_marks_the_utterance_socket() -> None:
    ws = UtteranceSocket(FakeSocket(b"END_OF_AUDIO"))
    assert server_with(client_with(None)).get_audio_from_websocket(ws) is False
    assert ws.end_of_audio


def test_a_cancel_request_ends_the_utterance_as_end_of_audio_does() -> None:
    ws = UtteranceSocket(FakeSocket(json.dumps({"type": "parley.cancel"}), b"\0\0\0\0"))
    assert server_with(client_with(None)).get_audio_from_websocket(ws) is False
    assert ws.cancelled
    assert not ws.end_of_audio


@pytest.mark.parametrize("reuse", [True, False])
def test_a_cancelled_utterance_gets_no_pass_and_its_connection_is_kept_when_asked(
    monkeypatch: pytest.MonkeyPatch, reuse: bool
) -> None:
    from interaction.asr.server import transcription_server

    def no_pass(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a cancelled utterance runs no pass")

    monkeypatch.setattr(transcription_server, "final_pass", no_pass)
    ws = UtteranceSocket(FakeSocket())
    ws.cancelled = True
    client = client_with(np.zeros(1_600, dtype=np.float32), websocket=ws)
    client.frames_ready = threading.Event()

    reply = server_with(client)._finalize_client(
        client, dataclasses.replace(OPTIONS, reuse=reuse), []
    )

    assert reply == {"type": CANCELLED_TYPE}
    assert ws.kept is reuse


# --- with the real model ------------------------------------------------------------------


def spied(model: Any) -> tuple[Any, ModelSpy]:
    spy = ModelSpy(model.model)
    wrapped = SimpleNamespace(
        model=spy, feature_extractor=model.feature_extractor, hf_tokenizer=model.hf_tokenizer
    )
    return wrapped, spy


def assert_no_prompt(model: Any, spy: ModelSpy) -> None:
    """Every decode starts <|startoftranscript|> <|lang|> <|transcribe|> <|notimestamps|>:
    no <|startofprev|> section (initial_prompt, hotwords), no accepted answer's tokens."""
    sot_prev = model.hf_tokenizer.token_to_id("<|startofprev|>")
    answers = [model.hf_tokenizer.encode(" " + a, add_special_tokens=False).ids for a in CAFE]
    decodes = [args for name, args, _kwargs in spy.calls if name == "generate"]
    assert decodes, "the pass decoded a transcript"
    for args in decodes:
        for prompt in args[1]:
            assert sot_prev not in prompt
            assert len(prompt) == 4, prompt
            assert not any(token in prompt for tokens in answers for token in tokens[:1])


@pytest.mark.asr
def test_the_final_and_the_evaluations_carry_no_prompt(
    model: Any, speech_clip: Callable[..., Path]
) -> None:
    audio = read_wav(speech_clip("Un café, s'il vous plaît", "fr", speed=150))
    transcriber, spy = spied(model)
    ws = FakeSocket()
    client = client_with(
        audio, transcriber, websocket=ws, exit=False, frames_ready=threading.Event()
    )
    server = server_with(client)

    server._evaluate(client, OPTIONS, 1)
    final = server._finalize_client(client, OPTIONS, [])

    (evidence,) = ws.sent
    assert (evidence["type"], evidence["id"]) == (EVIDENCE_TYPE, 1)
    assert final["type"] == FINAL_TYPE
    for message in (evidence, final):
        payload = message["evidence"]
        assert payload["transcript"]
        assert {a["answer"] for a in payload["answers"]} == set(CAFE)  # scored, not prompted
        assert message["asr_ms"] >= 0
    assert [name for name, _a, _k in spy.calls].count("encode") == 2  # one per pass
    assert_no_prompt(model, spy)
