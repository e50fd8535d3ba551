"""The fast partial loop's pure parts: the repeat cut, and the model lock that yields."""

from __future__ import annotations

import threading
import time

import pytest

from interaction.asr.server.locking import ModelLock
from interaction.asr.server.partials import cut_repeat, yielding


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ([1, 2, 3, 4, 1, 2, 3, 4], ([1, 2, 3, 4], True)),  # the sentence said twice
        ([9, 1, 2, 3, 4, 1, 2, 3, 4, 5], ([9, 1, 2, 3, 4], True)),
        ([1, 2, 1, 2], ([1, 2, 1, 2], False)),  # short repeats ("no, no") are speech
        ([1, 2, 3, 4, 5], ([1, 2, 3, 4, 5], False)),
        ([], ([], False)),
    ],
)
def test_cut_repeat(tokens: list[int], expected: tuple[list[int], bool]) -> None:
    assert cut_repeat(tokens) == expected


def test_model_lock_behaves_like_a_lock() -> None:
    lock = ModelLock()
    assert lock.acquire()
    assert lock.locked()
    assert not lock.acquire(blocking=False)
    assert not lock.acquire(timeout=0.01)
    lock.release()
    assert not lock.locked()
    with lock:
        assert lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


def test_a_waiting_verdict_gets_the_model_before_the_next_partial() -> None:
    """While a partial decode holds the model, an evaluation and a second partial wait:
    the evaluation (a plain acquire) goes first, whatever the order they came in."""
    lock = ModelLock()
    order: list[str] = []
    lock.acquire()  # the partial decode in flight

    def partial() -> None:
        with yielding(lock):
            order.append("partial")

    def evaluation() -> None:
        with lock:
            order.append("evaluation")

    threads = [threading.Thread(target=partial), threading.Thread(target=evaluation)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # the partial is waiting first
    lock.release()
    for thread in threads:
        thread.join(timeout=5)
    assert order == ["evaluation", "partial"]


def test_yielding_times_out_rather_than_waiting_for_ever(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("interaction.asr.server.partials.MODEL_LOCK_TIMEOUT_S", 0.05)
    lock = ModelLock()
    lock.acquire()
    with pytest.raises(TimeoutError), yielding(lock):
        pass
