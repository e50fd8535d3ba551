"""The learner's forms: sign-up and settings, each with the languages they speak."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from interaction.languages import (
    MAX_LEARNER_LANGUAGES,
    LanguagesInvalid,
    language_choices,
    other_languages_clean,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    _UserCreationForm = UserCreationForm[User]
else:  # Django's form classes are not subscriptable at run time
    _UserCreationForm = UserCreationForm

OTHER_LANGUAGES_LABEL = "Languages you speak"
OTHER_LANGUAGES_HELP = (
    f"Besides the one you are learning; up to {MAX_LEARNER_LANGUAGES}. An answer spoken in one "
    "of these is caught as the wrong language."
)


class OtherLanguagesField(forms.MultipleChoiceField):
    """One checkbox per language Parley supports; none ticked is allowed."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", OTHER_LANGUAGES_LABEL)
        kwargs.setdefault("help_text", OTHER_LANGUAGES_HELP)
        super().__init__(choices=language_choices, required=False, **kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        try:
            other_languages_clean(value)  # the services' own check (how many)
        except LanguagesInvalid as invalid:
            raise forms.ValidationError(str(invalid), code="invalid_languages") from invalid


class SignupForm(_UserCreationForm):
    other_languages = OtherLanguagesField()


class LanguagesForm(forms.Form):
    other_languages = OtherLanguagesField()
