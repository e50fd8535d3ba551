"""Server-rendered SVG charts of the report: no script, no library, readable without CSS.

Pure functions of figures already computed; every text is escaped by format_html.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from telemetry.analytics import ScenarioFigures, TurnFigures

BAR_W, GAP, PLOT_H, TOP, BOTTOM, LEFT = 44, 16, 160, 16, 44, 40


def _axis(width: int) -> SafeString:
    ticks = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
        '<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>',
        (
            (
                LEFT,
                width,
                TOP + PLOT_H * (1 - f),
                TOP + PLOT_H * (1 - f),
                LEFT - 6,
                TOP + PLOT_H * (1 - f) + 4,
                f"{f:.0%}",
            )
            for f in (0.0, 0.25, 0.5, 0.75, 1.0)
        ),
    )
    return ticks


def _svg(width: int, title: str, body: SafeString, css_class: str) -> SafeString:
    return format_html(
        '<svg class="chart {}" role="img" viewBox="0 0 {} {}" width="{}" height="{}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}{}</svg>',
        css_class,
        width,
        TOP + PLOT_H + BOTTOM,
        width,
        TOP + PLOT_H + BOTTOM,
        title,
        _axis(width),
        body,
    )


def _width(count: int) -> int:
    return LEFT + max(count, 1) * (BAR_W + GAP) + GAP


def difficulty_bars_svg(turns: Sequence[TurnFigures], *, title: str) -> SafeString:
    """One bar per turn: its difficulty (0..1, labelled as a percentage). A turn below the
    minimum sample has no bar, only "n/a" and its session count."""
    bars = []
    for i, turn in enumerate(turns):
        x = LEFT + GAP + i * (BAR_W + GAP)
        label = format_html(
            '<text x="{}" y="{}" class="label" text-anchor="middle">Turn {}</text>'
            '<text x="{}" y="{}" class="label small" text-anchor="middle">n={}</text>',
            x + BAR_W / 2,
            TOP + PLOT_H + 16,
            turn.turn_number,
            x + BAR_W / 2,
            TOP + PLOT_H + 30,
            turn.sessions,
        )
        if turn.difficulty is None:
            bars.append(
                format_html(
                    '<g class="no-data"><rect x="{}" y="{}" width="{}" height="{}" '
                    'class="placeholder"/><text x="{}" y="{}" class="value" '
                    'text-anchor="middle">n/a</text><title>Turn {}: not enough data '
                    "({} sessions)</title>{}</g>",
                    x,
                    TOP,
                    BAR_W,
                    PLOT_H,
                    x + BAR_W / 2,
                    TOP + PLOT_H - 6,
                    turn.turn_number,
                    turn.sessions,
                    label,
                )
            )
            continue
        height = round(PLOT_H * turn.difficulty, 1)
        bars.append(
            format_html(
                '<g class="bar"><rect x="{}" y="{}" width="{}" height="{}" class="difficulty"/>'
                '<text x="{}" y="{}" class="value" text-anchor="middle">{}</text>'
                "<title>Turn {}: difficulty {} ({} sessions)</title>{}</g>",
                x,
                TOP + PLOT_H - height,
                BAR_W,
                height,
                x + BAR_W / 2,
                TOP + PLOT_H - height - 4,
                f"{turn.difficulty:.0%}",
                turn.turn_number,
                f"{turn.difficulty:.0%}",
                turn.sessions,
                label,
            )
        )
    return _svg(_width(len(turns)), title, SafeString("".join(bars)), "difficulty-chart")


def pass_funnel_svg(
    scenario: ScenarioFigures, turns: Sequence[TurnFigures], *, title: str
) -> SafeString:
    """The share of the scenario's sessions that passed each turn, in turn order: where
    learners drop out."""
    bars = []
    for i, turn in enumerate(turns):
        share = turn.sessions_passed / scenario.sessions if scenario.sessions else 0.0
        x = LEFT + GAP + i * (BAR_W + GAP)
        height = round(PLOT_H * share, 1)
        bars.append(
            format_html(
                '<g class="step"><rect x="{}" y="{}" width="{}" height="{}" class="passed"/>'
                '<text x="{}" y="{}" class="value" text-anchor="middle">{}</text>'
                '<text x="{}" y="{}" class="label" text-anchor="middle">Turn {}</text>'
                '<text x="{}" y="{}" class="label small" text-anchor="middle">{}/{}</text>'
                "<title>Turn {}: {} of {} sessions passed</title></g>",
                x,
                TOP + PLOT_H - height,
                BAR_W,
                height,
                x + BAR_W / 2,
                TOP + PLOT_H - height - 4,
                f"{share:.0%}",
                x + BAR_W / 2,
                TOP + PLOT_H + 16,
                turn.turn_number,
                x + BAR_W / 2,
                TOP + PLOT_H + 30,
                turn.sessions_passed,
                scenario.sessions,
                turn.turn_number,
                turn.sessions_passed,
                scenario.sessions,
            )
        )
    return _svg(_width(len(turns)), title, SafeString("".join(bars)), "funnel-chart")
