"""The learner's languages: the one validation, and the browser's guess at sign-up."""

from __future__ import annotations

import pytest

from interaction.asr.server.options import MAX_OTHER_LANGUAGES
from interaction.languages import (
    LEARNER_LANGUAGES,
    MAX_LEARNER_LANGUAGES,
    LanguagesInvalid,
    accept_language_codes,
    language_choices,
    other_languages_clean,
)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ([], ()),
        (["es"], ("es",)),
        (["es", "en", "es"], ("es", "en")),  # repeats dropped, the order kept
        ([" DE ", "de"], ("de",)),
        (("it", "pt", "nl", "fr"), ("it", "pt", "nl", "fr")),
        (["fr", "es", "de", "en"] * 3, ("fr", "es", "de", "en")),
    ],
)
def test_supported_codes_are_stored_once_each(given: list[str], stored: tuple[str, ...]) -> None:
    assert other_languages_clean(given) == stored


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["xx"], "'xx'"),
        (["es", "ja"], "'ja'"),
        (["es-MX"], "'es-MX'"),  # the API takes codes; only the browser's header is mapped
        (["english"], "'english'"),
        ([""], "''"),
        ([5], "5"),
        ([None], "None"),
        ([["es"]], "['es']"),
    ],
)
def test_an_unsupported_code_is_refused_by_name(given: list[object], named: str) -> None:
    with pytest.raises(LanguagesInvalid) as refused:
        other_languages_clean(given)
    assert named in str(refused.value)
    assert ", ".join(LEARNER_LANGUAGES) in str(refused.value)  # says what is supported


@pytest.mark.parametrize("given", ["es", "es,en", b"es", {"es": True}, 5, None])
def test_anything_but_a_list_is_refused(given: object) -> None:
    with pytest.raises(LanguagesInvalid, match="Expected a list"):
        other_languages_clean(given)


def test_more_languages_than_the_asr_server_suspects_are_refused() -> None:
    assert MAX_LEARNER_LANGUAGES == MAX_OTHER_LANGUAGES  # none would go unsuspected
    with pytest.raises(LanguagesInvalid, match=f"at most {MAX_LEARNER_LANGUAGES} languages"):
        other_languages_clean(LEARNER_LANGUAGES[: MAX_LEARNER_LANGUAGES + 1])


def test_a_long_unsupported_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(LanguagesInvalid) as refused:
        other_languages_clean(["x" * 10_000])
    assert len(str(refused.value)) < 200


@pytest.mark.parametrize(
    ("header", "codes"),
    [
        ("", ()),
        ("es-MX,es;q=0.9,en;q=0.8,*;q=0.5", ("es", "en")),
        ("en-US,en;q=0.9", ("en",)),
        ("de-CH;q=0.4, fr-CH;q=0.8, it", ("it", "fr", "de")),  # by q, best first
        ("pt-BR,pt;q=0.9,ja;q=0.8,nl;q=0.7", ("pt", "nl")),  # ja: not supported
        ("fr;q=0, en", ("en",)),  # q=0: "not French"
        ("ES_es, NL", ("es", "nl")),  # case and an underscore
        ("de;q=0.5, en;q=0.5", ("de", "en")),  # a tie keeps the header's order
        ("en;q=0.3, en-GB;q=0.9", ("en",)),  # a language once, at its best q
        ("fr;q=abc, es;q=2, it;q=nan, de;q=0.7", ("de",)),  # malformed q: left out
        ("*", ()),
        (";;;,,,=", ()),
        ("zh-Hant-TW, ja", ()),
    ],
)
def test_accept_language_names_the_supported_languages_best_first(
    header: str, codes: tuple[str, ...]
) -> None:
    assert accept_language_codes(header) == codes


def test_the_choices_are_every_supported_language_by_name() -> None:
    choices = language_choices()
    assert {code for code, _ in choices} == set(LEARNER_LANGUAGES)
    names = [name for _, name in choices]
    assert names == sorted(names)
    assert ("es", "Spanish") in choices
