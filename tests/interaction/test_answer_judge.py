"""`services.answer_judge`: the judging step of `attempt_record`, on its own.

No test here may touch the database (none is marked `django_db`, so pytest-django refuses
any query): judging must be callable without storing anything.
"""

from __future__ import annotations

from interaction.services import Answer, answer_from_text, answer_judge
from interaction.vocabulary import Outcome, Source
from scenarios.rules import Penalty, Rules
from tests.asr.whisperlive_peer import evidence_payload

RULES = Rules(
    reward=10,
    lives=3,
    answer_similarity=90,
    wrong_language_probability=0.6,
    penalties={
        "wrong_language": Penalty(lives=1, points=0),
        "incorrect_answer": Penalty(lives=1, points=0),
    },
)
ACCEPTED = ["Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît"]


def judged(answer: Answer, other_languages: tuple[str, ...] = ()):
    return answer_judge(
        answer=answer,
        accepted=ACCEPTED,
        target_language="fr",
        rules=RULES,
        other_languages=other_languages,
    )


def spoken(text: str, **evidence) -> Answer:
    payload = evidence_payload(text, **evidence)
    return Answer(
        source=Source.AUDIO,
        transcript=text,
        language_probabilities=payload["language_probabilities"],
        evidence=payload,
    )


def test_a_typed_answer_is_judged_on_its_text_and_stores_no_evidence():
    judgement = judged(answer_from_text(text="Un café, s'il vous plaît"))

    assert judgement.verdict.outcome == Outcome.CORRECT
    assert judgement.verdict.best_answer == "Un café, s'il vous plaît"
    assert judgement.evidence == {}
    assert judgement.judge_ms >= 0


def test_a_typed_answer_in_another_language_we_teach_is_wrong_language():
    judgement = judged(answer_from_text(text="I would like a coffee, please"))

    assert judgement.verdict.outcome == Outcome.WRONG_LANGUAGE


def test_a_spoken_answer_is_judged_on_its_evidence_and_keeps_the_verdict_with_it():
    answer = spoken(
        "Je voudrais un café, s'il vous plaît.",
        answers={ACCEPTED[0]: -0.25, ACCEPTED[1]: -1.5},
    )

    judgement = judged(answer, other_languages=("en",))

    assert judgement.verdict.outcome == Outcome.CORRECT
    assert judgement.evidence["transcript"] == answer.evidence["transcript"]
    assert judgement.evidence["verdict"]["outcome"] == "correct"


def test_a_spoken_answer_nothing_explains_is_unclear():
    answer = spoken(
        "Supply, sil Commission",
        transcript_logprob=-2.0,
        answers={ACCEPTED[0]: -4.5, ACCEPTED[1]: -4.0},
    )

    judgement = judged(answer, other_languages=("en",))

    assert judgement.verdict.outcome == Outcome.UNCLEAR
    assert judgement.evidence["verdict"]["outcome"] == "unclear"
