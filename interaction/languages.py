"""The learner's own languages: the codes Parley takes, their names, the browser's guess.

A learner names the languages they speak besides the one they learn (sign-up, settings, the
API, the admin); the judge suspects a spoken answer of exactly those
(`selectors.learner_other_languages_get`). `other_languages_clean` is the one validation
every way in goes through.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.translation import get_language_info

from scenarios.specs import SUPPORTED_LANGUAGES

LEARNER_LANGUAGES: tuple[str, ...] = SUPPORTED_LANGUAGES
"""The ISO 639-1 codes a learner may name: the languages Parley has scenarios and a judge for."""
MAX_LEARNER_LANGUAGES = 4
"""The most languages a learner may name. The ASR server decodes every answer once per
suspected language and takes at most 4 (`asr.server.options.MAX_OTHER_LANGUAGES`), so any
more would silently go unsuspected."""


class LanguagesInvalid(ValueError):
    """Not a list of language codes Parley supports; `str()` says why, for the learner."""


def language_name(code: str) -> str:
    """English name of an ISO 639-1 code ("fr" → "French"); the code itself if unknown."""
    try:
        return get_language_info(code)["name"]
    except KeyError:
        return code


def language_choices() -> list[tuple[str, str]]:
    """(code, English name) of every language a learner may name, by name."""
    return sorted(((code, language_name(code)) for code in LEARNER_LANGUAGES), key=lambda c: c[1])


def other_languages_clean(value: object) -> tuple[str, ...]:
    """A learner's languages as stored: supported codes, lower case, each once, in the order
    given, at most `MAX_LEARNER_LANGUAGES`. Anything else (not a list, a code Parley does not
    support, too many) is `LanguagesInvalid`.
    An empty list is valid: the learner named none, so the global default applies."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise LanguagesInvalid('Expected a list of language codes, e.g. ["es", "en"].')
    codes: list[str] = []
    unsupported: list[str] = []
    for item in value:
        code = item.strip().lower() if isinstance(item, str) else None
        if code in LEARNER_LANGUAGES:
            codes.append(code)
        else:
            unsupported.append(repr(item)[:20])
    if unsupported:
        raise LanguagesInvalid(
            f"Parley does not support {', '.join(unsupported[:5])}; "
            f"the languages it supports are {', '.join(LEARNER_LANGUAGES)}."
        )
    languages = tuple(dict.fromkeys(codes))
    if len(languages) > MAX_LEARNER_LANGUAGES:
        raise LanguagesInvalid(f"Choose at most {MAX_LEARNER_LANGUAGES} languages.")
    return languages


def accept_language_codes(
    header: str, *, supported: Sequence[str] = LEARNER_LANGUAGES
) -> tuple[str, ...]:
    """The supported languages an `Accept-Language` header names, the most preferred first.

    "es-MX,es;q=0.9,en;q=0.8,*;q=0.5" → ("es", "en"): a regional tag counts as its language
    (its best q), `q=0` means "not this one", ties keep the header's order, and `*`, unknown
    languages and malformed parts are left out.
    """
    best: dict[str, float] = {}
    for part in header.split(","):
        tag, *parameters = part.split(";")
        language = tag.strip().replace("_", "-").split("-")[0].lower()
        if language not in supported:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = math.nan
        if 0.0 < quality <= 1.0:  # NaN and out-of-range values fail this too
            best[language] = max(best.get(language, 0.0), quality)
    return tuple(sorted(best, key=lambda code: -best[code]))
