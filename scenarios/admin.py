"""Content designers' admin: scenarios with their turns and answers, saved via the services."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.formsets import BaseFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from interaction.languages import language_name
from scenarios.models import Scenario, Turn
from scenarios.rules import PENALTY_TYPES
from scenarios.selectors import scenario_rules_get
from scenarios.services import scenario_upsert
from scenarios.specs import (
    DEFAULT_REVEAL_AFTER,
    SLUG_PATTERN,
    SUPPORTED_LANGUAGES,
    ScenarioSpec,
    SpecInvalid,
    spec_from_mapping,
)

ANSWERS_REQUIRED = "Give at least one accepted answer."


class TurnForm(forms.ModelForm):
    """A turn as designers count it: turns from 1, every answer visible, room for the hint."""

    order = forms.IntegerField(
        label="Turn",
        min_value=1,
        error_messages={"min_value": "Turns are numbered from 1."},
        help_text="Its position in the scenario, from 1.",
        widget=forms.NumberInput(attrs={"style": "width: 5em"}),
    )
    answers_text = forms.CharField(
        label="Accepted answers",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text="One accepted answer per line.",
        error_messages={"required": ANSWERS_REQUIRED},
    )

    class Meta:
        model = Turn
        fields = ["order", "prompt", "hint", "reward"]
        widgets = {
            "prompt": forms.Textarea(attrs={"rows": 2, "cols": 70}),
            "hint": forms.Textarea(attrs={"rows": 2, "cols": 70, "maxlength": 300}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            answers = [answer.text for answer in self.instance.answers.all()]
            self.initial["answers_text"] = "\n".join(answers)
            self.initial["order"] = self.instance.order + 1
            # Room for every answer and a blank line for the next one.
            self.fields["answers_text"].widget.attrs["rows"] = max(4, len(answers) + 1)

    def clean_order(self) -> int:
        return self.cleaned_data["order"] - 1  # stored 0-based

    def clean_answers_text(self) -> list[str]:
        answers = [line.strip() for line in self.cleaned_data["answers_text"].splitlines()]
        answers = [answer for answer in answers if answer]
        if not answers:
            raise ValidationError(ANSWERS_REQUIRED)
        return answers


def _lives(count: int) -> str:
    return f"{count} life" if count == 1 else f"{count} lives"


class TurnFormSet(forms.BaseInlineFormSet):
    """Validates the whole scenario with the file format's rules, so saving cannot fail.

    The admin builds this formset with the scenario form's values already on `self.instance`
    (`ModelAdmin.save_form` runs before the formsets are created).
    """

    spec: ScenarioSpec | None = None

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        kept = [
            form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if not kept:
            raise ValidationError("A scenario needs at least one turn.")
        kept.sort(key=lambda form: form.cleaned_data["order"])
        try:
            self.spec = spec_from_mapping(_scenario_mapping(self.instance, kept))
        except SpecInvalid as invalid:
            # One error per mistake: a scenario field the scenario form already rejected
            # (ScenarioAdmin.save_form marks a valid one) is not reported a second time here.
            form_valid = getattr(self.instance, "_parley_form_valid", False)
            errors = [
                str(error)
                for error in invalid.errors
                if form_valid or error.field.startswith("turns")
            ]
            if errors:
                raise ValidationError(errors) from invalid
            return
        if self.instance.pk:
            removed = (
                Turn.objects.filter(
                    scenario=self.instance, order__gte=len(kept), attempts__isnull=False
                )
                .values_list("order", flat=True)
                .distinct()
            )
            if removed:
                raise ValidationError(
                    f"Turn(s) {', '.join(str(order + 1) for order in removed)} have recorded "
                    "attempts and cannot be removed: edit turns instead of deleting them."
                )


def _scenario_mapping(scenario: Scenario, turn_forms: Sequence[forms.BaseForm]) -> dict[str, Any]:
    """The file-format mapping of a scenario being edited in the admin."""
    return {
        "slug": scenario.slug,
        "title": scenario.title,
        "description": scenario.description or "",
        "language": scenario.language,
        "difficulty": scenario.difficulty,
        "lives": scenario.lives,
        "reward": scenario.reward,
        "answer_similarity": scenario.answer_similarity,
        "wrong_language_probability": scenario.wrong_language_probability,
        "typed_answers": scenario.typed_answers,
        "streaming_enabled": scenario.streaming_enabled,
        "reveal_after": scenario.reveal_after,
        "penalties": scenario.penalty_overrides(),
        "audio_judging": scenario.audio_judging or {},
        "turns": [
            {
                "prompt": form.cleaned_data["prompt"],
                "hint": form.cleaned_data.get("hint") or "",
                "reward": form.cleaned_data.get("reward"),
                "answers": form.cleaned_data["answers_text"],
            }
            for form in turn_forms
        ],
    }


class TurnInline(admin.StackedInline):
    model = Turn
    form = TurnForm
    formset = TurnFormSet
    extra = 0
    ordering = ["order"]
    readonly_fields = ["effective_reward", "try_answer"]

    @admin.display(description="Judge")
    def try_answer(self, turn: Turn) -> str:
        """The playground: the real judge on this turn, nothing stored (telemetry.designer)."""
        if not turn.pk:
            return "Save the scenario first."
        return format_html('<a href="{}">Try an answer</a>', reverse("turn-try", args=[turn.pk]))

    @admin.display(description="Effective reward")
    def effective_reward(self, turn: Turn) -> str:
        if not turn.pk:
            return "—"
        return str(scenario_rules_get(scenario=turn.scenario, turn=turn).reward)


class ScenarioForm(forms.ModelForm):
    language = forms.ChoiceField(
        choices=[(code, f"{language_name(code)} ({code})") for code in SUPPORTED_LANGUAGES]
    )
    reveal_after = forms.IntegerField(
        min_value=1,
        required=False,
        initial=DEFAULT_REVEAL_AFTER,
        help_text=Scenario._meta.get_field("reveal_after").help_text + " Blank: 2.",
    )

    def clean_reveal_after(self) -> int:
        return self.cleaned_data.get("reveal_after") or DEFAULT_REVEAL_AFTER

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if not SLUG_PATTERN.match(slug):
            raise ValidationError("Use lowercase letters, digits and single hyphens.")
        return slug

    class Meta:
        model = Scenario
        exclude: list[str] = []
        error_messages = {
            "lives": {"min_value": "Give at least 1 life, or leave it blank to inherit."},
        }


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    form = ScenarioForm
    inlines = [TurnInline]
    list_display = [
        "title",
        "slug",
        "language_label",
        "difficulty",
        "turn_count",
        "typed_answers",
        "streaming_enabled",
        "updated_at",
        "links",
    ]
    list_filter = ["language", "difficulty", "typed_answers", "streaming_enabled"]
    search_fields = ["slug", "title"]
    readonly_fields = ["links", "effective_rules", "created_at", "updated_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "links",
                    "slug",
                    "title",
                    "description",
                    "language",
                    "difficulty",
                    "typed_answers",
                    "streaming_enabled",
                    "reveal_after",
                ]
            },
        ),
        (
            "Overrides (blank inherits the difficulty's and the global defaults)",
            {
                "fields": [
                    ("lives", "reward"),
                    ("answer_similarity", "wrong_language_probability"),
                    ("wrong_language_lives", "wrong_language_points"),
                    ("incorrect_answer_lives", "incorrect_answer_points"),
                    "audio_judging",
                    "effective_rules",
                ]
            },
        ),
        ("Timestamps", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "slug"] if obj else fields

    @admin.display(description="Turns")
    def turn_count(self, scenario: Scenario) -> int:
        return scenario.turns.count()

    @admin.display(description="Language", ordering="language")
    def language_label(self, scenario: Scenario) -> str:
        return language_name(scenario.language)

    @admin.display(description="Links")
    def links(self, scenario: Scenario) -> str:
        if not scenario.pk:
            return "—"
        return format_html(
            '<a href="{}">Play this scenario</a> · <a href="{}">Analytics for this scenario</a>',
            reverse("play-page", args=[scenario.slug]),
            f"{reverse('analytics-report')}?scenario={scenario.slug}",
        )

    def save_form(self, request: HttpRequest, form: forms.BaseForm, change: bool) -> Any:
        """The scenario form is valid (its turns' formset reads this mark)."""
        instance = super().save_form(request, form, change)
        instance._parley_form_valid = True
        return instance

    @admin.display(description="Effective values")
    def effective_rules(self, scenario: Scenario) -> str:
        rules = scenario_rules_get(scenario=scenario)
        rows: list[tuple[str, object]] = [
            ("Lives", _lives(rules.lives)),
            ("Reward per turn", rules.reward),
            ("Answer similarity", rules.answer_similarity),
            ("Wrong-language probability", rules.wrong_language_probability),
            (
                "Spoken-answer judge (set by the rules)",
                ", ".join(f"{k} {v:g}" for k, v in sorted(rules.audio_judging.items()))
                or "the judge's defaults",
            ),
        ]
        rows += [
            (
                f"{name.replace('_', ' ').capitalize()} costs",
                f"{_lives(rules.penalty(name).lives)}, {rules.penalty(name).points} points",
            )
            for name in PENALTY_TYPES
        ]
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        return format_html("<table>{}</table>", body)

    def save_model(self, request, obj, form, change) -> None:
        """Nothing here: the scenario and its turns are written together in save_related."""

    def save_related(self, request, form, formsets, change) -> None:
        """Write the scenario, its turns and answers through `scenario_upsert`."""
        (spec,) = [formset.spec for formset in formsets if isinstance(formset, TurnFormSet)]
        assert spec is not None  # TurnFormSet.clean built it from the validated forms
        scenario = scenario_upsert(spec=spec)
        form.instance.pk = scenario.pk
        form.instance.refresh_from_db()

    def construct_change_message(
        self,
        request: HttpRequest,
        form: forms.Form,
        formsets: Iterable[BaseFormSet[Any]],
        add: bool = False,
    ) -> list[dict[str, Any]]:
        # The formsets were not saved themselves (save_related wrote their rows), so they
        # have no new/changed/deleted object lists to describe.
        return super().construct_change_message(request, form, [], add)
