"""Teacher forcing helpers of the evidence pass: what a forced text's alignment tells.

`Whisper.align` gives, per candidate text, the probability of each of its tokens under the
audio and a cross-attention alignment; these turn that into scores (word tokens only), the
span a text covers, and word timings. Pure numpy on CTranslate2's results (no model calls).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.vad import SpeechTimestampsMap

ENCODER_TOKENS_PER_SECOND = 50  # encoder positions (stride 2)


def answer_candidates(
    answers: Sequence[str], fillers: Sequence[str], *, lower_first: bool = False
) -> list[tuple[str, str | None, str]]:
    """(answer, filler or None, text to score) for each answer alone and after each filler.

    Case is the recogniser's choice, not the learner's: the text is cased like the free
    transcript's first letter ("una tortilla…" scored against "Una tortilla" cost ~9 nats on
    its first token). Acronyms and other all-capital starts are left alone.
    """
    candidates: list[tuple[str, str | None, str]] = []
    for answer in dict.fromkeys(a.strip() for a in answers if a.strip()):
        lowered = _lower_first(answer)
        candidates.append((answer, None, lowered if lower_first else answer))
        for filler in fillers:
            text = f"{filler}, {lowered}"
            candidates.append((answer, filler, _lower_first(text) if lower_first else text))
    return candidates


def wordlike_tokens(tokenizer: Tokenizer, tokens: Sequence[int]) -> list[bool]:
    """Which tokens carry a letter or digit (punctuation tokens are fed, never counted)."""
    return [any(char.isalnum() for char in tokenizer.decode([token])) for token in tokens]


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if text[:2] != text[:2].upper() else text


def token_scores(alignment: Any, wordlike: Sequence[bool]) -> dict[str, Any]:
    """Log-probabilities (natural) of one teacher-forced text's word tokens.

    Punctuation and case are the recogniser's choice, not the learner's: "station? Please"
    against "station, please" cost 2.4 nats per token on average when counted. Punctuation
    tokens are left out of the mean (they are still in the forced sequence).
    """
    probs = np.clip(np.asarray(alignment.text_token_probs, dtype=np.float64), 1e-6, 1.0)
    probs = probs[: len(wordlike)]
    counted = probs[np.asarray(wordlike[: probs.size], dtype=bool)] if probs.size else probs
    if counted.size == 0:
        counted = probs if probs.size else np.ones(1)
    logs = np.log(counted)
    return {
        "tokens": len(wordlike),
        "mean_logprob": round(float(logs.mean()), 4),
        "total_logprob": round(float(logs.sum()), 4),
        "min_prob": round(float(counted.min()), 4),
    }


def text_span(tokenizer: Tokenizer, tokens: list[int], alignment: Any) -> dict[str, float]:
    """Where a teacher-forced text's first word starts and its last word ends (s of speech).

    Speech time (VAD gaps removed), from the cross-attention DTW of the same alignment; the
    end-of-text token takes the rest of the window, so an answer that explains only the start
    of the utterance ("Voilà" for "Voilà, bonne soirée") ends well before `speech_end_s`.
    """
    words = aligned_words(tokenizer, tokens, alignment, None)
    if not words:
        return {}
    span = {"start_s": round(words[0]["start"], 3), "end_s": round(words[-1]["end"], 3)}
    # Where the last letter-bearing token ends (a final "." or "?" is the recogniser's, and
    # DTW lets it take the trailing frames): comparable between the transcript and an answer.
    wordlike = wordlike_tokens(tokenizer, tokens)
    last = max((i for i, flag in enumerate(wordlike) if flag), default=None)
    text_indices = np.array([pair[0] for pair in alignment.alignments])
    time_indices = np.array([pair[1] for pair in alignment.alignments])
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / ENCODER_TOKENS_PER_SECOND
    if last is not None and last + 1 < len(jump_times):
        span["word_end_s"] = round(float(jump_times[last + 1]), 3)
    return span


def aligned_words(
    tokenizer: Tokenizer,
    tokens: list[int],
    alignment: Any,
    timestamps: SpeechTimestampsMap | None,
) -> list[dict[str, Any]]:
    """Word timings (s, original audio) and probabilities (mean token probability, 0..1).

    faster-whisper's `find_alignment`, on our alignment result: DTW jumps per word. Without
    `timestamps`, the times are in speech time (the VAD-trimmed audio the encoder saw).
    """
    words, word_tokens = tokenizer.split_to_word_tokens([*tokens, tokenizer.eot])
    if len(word_tokens) <= 1 or not alignment.alignments:
        return []
    probs = np.asarray(alignment.text_token_probs, dtype=np.float64)
    text_indices = np.array([pair[0] for pair in alignment.alignments])
    time_indices = np.array([pair[1] for pair in alignment.alignments])
    boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / ENCODER_TOKENS_PER_SECOND
    out = []
    for index, word in enumerate(words[:-1]):
        i, j = int(boundaries[index]), int(boundaries[index + 1])
        if i >= len(jump_times) or j >= len(jump_times) or not word.strip():
            continue
        start, end = float(jump_times[i]), float(jump_times[j])
        if timestamps is not None:
            chunk = timestamps.get_chunk_index((start + end) / 2)
            start = timestamps.get_original_time(start, chunk)
            end = timestamps.get_original_time(end, chunk)
        out.append(
            {
                "word": word,
                "start": start,
                "end": end,
                "probability": round(float(probs[i:j].mean()), 4),
            }
        )
    return out


def repeat_batch(encoded: Any, n: int) -> Any:
    """The encoder output repeated `n` times along the batch (one per candidate text)."""
    if n == 1:
        return encoded
    array = np.asarray(encoded)  # on the host: encode() ran with to_cpu on CUDA
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(array, n, axis=0)))


def word_logprobs(
    tokenizer: Tokenizer, tokens: list[int], alignment: Any, wordlike: Sequence[bool]
) -> list[list[Any]]:
    """[word, log-probability] per word of a teacher-forced text (natural, summed over its
    letter-bearing tokens): the miscue detector compares the words where two texts differ."""
    words, word_tokens = tokenizer.split_to_word_tokens(list(tokens))
    probs = np.clip(np.asarray(alignment.text_token_probs, dtype=np.float64), 1e-6, 1.0)
    out: list[list[Any]] = []
    start = 0
    for word, group in zip(words, word_tokens, strict=True):
        end = start + len(group)
        counted = [
            math.log(float(probs[i])) for i in range(start, min(end, probs.size)) if wordlike[i]
        ]
        if counted and word.strip():
            out.append([word.strip(), round(sum(counted), 4)])
        start = end
    return out
