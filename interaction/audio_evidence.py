"""The evidence of a spoken answer, as the pure judge reads it.

`AudioEvidence.from_payload` parses the evidence pass's payload (the ASR server's final or
evaluate message, `interaction.asr.server.evidence`) leniently into frozen dataclasses: no
Django, no numpy, so `interaction.audio_judging` stays a table-tested pure function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AnswerScore:
    """One accepted answer, teacher-forced against the audio.

    filler: the leading hesitation scored before it ("euh"), or None for the answer alone.
    mean_logprob: natural log-probability per token (≤ 0); tokens: how many.
    end_s: where its last word ends (s of speech, cross-attention DTW), None if unknown;
    word_end_s: where its last letter-bearing token ends (final punctuation left out).
    """

    answer: str
    mean_logprob: float
    tokens: int = 0
    filler: str | None = None
    end_s: float | None = None
    word_end_s: float | None = None
    word_logprobs: tuple[tuple[str, float], ...] = ()
    """(word, natural log-probability summed over its letter-bearing tokens), in order; a
    filler's own word first when `filler` is set."""


def _word_logprobs(raw: Any) -> tuple[tuple[str, float], ...]:
    """[[word, logprob], …] from the payload, leniently (anything malformed is dropped)."""
    out = []
    for item in raw or ():
        if isinstance(item, list | tuple) and len(item) == 2:
            try:
                out.append((str(item[0]), float(item[1])))
            except (TypeError, ValueError):
                continue
    return tuple(out)


@dataclass(frozen=True)
class AudioEvidence:
    """What the audio says about one answer (see interaction.asr.server.evidence for the payload).

    language_probabilities: restricted to the target and the learner's other languages, 0..1,
    summing to 1. transcript_logprob: the free transcript's own teacher-forced mean
    log-probability per token, the yardstick the answers are measured against.
    decode_logprob / other_logprobs: the decoder's own mean log-probability per token of the
    free transcript forced to the target, and of one forced to each other language: when the
    other language's decode explains the audio much better, the learner spoke it (and the
    target transcript may be the decoder's translation).
    """

    transcript: str
    no_speech: bool = False
    speech_s: float = 0.0
    language_probabilities: Mapping[str, float] = field(default_factory=dict)
    transcript_logprob: float | None = None
    answers: tuple[AnswerScore, ...] = ()
    looped: bool = False
    decode_logprob: float | None = None
    other_logprobs: Mapping[str, float] = field(default_factory=dict)
    speech_end_s: float | None = None
    """Where the speech the encoder saw ends (s, VAD-trimmed): with `AnswerScore.end_s`, how
    much of the utterance an answer leaves unexplained."""
    transcript_word_end_s: float | None = None
    """Where the free transcript's last letter-bearing token ends (s of speech): an answer
    ending well before it leaves words the recogniser heard unexplained."""
    transcript_word_logprobs: tuple[tuple[str, float], ...] = ()
    """The free transcript's words teacher-forced, like `AnswerScore.word_logprobs`."""
    no_speech_prob: float | None = None
    """Whisper's no-speech probability of the target-language decode (0..1)."""

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AudioEvidence:
        """Parse the evidence payload leniently (missing fields: no evidence for them)."""
        score = payload.get("transcript_score") or {}
        answers = tuple(
            AnswerScore(
                answer=str(item["answer"]),
                mean_logprob=float(item["mean_logprob"]),
                tokens=int(item.get("tokens") or 0),
                filler=item.get("filler"),
                end_s=float(item["end_s"]) if item.get("end_s") is not None else None,
                word_end_s=float(item["word_end_s"])
                if item.get("word_end_s") is not None
                else None,
                word_logprobs=_word_logprobs(item.get("word_logprobs")),
            )
            for item in payload.get("answers") or ()
            if item.get("mean_logprob") is not None
        )
        transcript_logprob = score.get("mean_logprob")
        decode_logprob = payload.get("decode_logprob")
        others = payload.get("other_transcripts") or {}
        speech_end = payload.get("speech_end_s")
        word_end = score.get("word_end_s")
        no_speech_prob = payload.get("no_speech_prob")
        return cls(
            transcript_word_logprobs=_word_logprobs(score.get("word_logprobs")),
            no_speech_prob=float(no_speech_prob) if no_speech_prob is not None else None,
            speech_end_s=float(speech_end) if speech_end is not None else None,
            transcript_word_end_s=float(word_end) if word_end is not None else None,
            transcript=str(payload.get("transcript") or ""),
            no_speech=bool(payload.get("no_speech", False)),
            speech_s=float(payload.get("speech_s") or 0.0),
            language_probabilities={
                str(k): float(v) for k, v in (payload.get("language_probabilities") or {}).items()
            },
            transcript_logprob=float(transcript_logprob)
            if transcript_logprob is not None
            else None,
            answers=answers,
            looped=bool(payload.get("looped", False)),
            decode_logprob=float(decode_logprob) if decode_logprob is not None else None,
            other_logprobs={
                str(lang): float(item["decode_logprob"])
                for lang, item in others.items()
                if item.get("decode_logprob") is not None
            },
        )
