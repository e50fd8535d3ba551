"""Read-only admin of stored sessions for analysts and content designers: nothing is edited."""

from __future__ import annotations

from django.contrib import admin

from interaction.models import Attempt, LearnerProfile, ScoreEvent, Session


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "created_at",
        "turn_index",
        "source",
        "transcript",
        "confidence",
        "language",
        "language_probability",
        "outcome",
        "similarity",
        "score_delta",
        "lives_delta",
        "auto_finalised",
        "asr_ms",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ScoreEventInline(admin.TabularInline):
    model = ScoreEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "created_at",
        "reason",
        "score_delta",
        "lives_delta",
        "score_after",
        "lives_after",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Session)
class SessionAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "learner",
        "scenario",
        "mode",
        "status",
        "score",
        "lives_remaining",
        "lives_total",
        "turn_index",
    ]
    list_filter = ["status", "mode", "scenario__language", "scenario"]
    search_fields = ["learner__username", "scenario__slug", "id"]
    date_hierarchy = "started_at"
    inlines = [AttemptInline, ScoreEventInline]
    list_select_related = ["learner", "scenario"]


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "session",
        "turn_index",
        "source",
        "transcript",
        "confidence",
        "language",
        "outcome",
        "similarity",
        "score_delta",
        "lives_delta",
    ]
    list_filter = ["outcome", "source", "session__mode", "session__scenario"]
    search_fields = ["transcript", "session__learner__username"]
    date_hierarchy = "created_at"
    list_select_related = ["session"]


@admin.register(LearnerProfile)
class LearnerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "other_languages"]
    search_fields = ["user__username"]
