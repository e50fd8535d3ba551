"""The streamed turn as tables: inputs in (0.1 s blocks V/S, evidence, stop…), commands out."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from interaction.asr.types import AsrBusy, AsrUnavailable, Hypothesis
from interaction.audio_evidence import AudioEvidence
from interaction.audio_judging import AudioJudgingPolicy, judge_audio
from interaction.ws import turn as t
from interaction.ws.endpointing import EndpointingParams
from interaction.ws.errors import StreamError
from interaction.ws.pauses import Answers
from interaction.ws.turn import Phase
from tests.asr.whisperlive_peer import evidence_payload

BLOCK = 1_600  # 0.1 s at 16 kHz
V, S = np.full(BLOCK, 0.3, np.float32), np.zeros(BLOCK, np.float32)
ANSWER = "Je travaille toute la semaine et le samedi matin"
POLICY = AudioJudgingPolicy(target_language="fr", other_languages=("en",))
JUDGED_AS = {
    # (the answer's mean log-probability, the transcript's, the language probabilities)
    "correct": [(-0.3, -0.2, {"fr": 0.9, "en": 0.1})],
    "incorrect_answer": [(-6.0, -0.2, {"fr": 0.9, "en": 0.1})],
    "unclear": [(-1.5, -0.8, {"fr": 0.6, "en": 0.4}), (-3.0, -1.0, {"fr": 0.9, "en": 0.1})],
}


def said(text: str) -> Hypothesis:
    return Hypothesis(text=text, confidence=0.9)


def judged(text: str, outcome: str, answer: str = ANSWER) -> Hypothesis:
    """`text` evaluated at a pause, with evidence the audio judge finds `outcome` on."""
    for answer_logprob, transcript_logprob, languages in JUDGED_AS[outcome]:
        payload = evidence_payload(
            text,
            answers={answer: answer_logprob},
            transcript_logprob=transcript_logprob,
            language_probabilities=languages,
        )
        verdict = judge_audio(AudioEvidence.from_payload(payload), (answer,), POLICY)
        if verdict.outcome == outcome:
            return Hypothesis(text=text, confidence=0.9, evidence=payload)
    raise AssertionError(f"no evidence in JUDGED_AS makes {text!r} {outcome}")


def expect(*answers: str) -> t.Expect:
    return t.Expect(Answers(answers, "fr", policy=POLICY))


def machine(**params: Any) -> t.Turn:
    ids = (f"u{n}" for n in itertools.count(1))
    turn = t.Turn(EndpointingParams(**params), new_id=lambda: next(ids))
    turn.feed(expect(ANSWER))
    return turn


def code(command: t.Command) -> str:
    """A short name per command: what a table reads."""
    match command:
        case t.SendAudio():
            return "a"
        case t.Evaluate(pause=pause):
            return f"evaluate{pause}"
        case t.Record(auto=auto):
            return f"record{'(auto)' if auto else ''}"
        case t.Finish():
            return "finish"
        case t.SendReset(reason=reason):
            return f"reset:{reason}"
        case t.SendError(code=error):
            return f"error:{error}"
        case t.SendPartial():
            return "partial"
        case _:
            return f"{type(command).__name__.lower()}:{command.utterance}"


def blocks(turn: t.Turn, letters: str) -> list[str]:
    """Feed blocks; the commands that are not plain audio, in order."""
    out = []
    for letter in letters:
        out += [code(c) for c in turn.feed(t.Frame(V if letter == "V" else S)) if code(c) != "a"]
    return out


def test_voice_opens_an_utterance_that_is_recognised_and_sent() -> None:
    turn = machine()
    assert blocks(turn, "S") == []
    commands = turn.feed(t.Frame(V))
    assert [code(c) for c in commands] == ["open:u1", "recognise:u1", "a"]
    assert turn.phase == Phase.LISTENING


def test_a_correct_verdict_at_the_pause_is_committed_and_its_tail_held() -> None:
    turn = machine()
    assert blocks(turn, "VVVVSSS") == ["open:u1", "recognise:u1", "evaluate1"]
    assert turn.phase == Phase.SPECULATING
    commands = turn.feed(t.Evidence("u1", 1, judged(ANSWER, "correct")))
    assert [code(c) for c in commands] == ["abandon:u1", "record(auto)"]
    assert turn.phase == Phase.HOLDING
    assert blocks(turn, "SSVVV") == []  # "…, s'il vous plaît": the answer's tail
    assert turn.feed(t.Judged("u1", at=10.0, recorded=True)) == []
    assert blocks(turn, "SSSSSS") == []
    assert turn.phase == Phase.IDLE
    assert blocks(turn, "V") == ["open:u2", "recognise:u2"]  # the next prompt's answer


@pytest.mark.parametrize(
    ("words", "outcome", "pause_blocks", "expected"),
    [
        # words that may end an answer: a penalty comes from the final pass after 1.0 s
        ("Je mange une pomme", "incorrect_answer", 10, ["finish"]),
        # a prefix of the accepted answer: 1.0 s is not the end…
        ("Je travaille toute la semaine", "incorrect_answer", 10, []),
        ("Je travaille toute la semaine", "unclear", 20, []),
        # …2.5 s is
        ("Je travaille toute la semaine", "incorrect_answer", 25, ["finish"]),
        # a filler or a word no sentence ends on waits longer too
        ("Je mange euh", "unclear", 20, []),
        ("Je mange une pomme et", "incorrect_answer", 20, []),
    ],
)
def test_the_end_of_an_answer_waits_on_its_words(
    words: str, outcome: str, pause_blocks: int, expected: list[str]
) -> None:
    turn = machine()
    blocks(turn, "VVVVSSS")  # 0.3 s of silence: evidence asked for
    assert turn.feed(t.Evidence("u1", 1, judged(words, outcome))) == []
    assert turn.phase == Phase.PAUSED
    assert blocks(turn, "S" * (pause_blocks - 3)) == expected


def test_a_pause_inside_the_answer_is_bridged_and_the_whole_answer_judged() -> None:
    turn = machine()
    blocks(turn, "VVVVSSS")
    turn.feed(t.Evidence("u1", 1, judged("Je travaille toute la semaine", "unclear")))
    assert blocks(turn, "S" * 13) == []  # 1.6 s of silence: still the same answer
    assert blocks(turn, "VVVV") == []
    assert turn.phase == Phase.LISTENING
    assert blocks(turn, "SSS") == ["evaluate2"]
    commands = turn.feed(t.Evidence("u1", 2, judged(ANSWER, "correct")))
    assert [code(c) for c in commands] == ["abandon:u1", "record(auto)"]


def test_a_correct_verdict_on_the_start_of_an_answer_waits_for_its_end() -> None:
    """The judge may accept "Je travaille toute la semaine": the words say more is coming,
    so the answer is not committed at the pause; the learner goes on, or the long silence
    ends it and the final pass judges it."""
    turn = machine()
    blocks(turn, "VVVVSSS")
    start = judged("Je travaille toute la semaine", "correct")
    assert turn.feed(t.Evidence("u1", 1, start)) == []
    assert turn.phase == Phase.PAUSED
    assert blocks(turn, "S" * 21) == []  # 2.4 s of silence: still the same answer
    assert blocks(turn, "S") == ["finish"]


def test_evidence_still_on_its_way_is_waited_for_then_decides() -> None:
    turn = machine()
    blocks(turn, "VVVVSSS")
    assert blocks(turn, "S" * 9) == []  # 1.2 s: past the ordinary end, the evidence is out
    commands = turn.feed(t.Evidence("u1", 1, judged("Je mange une pomme", "unclear")))
    assert [code(c) for c in commands] == ["finish"]


def test_evidence_that_never_comes_ends_at_the_longer_silence() -> None:
    turn = machine()
    blocks(turn, "VVVVSSS")
    assert blocks(turn, "S" * 21) == []
    assert blocks(turn, "S") == ["finish"]


def test_evidence_of_a_pause_the_learner_spoke_through_is_dropped() -> None:
    turn = machine()
    blocks(turn, "VVVVSSSV")  # evidence asked for, then voice again
    assert turn.feed(t.Evidence("u1", 1, judged(ANSWER, "correct"))) == []
    assert turn.phase == Phase.LISTENING


def test_a_recogniser_that_cannot_evaluate_leaves_the_end_to_the_silence() -> None:
    turn = machine()
    blocks(turn, "VVVVSSS")
    assert turn.feed(t.Evidence("u1", 1, None)) == []
    assert blocks(turn, "SSSSSSS") == ["finish"]


def test_partials_are_sent_and_their_words_weigh_on_the_pause() -> None:
    turn = machine()
    blocks(turn, "VVVV")
    partial = t.Partial("u1", said("Je mange euh"), latency_ms=300)
    assert [code(c) for c in turn.feed(partial)] == ["partial"]
    assert blocks(turn, "SSS") == ["evaluate1"]
    turn.feed(t.Evidence("u1", 1, None))
    assert blocks(turn, "S" * 10) == []  # "euh": the learner is looking for a word


def test_the_words_are_weighed_again_when_the_turn_due_changes() -> None:
    """An utterance begun while the last answer was judged is heard against the next turn."""
    turn = machine()
    blocks(turn, "VVVV")
    turn.feed(t.Partial("u1", said("Je travaille toute la semaine"), latency_ms=300))
    assert blocks(turn, "SSS") == ["evaluate1"]
    turn.feed(t.Evidence("u1", 1, None))
    assert blocks(turn, "S" * 10) == []  # a prefix of the answer due: it waits
    turn.feed(expect("Je travaille toute la semaine"))  # the turn due now
    assert blocks(turn, "S") == ["finish"]  # a whole answer: 1.0 s ends it


@pytest.mark.parametrize(
    ("before", "at", "expected"),
    [
        ("VVVV", 0.0, ["finish"]),  # judge what was said
        ("", 0.0, ["reset:no_speech"]),  # nothing said
        ("SSS", 0.0, ["reset:no_speech"]),
    ],
)
def test_the_stop_gesture(before: str, at: float, expected: list[str]) -> None:
    turn = machine()
    blocks(turn, before)
    assert [code(c) for c in turn.feed(t.Stop(at=at))] == expected


def test_stops_with_nothing_said_in_between_are_answered_once() -> None:
    turn = machine()
    assert [code(c) for c in turn.feed(t.Stop(at=0.0))] == ["reset:no_speech"]
    assert turn.feed(t.Stop(at=5.0)) == []
    blocks(turn, "VVVV")
    turn.feed(t.ResetAsked())
    assert [code(c) for c in turn.feed(t.Stop(at=9.0))] == ["reset:no_speech"]


def test_a_stop_while_judging_or_just_after_the_verdict_changes_nothing() -> None:
    turn = machine()
    blocks(turn, "VVVVSSS")
    turn.feed(t.Evidence("u1", 1, judged(ANSWER, "correct")))
    assert turn.feed(t.Stop(at=10.0)) == []  # being judged
    turn.feed(t.Judged("u1", at=10.1, recorded=True))
    assert turn.feed(t.Stop(at=10.5)) == []  # crossed the verdict on the wire
    assert [code(c) for c in turn.feed(t.Stop(at=11.5))] == ["reset:no_speech"]


def test_reset_abandons_the_utterance() -> None:
    turn = machine()
    blocks(turn, "VVVV")
    assert [code(c) for c in turn.feed(t.ResetAsked())] == ["abandon:u1", "reset:asked"]
    assert turn.phase == Phase.IDLE
    assert blocks(turn, "V") == ["open:u2", "recognise:u2"]


def test_an_utterance_past_its_maximum_is_discarded() -> None:
    turn = machine(max_utterance_s=0.5)
    assert blocks(turn, "VVVVVV") == [
        "open:u1",
        "recognise:u1",
        "abandon:u1",
        "error:utterance_too_long",
        "reset:too_long",
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (AsrUnavailable("all down"), ["error:asr_unavailable", "reset:asr_unavailable"]),
        (AsrBusy("full", retry_after_s=2), ["error:asr_busy", "reset:asr_unavailable"]),
    ],
)
def test_an_asr_failure_is_said_once_and_the_rest_of_the_voice_dropped(
    error: Exception, expected: list[str]
) -> None:
    turn = machine()
    blocks(turn, "VVV")
    commands = turn.feed(t.AsrFailed("u1", error))  # type: ignore[arg-type]
    assert [code(c) for c in commands] == expected
    fallbacks = [c.fallback for c in commands if isinstance(c, t.SendError)]
    assert fallbacks == [not isinstance(error, AsrBusy)]
    assert blocks(turn, "VV" + "S" * 10) == []
    assert blocks(turn, "V") == ["open:u2", "recognise:u2"]


def test_an_answer_begun_during_judging_is_recognised_against_the_next_turn() -> None:
    turn = machine()
    blocks(turn, "VVVV")
    turn.feed(t.Stop(at=1.0))
    assert blocks(turn, "VV") == ["open:u2"]  # its recogniser waits for the verdict
    turn.feed(expect("Sur place"))
    commands = turn.feed(t.Judged("u1", at=2.0, recorded=True))
    assert [code(c) for c in commands] == ["recognise:u2"]


def test_an_answer_not_recorded_is_said_and_reset() -> None:
    turn = machine()
    blocks(turn, "VVVV")
    turn.feed(t.Stop(at=1.0))
    failure = StreamError("database_unavailable", "try again", retryable=True)
    commands = turn.feed(t.Judged("u1", at=2.0, recorded=False, failure=failure))
    assert [code(c) for c in commands] == [
        "error:database_unavailable",
        "reset:database_unavailable",
    ]
    assert turn.phase == Phase.IDLE


def test_partials_of_an_abandoned_utterance_are_not_sent() -> None:
    turn = machine()
    blocks(turn, "VVVV")
    turn.feed(t.ResetAsked())
    assert turn.feed(t.Partial("u1", said("Je"), latency_ms=100)) == []


def test_close_abandons_what_is_open_and_ignores_the_rest() -> None:
    turn = machine()
    blocks(turn, "VV")
    assert [code(c) for c in turn.feed(t.Close())] == ["abandon:u1"]
    assert blocks(turn, "VVVV") == []
    assert turn.phase == Phase.CLOSED


def test_unfinished_words_never_shorten_a_longer_ordinary_end() -> None:
    turn = machine(silence_end_s=3.0)
    blocks(turn, "VVVVSSS")
    turn.feed(t.Evidence("u1", 1, judged("Je travaille toute la semaine", "unclear")))
    assert blocks(turn, "S" * 26) == []  # 2.9 s
    assert blocks(turn, "S") == ["finish"]


def test_the_final_pass_is_recorded_then_the_verdict_ends_the_judging() -> None:
    turn = machine()
    blocks(turn, "VVVV")
    assert [code(c) for c in turn.feed(t.Stop(at=1.0))] == ["finish"]
    assert turn.feed(t.Final("u9", said(ANSWER))) == []  # not the answer being judged
    commands = turn.feed(t.Final("u1", said(ANSWER)))
    assert [code(c) for c in commands] == ["record"]
    assert isinstance(commands[0], t.Record)
    assert (commands[0].hypothesis.text, commands[0].samples) == (ANSWER, 4 * BLOCK)
    assert turn.phase == Phase.JUDGING
    assert turn.feed(t.Judged("u1", at=2.0, recorded=True)) == []
    assert turn.phase == Phase.IDLE


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        # the recogniser never came up: already said (AsrFailed); the judging just ends
        (t.Final("u1", None), []),
        (
            t.Final("u1", None, AsrUnavailable("the final pass failed")),
            ["error:asr_unavailable", "reset:asr_unavailable"],
        ),
    ],
)
def test_a_final_pass_without_a_hypothesis_records_nothing(
    final: t.Final, expected: list[str]
) -> None:
    turn = machine()
    blocks(turn, "VVVV")
    turn.feed(t.Stop(at=1.0))
    assert [code(c) for c in turn.feed(final)] == expected
    assert turn.phase == Phase.IDLE
    assert blocks(turn, "V") == ["open:u2", "recognise:u2"]


def test_partials_name_the_answer_they_match() -> None:
    turn = machine()
    blocks(turn, "VVVV")
    (sent,) = turn.feed(t.Partial("u1", said(ANSWER), latency_ms=300))
    assert isinstance(sent, t.SendPartial)
    assert (sent.intent, sent.similarity) == (ANSWER, 100.0)
    (far,) = turn.feed(t.Partial("u1", said("Je mange"), latency_ms=400))
    assert isinstance(far, t.SendPartial)
    assert far.intent is None
