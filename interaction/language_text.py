"""Language of typed answers, from lingua (a maintained detector), over the languages we teach."""

from __future__ import annotations

from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from scenarios.specs import SUPPORTED_LANGUAGES


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    languages = [
        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
        for code in SUPPORTED_LANGUAGES
    ]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def text_language_probabilities(text: str) -> dict[str, float]:
    """Language code -> 0..1 for `text`; all zero when the text gives no evidence."""
    values = _detector().compute_language_confidence_values(text)
    return {value.language.iso_code_639_1.name.lower(): round(value.value, 4) for value in values}
