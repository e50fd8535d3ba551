"""Scenarios as content designers write them: turns, accepted answers and rule overrides.

Every override field is nullable: null means "inherit" (per-difficulty defaults, then the
global defaults in settings.PARLEY_RULES); `scenarios.rules` resolves the effective values.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from scenarios.rules import PENALTY_COSTS, PENALTY_TYPES, audio_judging_problems
from scenarios.specs import DEFAULT_REVEAL_AFTER


def validate_open_fraction(value: float) -> None:
    """A probability-like threshold must lie in (0, 1]: zero would accept anything."""
    if not 0.0 < value <= 1.0:
        raise ValidationError("Must be greater than 0 and at most 1.")


def validate_audio_judging(value: object) -> None:
    """Only the fair judge's threshold names, each a number within its bounds."""
    problems = audio_judging_problems(value)
    if problems:
        raise ValidationError("; ".join(f"{key}: {message}" for key, message in problems))


class Difficulty(models.TextChoices):
    EASY = "easy", "Easy"
    NORMAL = "normal", "Normal"
    HARD = "hard", "Hard"


class Scenario(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    language = models.CharField(
        max_length=8, help_text="Target language, ISO 639-1 code (fr, es, de, en)."
    )
    difficulty = models.CharField(
        max_length=8, choices=Difficulty.choices, default=Difficulty.NORMAL
    )
    lives = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Blank: inherit."
    )
    reward = models.PositiveIntegerField(
        null=True, blank=True, help_text="Points per correct turn."
    )
    answer_similarity = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.01), MaxValueValidator(100.0)],
        help_text="Similarity (0..100) an answer needs to match. Blank: inherit.",
    )
    wrong_language_probability = models.FloatField(
        null=True,
        blank=True,
        validators=[validate_open_fraction],
        help_text="Language probability (0..1) making an answer wrong-language. Blank: inherit.",
    )
    audio_judging = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_audio_judging],
        help_text=(
            'The fair judge\'s floors for spoken answers, e.g. {"correct_floor": 0.97} '
            "(docs/fair-judge.md). Empty: inherit the difficulty's and the global ones."
        ),
    )
    wrong_language_lives = models.PositiveSmallIntegerField(null=True, blank=True)
    wrong_language_points = models.PositiveIntegerField(null=True, blank=True)
    incorrect_answer_lives = models.PositiveSmallIntegerField(null=True, blank=True)
    incorrect_answer_points = models.PositiveIntegerField(null=True, blank=True)
    typed_answers = models.BooleanField(default=True, help_text="Learners may type answers.")
    streaming_enabled = models.BooleanField(default=True, help_text="Streaming mode is offered.")
    reveal_after = models.PositiveSmallIntegerField(
        default=DEFAULT_REVEAL_AFTER,
        validators=[MinValueValidator(1)],
        help_text=(
            "Wrong answers on a turn after which the closest accepted answer is shown "
            '("You could say: …"); it is also shown when the game is lost on that turn.'
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language", "slug"]

    def __str__(self) -> str:
        return f"{self.title} ({self.slug})"

    def penalty_overrides(self) -> dict[str, dict[str, int | None]]:
        """Each penalty type's own costs from its `<type>_<cost>` columns; None inherits."""
        return {
            name: {cost: getattr(self, f"{name}_{cost}") for cost in PENALTY_COSTS}
            for name in PENALTY_TYPES
        }


class Turn(models.Model):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="turns")
    order = models.PositiveSmallIntegerField(help_text="0-based position in the scenario.")
    prompt = models.TextField()
    hint = models.CharField(max_length=300, blank=True, help_text="Shown after a wrong answer.")
    reward = models.PositiveIntegerField(null=True, blank=True, help_text="Blank: inherit.")

    class Meta:
        ordering = ["scenario", "order"]
        constraints = [
            models.UniqueConstraint(fields=["scenario", "order"], name="turn_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.scenario.slug} #{self.order}: {self.prompt[:40]}"


class AcceptedAnswer(models.Model):
    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="answers")
    text = models.CharField(max_length=300)

    class Meta:
        ordering = ["turn", "id"]

    def __str__(self) -> str:
        return self.text
