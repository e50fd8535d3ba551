"""The designers' disputes queue and the stored stream telemetry (read-only)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from interaction.languages import language_name
from telemetry.disputes import DisputeRefused, dispute_accept, dispute_dismiss
from telemetry.models import Dispute, StreamConnection, StreamSample


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "status",
        "scenario",
        "turn",
        "transcript",
        "outcome",
        "confidence",
        "language_evidence",
        "comment",
        "learner",
    ]
    list_filter = ["status", "attempt__session__scenario"]
    list_select_related = ["attempt__session__scenario", "attempt__turn", "learner"]
    search_fields = ["attempt__transcript", "comment", "learner__username"]
    actions = ["accept_answers", "dismiss_disputes"]
    fields = readonly_fields = (
        "status",
        "scenario",
        "turn",
        "transcript",
        "outcome",
        "confidence",
        "language_evidence",
        "accepted_answers",
        "comment",
        "learner",
        "session_link",
        "created_at",
        "resolved_at",
        "resolved_by",
        "accepted_text",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Scenario", ordering="attempt__session__scenario__title")
    def scenario(self, dispute: Dispute) -> str:
        return dispute.attempt.session.scenario.title

    @admin.display(description="Turn")
    def turn(self, dispute: Dispute) -> str:
        return f"Turn {dispute.attempt.turn_index + 1}: {dispute.attempt.turn.prompt[:60]}"

    @admin.display(description="Transcript")
    def transcript(self, dispute: Dispute) -> str:
        return dispute.attempt.transcript

    @admin.display(description="Judged")
    def outcome(self, dispute: Dispute) -> str:
        return dispute.attempt.get_outcome_display()

    @admin.display(description="Confidence")
    def confidence(self, dispute: Dispute) -> str:
        value = dispute.attempt.confidence
        return "—" if value is None else f"{value:.2f}"

    @admin.display(description="Language evidence")
    def language_evidence(self, dispute: Dispute) -> str:
        probabilities = sorted(
            (dispute.attempt.language_probabilities or {}).items(), key=lambda item: -item[1]
        )[:3]
        if not probabilities:
            return "—"
        return ", ".join(f"{language_name(code)} {p:.2f}" for code, p in probabilities)

    @admin.display(description="Accepted answers now")
    def accepted_answers(self, dispute: Dispute) -> str:
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "", "<li>{}</li>", ((a.text,) for a in dispute.attempt.turn.answers.all())
            ),
        )

    @admin.display(description="Session")
    def session_link(self, dispute: Dispute) -> str:
        url = reverse("analytics-session", args=[dispute.attempt.session_id])
        return format_html('<a href="{}">Review the session</a>', url)

    def _resolve(self, request: HttpRequest, queryset: QuerySet[Dispute], action, done: str):
        resolved = 0
        for dispute in queryset.filter(status=Dispute.Status.OPEN):
            try:
                action(dispute=dispute, by=request.user)
            except DisputeRefused as refused:
                self.message_user(request, f"{dispute}: {refused}", messages.ERROR)
            else:
                resolved += 1
        self.message_user(request, f"{resolved} dispute(s) {done}.", messages.SUCCESS)

    @admin.action(
        description="Accept: add the transcript to the turn's accepted answers",
        permissions=["change"],
    )
    def accept_answers(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        self._resolve(request, queryset, dispute_accept, "accepted (scores unchanged)")

    @admin.action(description="Dismiss", permissions=["change"])
    def dismiss_disputes(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        self._resolve(request, queryset, dispute_dismiss, "dismissed")


class StreamSampleInline(admin.TabularInline):
    model = StreamSample
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "kind", "value_ms", "code")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(StreamConnection)
class StreamConnectionAdmin(admin.ModelAdmin):
    list_display = ["opened_at", "closed_at", "close_code", "resumed", "learner", "session"]
    list_filter = ["resumed", "close_code"]
    list_select_related = ["learner", "session__scenario"]
    inlines = [StreamSampleInline]
    readonly_fields = ["learner", "session", "resumed", "opened_at", "closed_at", "close_code"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
