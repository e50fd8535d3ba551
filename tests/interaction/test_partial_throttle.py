"""The partials' throttle: at most one per interval, the newest held one wins, repeats dropped."""

from __future__ import annotations

import pytest

from interaction.asr.types import Hypothesis
from interaction.ws.relay import PartialThrottle


def partial(text: str) -> Hypothesis:
    return Hypothesis(text=text, confidence=0.5)


def test_the_first_partial_goes_at_once_and_a_repeat_not_at_all() -> None:
    throttle = PartialThrottle(0.25)
    assert throttle.offer(partial("je"), now=10.0) == 0.0
    throttle.sent(partial("je"), at=10.0)
    assert throttle.offer(partial("je"), now=11.0) is None


def test_partials_within_the_interval_are_held_and_the_newest_wins() -> None:
    throttle = PartialThrottle(0.25)
    throttle.sent(partial("je"), at=10.0)
    assert throttle.offer(partial("je vou"), now=10.1) == pytest.approx(0.15)
    assert throttle.offer(partial("je voudrais"), now=10.2) is None  # the wait already runs
    assert throttle.take_held() == partial("je voudrais")
    assert throttle.take_held() is None
