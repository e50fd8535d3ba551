"""A spy on the CTranslate2 model: what the ASR process asked of it, and when."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ModelSpy:
    """Every call into the CTranslate2 model, recorded (and `on_call` told), then delegated."""

    def __init__(self, inner: Any, on_call: Callable[[str], None] | None = None) -> None:
        self._inner = inner
        self._on_call = on_call
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            if self._on_call is not None:
                self._on_call(name)
            return attribute(*args, **kwargs)

        return call
