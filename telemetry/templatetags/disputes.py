"""The learner's review: an attempt's dispute (or whether it may be disputed)."""

from __future__ import annotations

from django import template

from interaction.models import Attempt
from telemetry.disputes import DISPUTABLE, dispute_for_attempt
from telemetry.models import Dispute

register = template.Library()


@register.simple_tag
def dispute_of(attempt: Attempt) -> Dispute | None:
    return dispute_for_attempt(attempt_id=attempt.pk)


@register.filter
def disputable(attempt: Attempt) -> bool:
    return attempt.outcome in DISPUTABLE and bool(attempt.transcript.strip())
