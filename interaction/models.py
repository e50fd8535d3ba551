"""Sessions, attempts and the append-only score ledger.

A session's score and lives are a cache of its ledger: `score == sum(score_delta)` and
`lives_remaining == sum(lives_delta)` (the first row grants the starting lives). Both are
written in the transaction that records the attempt; Postgres refuses updates and deletes of
ledger rows (see the migration's trigger).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from interaction.vocabulary import Mode, Outcome, SessionStatus, Source


class LearnerProfile(models.Model):
    """A learner's settings: the languages they may slip into (used by the language check)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="learner_profile"
    )
    other_languages = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({', '.join(self.other_languages) or 'defaults'})"


class Session(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="practice_sessions"
    )
    scenario = models.ForeignKey(
        "scenarios.Scenario", on_delete=models.PROTECT, related_name="sessions"
    )
    mode = models.CharField(max_length=12, choices=Mode.choices(), default=Mode.TIME_STOP)
    score = models.IntegerField(default=0)
    lives_total = models.PositiveSmallIntegerField()
    lives_remaining = models.PositiveSmallIntegerField()
    turn_index = models.PositiveSmallIntegerField(default=0, help_text="0-based turn now due.")
    turn_count = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=12, choices=SessionStatus.choices(), default=SessionStatus.ACTIVE
    )
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    event_seq = models.PositiveIntegerField(
        default=0, help_text="seq of the last stored stream event (events count from 1)."
    )
    stream_owner = models.CharField(
        max_length=64, blank=True, help_text="The stream connection that may write events."
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["learner", "-started_at"]),
            models.Index(fields=["scenario", "status"]),
            models.Index(fields=["started_at"]),
        ]

    def __str__(self) -> str:
        started = self.started_at.strftime("%Y-%m-%d %H:%M") if self.started_at else "new"
        return f"{self.scenario.title} · {self.learner} · {self.get_status_display()} ({started})"

    @property
    def is_active(self) -> bool:
        return self.status == SessionStatus.ACTIVE


class Attempt(models.Model):
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="attempts")
    turn = models.ForeignKey("scenarios.Turn", on_delete=models.PROTECT, related_name="attempts")
    turn_index = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=8, choices=Source.choices())
    transcript = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True, help_text="0..1")
    language = models.CharField(max_length=8, blank=True)
    language_probability = models.FloatField(null=True, blank=True)
    language_probabilities = models.JSONField(default=dict, blank=True)
    words = models.JSONField(
        default=list, blank=True, help_text="[{word, start, end, probability}]"
    )
    evidence = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "A spoken answer's evidence (docs/fair-judge.md): the ASR payload the fair judge read, "
            "and under 'verdict' which rule decided, with its margin and similarity."
        ),
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices())
    similarity = models.FloatField(null=True, blank=True, help_text="0..100 to the best answer")
    matched_answer = models.CharField(max_length=300, blank=True)
    score_delta = models.IntegerField(default=0)
    lives_delta = models.IntegerField(default=0)
    auto_finalised = models.BooleanField(default=False)
    audio_ms = models.PositiveIntegerField(null=True, blank=True)
    asr_ms = models.PositiveIntegerField(null=True, blank=True)
    judge_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["turn", "outcome"]),
            models.Index(fields=["session", "created_at", "id"]),
            # The answers learners give (telemetry.answers) read the newest wrong or unclear
            # attempts with words: this index lets that read stop at its bound.
            models.Index(
                fields=["-created_at", "-id"],
                name="attempt_missed_recent_idx",
                condition=models.Q(outcome__in=["incorrect_answer", "unclear"])
                & ~models.Q(transcript=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} #{self.turn_index} {self.outcome}"


class ScoreEvent(models.Model):
    """One row per change of score or lives; never updated, never deleted."""

    class Reason(models.TextChoices):
        SESSION_START = "session_start", "Session start"
        # A judged answer's reason is its outcome's value.
        CORRECT = Outcome.CORRECT.value, "Correct answer"
        WRONG_LANGUAGE = Outcome.WRONG_LANGUAGE.value, "Wrong language"
        INCORRECT_ANSWER = Outcome.INCORRECT_ANSWER.value, "Incorrect answer"

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="ledger")
    attempt = models.OneToOneField(
        Attempt, on_delete=models.PROTECT, null=True, blank=True, related_name="score_event"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    score_delta = models.IntegerField()
    lives_delta = models.IntegerField()
    score_after = models.IntegerField()
    lives_after = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.session_id} {self.reason} {self.score_delta:+d}/{self.lives_delta:+d}"


class SessionEvent(models.Model):
    """Every event a stream sent, in order, so a resume on any process replays what was missed."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=16)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="session_event_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} #{self.seq} {self.type}"


class PartialTranscript(models.Model):
    """A partial hypothesis of a streamed utterance, for review and difficulty analytics.

    audio_ms: audio the hypothesis covers; latency_ms: from the utterance's first audio to
    the moment the partial was sent.
    """

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="partials")
    turn_index = models.PositiveSmallIntegerField()
    utterance = models.UUIDField()
    seq = models.PositiveIntegerField()
    transcript = models.TextField(blank=True)
    confidence = models.FloatField()
    similarity = models.FloatField(null=True, blank=True)
    audio_ms = models.PositiveIntegerField()
    latency_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        indexes = [models.Index(fields=["utterance"])]

    def __str__(self) -> str:
        return f"{self.session_id} #{self.seq} {self.transcript[:30]}"
