"""What the telemetry app stores: disputes, kept audio, and per-connection stream telemetry.

Every row here belongs to a learner, directly or through a session, so
`telemetry.privacy.learner_data_delete` can remove all of it (docs/privacy.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Dispute(models.Model):
    """A learner's "my answer should count" on one of their own attempts.

    Resolving a dispute never touches the attempt or the ledger: accepting adds the
    transcript to the turn's accepted answers for the answers that come after.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted: the answer now counts"
        DISMISSED = "dismissed", "Dismissed"

    attempt = models.OneToOneField(
        "interaction.Attempt", on_delete=models.CASCADE, related_name="dispute"
    )
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="disputes"
    )
    comment = models.TextField(blank=True, max_length=1000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    accepted_text = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["status", "-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Dispute of attempt {self.attempt_id} ({self.get_status_display()})"


class StoredAudio(models.Model):
    """A time-stop answer's uploaded clip, kept only while settings.STORE_AUDIO is on."""

    attempt = models.OneToOneField(
        "interaction.Attempt", on_delete=models.CASCADE, related_name="stored_audio"
    )
    content_type = models.CharField(max_length=100, blank=True)
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "stored audio"

    def __str__(self) -> str:
        return f"Audio of attempt {self.attempt_id} ({self.size:,} bytes)"


class StreamConnection(models.Model):
    """One /stream/interaction socket: who, which session, when, and how it ended."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stream_connections"
    )
    session = models.ForeignKey(
        "interaction.Session",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="stream_connections",
    )
    resumed = models.BooleanField(default=False, help_text="A reconnect to an existing session.")
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_code = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["session", "opened_at"])]

    def __str__(self) -> str:
        return f"Connection {self.id} of {self.learner_id}"


class StreamSample(models.Model):
    """One measurement of a connection, written in batches (telemetry.recorder)."""

    class Kind(models.TextChoices):
        RTT = "rtt", "Round trip (ping/pong)"
        ASR = "asr", "ASR latency"
        ERROR = "error", "Error sent"
        RECONNECT = "reconnect", "Reconnect (session resumed)"

    connection = models.ForeignKey(
        StreamConnection, on_delete=models.CASCADE, related_name="samples"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value_ms = models.FloatField(null=True, blank=True)
    code = models.CharField(max_length=40, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["connection", "at", "id"]
        indexes = [models.Index(fields=["connection", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.value_ms or self.code}"
