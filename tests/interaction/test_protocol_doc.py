"""docs/protocol.md and interaction/events.py describe the same events, field for field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from interaction.events import EVENT_TYPES, Event

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def documented_fields(section: str) -> set[str]:
    """The first column of the table under `### <section>` (or the common-fields table)."""
    text = DOC.read_text(encoding="utf-8")
    if section == "*":
        start = text.index("Every event carries these fields:")
    else:
        start = text.index(f"### `{section}`")
    table = re.search(r"\| field \|.*?\n\|[- |]+\n((?:\|.*\n)+)", text[start:])
    assert table, f"no field table for {section}"
    fields = [re.match(r"\| `(\w+)`", row) for row in table.group(1).splitlines()]
    assert all(fields), f"a row of the {section} table does not start with a `field`"
    return {field.group(1) for field in fields if field}


def test_common_fields_match() -> None:
    assert documented_fields("*") == set(Event.__annotations__)


@pytest.mark.parametrize("kind", [kind for kind in EVENT_TYPES if kind != "pong"])
def test_event_fields_match(kind: str) -> None:
    own = set(EVENT_TYPES[kind].__annotations__) - set(Event.__annotations__)
    assert documented_fields(kind) == own


def test_reset_reasons_match() -> None:
    from interaction.events import RESET_REASONS

    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### `reset`") :]
    row = next(line for line in section.splitlines() if line.startswith("| `reason`"))
    documented = re.findall(r"`(\w+)`", row.split("|")[3])
    assert documented == list(RESET_REASONS)


def test_every_reset_the_stream_sends_has_a_documented_reason() -> None:
    """The reasons the code passes to reset_event are the documented ones."""
    from interaction.events import RESET_REASONS
    from interaction.vocabulary import UNCHANGED_OUTCOMES

    root = DOC.parents[1]
    source = (root / "interaction" / "ws" / "turn.py").read_text(encoding="utf-8")
    literals = set(re.findall(r'SendReset\(\s*"(\w+)"', source))
    assert literals  # the pattern still finds them
    assert literals | {str(outcome) for outcome in UNCHANGED_OUTCOMES} <= set(RESET_REASONS)
