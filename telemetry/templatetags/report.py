"""The report's number formats: rates as percentages (the exports keep the raw fractions)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    """0..1 → "58%" ("7.7%" below 10%, "0%" for none); None → "—"."""
    if value is None:
        return "—"
    share = float(value) * 100
    if 0 < share < 10:
        return f"{share:.1f}%"
    return f"{share:.0f}%"


@register.filter
def decimal2(value: float | None) -> str:
    """A mean (lives, attempts, confidence) with two decimals; None → "—"."""
    return "—" if value is None else f"{float(value):.2f}"
