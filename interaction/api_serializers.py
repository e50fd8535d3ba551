"""The time-stop API's response shapes (they are also its OpenAPI schema).

Output serializers only: the views in `interaction/api.py` parse their input themselves and
reply with `presenters` data through these; a test checks real responses against the schema.
"""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from interaction.languages import LEARNER_LANGUAGES, MAX_LEARNER_LANGUAGES
from interaction.vocabulary import PENALISED_OUTCOMES, Outcome

PENALTY_CHOICES = [
    (value, label) for value, label in Outcome.choices() if value in PENALISED_OUTCOMES
]
OTHER_LANGUAGES_HELP = (
    "The languages the learner speaks besides the one they learn (ISO 639-1 codes Parley "
    f"supports, at most {MAX_LEARNER_LANGUAGES}; repeats are dropped): a spoken answer in one "
    "of them is a wrong-language answer. Empty: none named, and the server's default "
    "languages (English out of the box) are suspected."
)
OTHER_LANGUAGES_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "enum": list(LEARNER_LANGUAGES)},
}


class TurnOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    count = serializers.IntegerField()
    prompt = serializers.CharField()
    language = serializers.CharField()


class AttemptSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    turn_index = serializers.IntegerField()
    # The serializer metaclass moves declared fields off the class, so this never shadows
    # Field.source at run time; the stub sees only the class attribute.
    source = serializers.CharField()  # type: ignore[assignment]
    transcript = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    language = serializers.CharField()
    language_probability = serializers.FloatField(allow_null=True)
    outcome = serializers.CharField()
    similarity = serializers.FloatField(allow_null=True)
    words = serializers.ListField(child=serializers.DictField())
    evidence = serializers.DictField(
        help_text="A spoken answer's evidence and which rule decided (docs/fair-judge.md)."
    )
    scoreDelta = serializers.IntegerField(source="score_delta")
    livesDelta = serializers.IntegerField(source="lives_delta")
    auto_finalised = serializers.BooleanField()
    asr_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class LedgerRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    attempt = serializers.IntegerField(source="attempt_id", allow_null=True)
    reason = serializers.CharField()
    scoreDelta = serializers.IntegerField(source="score_delta")
    livesDelta = serializers.IntegerField(source="lives_delta")
    score_after = serializers.IntegerField()
    lives_after = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class SessionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    scenario = serializers.CharField()
    mode = serializers.CharField()
    status = serializers.CharField()
    score = serializers.IntegerField()
    lives_remaining = serializers.IntegerField()
    lives_total = serializers.IntegerField()
    turn = TurnOutputSerializer(allow_null=True)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class SessionDetailOutputSerializer(SessionOutputSerializer):
    attempts = AttemptSummarySerializer(many=True)
    ledger = LedgerRowSerializer(many=True)


class AttemptOutputSerializer(serializers.Serializer):
    attempt = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=Outcome.choices())
    message = serializers.CharField(
        allow_null=True,
        help_text=(
            "For `unclear` and `no_speech` (nothing changes, the turn stays): what to tell the "
            'learner, e.g. "I couldn\'t quite make that out — no heart lost. Say it again?"; '
            "null otherwise."
        ),
    )
    transcript = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    language = serializers.CharField(allow_null=True)
    language_probability = serializers.FloatField(allow_null=True)
    similarity = serializers.FloatField(allow_null=True)
    words = serializers.ListField(child=serializers.DictField())
    asr_ms = serializers.IntegerField(allow_null=True)
    audio_ms = serializers.IntegerField(allow_null=True)
    penalty = inline_serializer(
        "Penalty",
        fields={
            "type": serializers.ChoiceField(choices=PENALTY_CHOICES),
            "lives": serializers.IntegerField(),
            "points": serializers.IntegerField(),
            "hint": serializers.CharField(required=False),
            "answer": serializers.CharField(
                required=False,
                help_text=(
                    "The closest accepted answer, only from the scenario's `reveal_after`-th "
                    "wrong answer on the turn, or when this answer ended the game."
                ),
            ),
            "similarity": serializers.FloatField(required=False),
            "expected_language": serializers.CharField(required=False),
            "detected_language": serializers.CharField(required=False, allow_null=True),
        },
        allow_null=True,
    )
    scoreDelta = serializers.IntegerField()
    livesDelta = serializers.IntegerField()
    score = serializers.IntegerField()
    lives_remaining = serializers.IntegerField()
    lives_total = serializers.IntegerField()
    turn = TurnOutputSerializer(allow_null=True)
    status = serializers.CharField()


class LearnerOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    other_languages = serializers.ListField(
        child=serializers.CharField(), help_text=OTHER_LANGUAGES_HELP
    )
