"""Read-only admin of stored sessions for analysts and content designers: nothing is edited.
Learners' languages are the exception: editable, saved through `learner_languages_set`.

Labels are for people: scenario titles, learner names, turns counted from 1, language names.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from interaction.forms import OtherLanguagesField
from interaction.languages import language_name
from interaction.models import Attempt, LearnerProfile, ScoreEvent, Session
from interaction.services import learner_languages_set


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _lives(count: int) -> str:
    return f"{count} life" if count == 1 else f"{count} lives"


class _AttemptLabels:
    @admin.display(description="Turn", ordering="turn_index")
    def turn_number(self, attempt: Attempt) -> int:
        return attempt.turn_index + 1

    @admin.display(description="Language")
    def language_label(self, attempt: Attempt) -> str:
        if not attempt.language:
            return "—"
        probability = attempt.language_probability
        suffix = f" ({probability:.2f})" if probability is not None else ""
        return f"{language_name(attempt.language)}{suffix}"


class AttemptInline(_AttemptLabels, admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "created_at",
        "turn_number",
        "source",
        "transcript",
        "confidence",
        "language_label",
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
        "scenario_title",
        "mode",
        "status",
        "score",
        "lives",
        "turn_due",
        "review_link",
    ]
    list_filter = ["status", "mode", "scenario__language", "scenario"]
    search_fields = ["learner__username", "scenario__slug", "scenario__title", "id"]
    date_hierarchy = "started_at"
    inlines = [AttemptInline, ScoreEventInline]
    list_select_related = ["learner", "scenario"]

    @admin.display(description="Scenario", ordering="scenario__title")
    def scenario_title(self, session: Session) -> str:
        return session.scenario.title

    @admin.display(description="Lives")
    def lives(self, session: Session) -> str:
        return f"{session.lives_remaining} of {_lives(session.lives_total)}"

    @admin.display(description="Turn due")
    def turn_due(self, session: Session) -> str:
        if session.turn_index >= session.turn_count:
            return "—"
        return f"Turn {session.turn_index + 1} of {session.turn_count}"

    @admin.display(description="Review")
    def review_link(self, session: Session) -> str:
        return format_html(
            '<a href="{}">Review</a>', reverse("analytics-session", args=[session.pk])
        )


@admin.register(Attempt)
class AttemptAdmin(_AttemptLabels, ReadOnlyAdmin):
    list_display = [
        "created_at",
        "session_label",
        "turn_number",
        "source",
        "transcript",
        "confidence",
        "language_label",
        "outcome",
        "similarity",
        "score_delta",
        "lives_delta",
    ]
    list_filter = ["outcome", "source", "session__mode", "session__scenario"]
    search_fields = ["transcript", "session__learner__username"]
    date_hierarchy = "created_at"
    list_select_related = ["session__scenario", "session__learner"]

    @admin.display(description="Session", ordering="session__started_at")
    def session_label(self, attempt: Attempt) -> str:
        session = attempt.session
        return format_html(
            '<a href="{}">{} · {}</a>',
            reverse("admin:interaction_session_change", args=[session.pk]),
            session.scenario.title,
            session.learner,
        )


class LearnerProfileForm(forms.ModelForm):
    other_languages = OtherLanguagesField(
        label="Other languages",
        help_text="Spoken answers are suspected of exactly these; none ticked: the global "
        "default (PARLEY_JUDGING['other_languages']).",
    )

    class Meta:
        model = LearnerProfile
        fields = ["user", "other_languages"]


@admin.register(LearnerProfile)
class LearnerProfileAdmin(admin.ModelAdmin):
    form = LearnerProfileForm
    list_display = ["user", "languages"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]

    @admin.display(description="Other languages")
    def languages(self, profile: LearnerProfile) -> str:
        return ", ".join(language_name(code) for code in profile.other_languages) or "defaults"

    def get_readonly_fields(self, request, obj=None) -> tuple[str, ...]:
        return ("user",) if obj is not None else ()

    def save_model(self, request, obj: LearnerProfile, form, change: bool) -> None:
        """Through the service, as the API and the settings page save (one validation)."""
        saved = learner_languages_set(
            learner=obj.user, other_languages=form.cleaned_data["other_languages"]
        )
        obj.pk, obj.other_languages = saved.pk, saved.other_languages
