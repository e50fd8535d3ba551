"""config/server.py's collector_settle: what is loaded at start leaves the collector's way,
and the young generation's threshold comes from PARLEY_GC_YOUNG_THRESHOLD."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from config.server import collector_settle


@pytest.fixture
def collector_restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_start_is_frozen_and_the_young_threshold_set(collector_restored, settings) -> None:
    settings.PARLEY_GC_YOUNG_THRESHOLD = 4321
    older = gc.get_threshold()[1:]
    loaded: object = type("Loaded", (), {})()  # a tracked object, made before the start
    collector_settle()
    assert gc.get_freeze_count() > 0
    assert not any(obj is loaded for obj in gc.get_objects())  # frozen: out of every collection
    assert gc.get_threshold() == (4321, *older)
