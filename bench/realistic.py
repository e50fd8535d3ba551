"""The realistic bench: MBROLA, Piper and espeak-ng voices under noise, reverb, low level and
telephone band, with fillers, pauses and one-word misses; any judge run on it.

    python -m bench.realistic build [--out DIR]     # clips + manifest.json (var/bench/realistic)
    python -m bench.realistic run --judge today     # judges interleaved clip by clip
    python -m bench.realistic report                # bench/results/realistic_report.md

**Clips** (bench/voices.py makes the voices and conditions). For every turn of
`scenarios/demo/*.yaml`, from the phrases of bench/clipset.py:

- `correct`: accepted answers, plain (two answers, three renderings each); with a leading
  filler ("Euh", "Eh", "Äh", "Um"); with a ~0.7 s pause between two words;
- `incorrect_answer`: the one-word near miss (two renderings) and the far miss;
- `wrong_language`: the answers translated into the learner's other language (English for
  fr/es/de, mostly the neural Piper voice; French for the English scenario);
- `no_speech`: silence, room noise, crowd babble, rumble, hiss (two per turn).

Voices rotate per spoken language (MBROLA diphone voices first, then Piper for English,
espeak-ng variants for contrast; French- and German-accented English from MBROLA's `-en`
voices for the English scenario); conditions rotate over the speech clips (clean, pink
noise 20–24 dB SNR, babble 21 dB SNR, reverb, quiet -20 dB, telephone band). Everything is
deterministic: the same clips, byte for byte, on every build. manifest.json beside the
clips lists one dict per clip (wav path relative to the set folder, labels, answers).

**Judges** are looked up by name in `JUDGES` (or given as `module:attribute`): a judge is a
context manager factory that yields `callable(clip, turn) -> JudgeResult(outcome,
transcript, latency_s, extra)`; `today` is the product's current path (WhisperLive server,
the prompted final pass frozen in bench.today_path, `interaction.judging.judge` with the
app's policy); `fair` is the product's path now (this tree's server and its evidence pass,
`WhisperLiveProvider.transcribe` with the accepted answers as candidates, the app's own
`services.spoken_verdict`). Several judges in one run are interleaved clip by clip
(order rotated) so their timings are side by side. Results go to
bench/results/realistic_raw.json, keyed by judge, clip and the clip's content hash (a rerun
only judges what is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib
import json
import os
import shutil
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common import CACHE, RESULTS, fmt, md_table, pct
from bench.voices import Voice

DEFAULT_OUT = CACHE / "realistic"
SOURCE_CACHE = CACHE / "realistic-src"  # clean renderings, shared by every --out
RAW = RESULTS / "realistic_raw.json"
REPORT = RESULTS / "realistic_report.md"
OUTCOMES = ("correct", "wrong_language", "incorrect_answer", "no_speech", "unclear")
FAMILIES = ("mbrola", "piper", "espeak")

FILLERS = {"fr": "Euh", "es": "Eh", "de": "Äh", "en": "Um"}
PAUSE_S = (0.6, 0.7, 0.8)


def _v(family: str, name: str, language: str, speed: int) -> Voice:
    return Voice(family, name, language, speed)


# Voices per spoken language, in rotation order. "target" speaks the scenario's language;
# "wrong" speaks the learner's other language inside a turn of another language.
VOICE_POOLS: dict[str, dict[str, list[Voice]]] = {
    "fr": {
        "target": [
            _v("mbrola", "mb-fr1", "fr", 150),
            _v("mbrola", "mb-fr4", "fr", 140),
            _v("espeak", "fr+f3", "fr", 150),
            _v("mbrola", "mb-fr1", "fr", 175),
            _v("mbrola", "mb-fr4", "fr", 165),
            _v("espeak", "fr-be+m3", "fr", 170),
        ],
    },
    "es": {
        "target": [
            _v("mbrola", "mb-es1", "es", 150),
            _v("mbrola", "mb-es2", "es", 145),
            _v("espeak", "es-419+f2", "es", 150),
            _v("mbrola", "mb-es1", "es", 175),
            _v("mbrola", "mb-es2", "es", 170),
            _v("espeak", "es+m3", "es", 170),
        ],
    },
    "de": {
        "target": [
            _v("mbrola", "mb-de2", "de", 150),
            _v("mbrola", "mb-de6", "de", 145),
            _v("mbrola", "mb-de7", "de", 150),
            _v("espeak", "de+m3", "de", 160),
            _v("mbrola", "mb-de2", "de", 175),
            _v("mbrola", "mb-de6", "de", 170),
        ],
    },
    "en": {
        # the English scenario: native voices and French/German-accented English
        "target": [
            _v("piper", "en_US-joe-medium", "en", 100),
            _v("mbrola", "mb-us1", "en", 150),
            _v("mbrola", "mb-fr1-en", "en", 145),
            _v("piper", "en_US-joe-medium", "en", 115),
            _v("mbrola", "mb-us3", "en", 160),
            _v("mbrola", "mb-de2-en", "en", 150),
            _v("mbrola", "mb-en1", "en", 150),
            _v("espeak", "en-gb+m3", "en", 160),
        ],
        # English answers in a French / Spanish / German turn: mostly the neural voice
        "wrong": [
            _v("piper", "en_US-joe-medium", "en", 100),
            _v("piper", "en_US-joe-medium", "en", 115),
            _v("mbrola", "mb-us1", "en", 160),
            _v("piper", "en_US-joe-medium", "en", 90),
            _v("mbrola", "mb-en1", "en", 150),
            _v("piper", "en_US-joe-medium", "en", 105),
            _v("mbrola", "mb-us3", "en", 150),
            _v("espeak", "en-us+f3", "en", 160),
        ],
    },
}
VOICE_POOLS["fr"]["wrong"] = VOICE_POOLS["fr"]["target"]  # French in the English scenario
CONDITIONS = [
    "clean",
    "pink-22",
    "reverb",
    "clean",
    "phone",
    "babble-21",
    "quiet",
    "pink-20",
    "clean",
    "pink-24",
]
NO_SPEECH = ["silence", "room", "babble", "rumble", "hiss"]


@dataclass(frozen=True)
class RealClip:
    """One labelled clip. `wav` is relative to the set folder."""

    id: str
    wav: str
    scenario: str
    turn: int
    target: str  # the scenario's language
    expected: str  # correct / incorrect_answer / wrong_language / no_speech
    kind: str  # plain / filler / pause / near / far / silence / noise
    family: str  # mbrola / piper / espeak / none
    voice: str  # e.g. mb-fr1@150
    condition: str  # clean / pink-22 / babble-21 / reverb / quiet / phone / <noise name>
    text: str  # what is said ("" for no_speech)
    spoken_language: str | None
    answers: tuple[str, ...]  # the turn's accepted answers
    sha1: str = ""  # of the wav bytes, filled by build

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["answers"] = list(self.answers)
        return data

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> RealClip:
        return RealClip(**{**data, "answers": tuple(data["answers"])})


@dataclass
class _Planned:
    clip: RealClip
    voice: Voice | None
    parts: tuple[str, ...]  # one text, or two halves joined by a pause
    pause_s: float = 0.0


# --------------------------------------------------------------------------- the set


def plan() -> list[_Planned]:
    """Every clip, in a fixed order, with its voice and condition (no audio yet)."""
    from bench.clipset import OTHER_LANGUAGE, PHRASES, demo_turns

    planned: list[_Planned] = []
    voice_slot: Counter[tuple[str, str]] = Counter()
    condition_slot = 0
    silent_slot = 0

    def voice_for(language: str, pool: str) -> Voice:
        voices = VOICE_POOLS[language][pool]
        voice = voices[voice_slot[(language, pool)] % len(voices)]
        voice_slot[(language, pool)] += 1
        return voice

    for turn in demo_turns():
        phrases = PHRASES[(turn.scenario, turn.index)]
        correct = phrases["correct"]
        near, far = phrases["incorrect_answer"]
        other = OTHER_LANGUAGE[turn.language]
        two_words = [a for a in correct if len(a.split()) >= 2] or correct
        speech: list[tuple[str, str, str, str, tuple[str, ...]]] = []
        # (expected, kind, spoken language, text, parts)
        for _ in range(3):
            for answer in correct[:2]:
                speech.append(("correct", "plain", turn.language, answer, (answer,)))
        for answer in correct[:2]:
            filled = f"{FILLERS[turn.language]}… {answer[0].lower()}{answer[1:]}"
            speech.append(("correct", "filler", turn.language, filled, (filled,)))
        for number in range(2):
            answer = two_words[number % len(two_words)]
            words = answer.split()
            cut = max(1, len(words) // 2)
            halves = (" ".join(words[:cut]), " ".join(words[cut:]))
            speech.append(("correct", "pause", turn.language, " … ".join(halves), halves))
        speech += [("incorrect_answer", "near", turn.language, near, (near,))] * 2
        speech.append(("incorrect_answer", "far", turn.language, far, (far,)))
        translated = phrases["wrong_language"]
        for text in (translated[0], translated[1], translated[0]):
            speech.append(("wrong_language", "plain", other, text, (text,)))

        seen: Counter[str] = Counter()
        for expected, kind, spoken, text, parts in speech:
            voice = voice_for(spoken, "target" if spoken == turn.language else "wrong")
            condition = CONDITIONS[condition_slot % len(CONDITIONS)]
            condition_slot += 1
            seen[f"{expected}/{kind}"] += 1
            clip_id = f"{turn.scenario}/{turn.index}/{expected}/{kind}{seen[f'{expected}/{kind}']}"
            planned.append(
                _Planned(
                    RealClip(
                        id=clip_id,
                        wav=f"clips/{clip_id.replace('/', '_')}.wav",
                        scenario=turn.scenario,
                        turn=turn.index,
                        target=turn.language,
                        expected=expected,
                        kind=kind,
                        family=voice.family,
                        voice=voice.label,
                        condition=condition,
                        text=text,
                        spoken_language=spoken,
                        answers=turn.answers,
                    ),
                    voice,
                    parts,
                    PAUSE_S[condition_slot % len(PAUSE_S)] if kind == "pause" else 0.0,
                )
            )
        for _ in range(2):
            name = NO_SPEECH[silent_slot % len(NO_SPEECH)]
            silent_slot += 1
            clip_id = f"{turn.scenario}/{turn.index}/no_speech/{name}"
            planned.append(
                _Planned(
                    RealClip(
                        id=clip_id,
                        wav=f"clips/{clip_id.replace('/', '_')}.wav",
                        scenario=turn.scenario,
                        turn=turn.index,
                        target=turn.language,
                        expected="no_speech",
                        kind="silence" if name == "silence" else "noise",
                        family="none",
                        voice="",
                        condition=name,
                        text="",
                        spoken_language=None,
                        answers=turn.answers,
                    ),
                    None,
                    (),
                )
            )
    return planned


def _noise_clip(name: str, beds: Mapping[str, Path], target: Path, salt: int) -> None:
    import subprocess

    from bench.voices import FORMAT

    synth: dict[str, list[str]] = {
        "silence": ["trim", "0", "2.0"],
        "room": ["synth", "2.5", "pinknoise", "vol", "0.04"],
        "rumble": ["synth", "2.0", "brownnoise", "vol", "0.3"],
        "hiss": ["synth", "2.0", "whitenoise", "vol", "0.01"],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    if name == "babble":
        offset = 0.3 + 1.1 * (salt % 5)
        command = ["sox", "-D", str(beds["babble"]), str(target), "trim", f"{offset:.2f}", "2.5"]
        subprocess.run([*command, "gain", "-14"], check=True)
    else:
        subprocess.run(["sox", "-D", "-R", "-n", *FORMAT, str(target), *synth[name]], check=True)


def _render(item: _Planned) -> tuple[Voice, Path]:
    """The clean rendering of a planned clip. A voice that cannot say the text (MBROLA: a
    diphone its database lacks) hands it to the next voice of its pool; the clip records
    the voice that spoke."""
    from bench import voices

    assert item.voice is not None
    pool = VOICE_POOLS[item.voice.language]
    candidates = [item.voice] + [
        v for name in ("target", "wrong") for v in pool.get(name, []) if v != item.voice
    ]
    failures = []
    for voice in candidates:
        try:
            parts = [voices.synthesise(p, voice, SOURCE_CACHE) for p in item.parts]
        except voices.CannotSay as exc:
            failures.append(str(exc).splitlines()[0])
            continue
        if failures:
            print(f"  {item.clip.id}: {item.voice.label} cannot ({failures[0]}); {voice.label}")
        if len(parts) == 1:
            return voice, parts[0]
        digest = hashlib.sha1(f"{parts[0].name}|{parts[1].name}|{item.pause_s}".encode())
        clean = SOURCE_CACHE / f"paused-{digest.hexdigest()[:12]}.wav"
        if not clean.is_file():
            voices.join_with_pause(parts[0], parts[1], item.pause_s, clean)
        return voice, clean
    raise RuntimeError(f"no voice can say {item.clip.text!r}: {failures}")


def build(out: Path = DEFAULT_OUT, families: Sequence[str] = FAMILIES) -> list[RealClip]:
    """Synthesise (or reuse) every clip of the plan into `out`; write out/manifest.json."""
    from bench import voices

    os.environ.setdefault("SOX_OPTS", "-V1")  # sox: errors only (clipping warnings are noise)
    planned = [p for p in plan() if p.voice is None or p.voice.family in families]
    if "mbrola" in families:
        print("MBROLA voices …", flush=True)
        voices.fetch_mbrola()
    beds_dir = SOURCE_CACHE / "beds"
    babble_sources = [
        voices.synthesise(text, voice, SOURCE_CACHE)
        for text, voice in (
            (
                "Où sont les toilettes ? Je ne sais pas, c'est trop cher.",
                _v("espeak", "fr", "fr", 150),
            ),
            ("Wo ist die Toilette? Das ist zu teuer.", _v("espeak", "de+f2", "de", 160)),
            ("¿Dónde está el baño? Es demasiado caro.", _v("espeak", "es+f3", "es", 150)),
            ("What time is it? I would like a coffee.", _v("espeak", "en-us+m3", "en", 170)),
            ("No tengo hambre. Ich weiß es nicht.", _v("espeak", "es-419", "es", 140)),
            ("Une chambre avec vue sur la mer.", _v("espeak", "fr+m2", "fr", 160)),
        )
    ]
    beds = {
        "babble": voices.babble_bed(babble_sources, beds_dir / "babble.wav"),
        "pink": beds_dir / "pink.wav",
    }
    if not beds["pink"].is_file():
        voices.pink_noise(12.0, beds["pink"])
    clips: list[RealClip] = []
    started = time.perf_counter()
    (out / "clips").mkdir(parents=True, exist_ok=True)
    for number, item in enumerate(planned):
        target = out / item.clip.wav
        if item.voice is None:
            if not target.is_file():
                _noise_clip(item.clip.condition, beds, target, number)
        else:
            voice, clean = _render(item)
            if voice != item.voice:
                item.clip = RealClip.from_dict(
                    {**item.clip.to_dict(), "voice": voice.label, "family": voice.family}
                )
            voices.apply_condition(clean, item.clip.condition, target, beds, salt=number)
        sha1 = hashlib.sha1(target.read_bytes()).hexdigest()[:16]
        clips.append(RealClip.from_dict({**item.clip.to_dict(), "sha1": sha1}))
        if number % 50 == 49:
            print(f"  {number + 1}/{len(planned)} clips, {time.perf_counter() - started:.0f} s")
    keep = {c.wav for c in clips}
    for stale in (out / "clips").glob("*.wav"):
        if f"clips/{stale.name}" not in keep:
            stale.unlink()
    manifest = [c.to_dict() for c in clips]
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    return clips


def load_manifest(folder: Path = DEFAULT_OUT) -> list[RealClip]:
    return [RealClip.from_dict(d) for d in json.loads((folder / "manifest.json").read_text())]


# --------------------------------------------------------------------------- judges


@dataclass
class JudgeResult:
    outcome: str  # one of OUTCOMES, or "error"
    transcript: str
    latency_s: float
    extra: dict[str, Any] = field(default_factory=dict)


JudgeFn = Callable[[RealClip, Any], JudgeResult]
"""callable(clip, turn) -> JudgeResult; `turn` is a bench.clipset.Turn (language, answers)."""
JudgeFactory = Callable[[Path], AbstractContextManager[JudgeFn]]
"""factory(set_folder) -> context manager yielding the judge (servers, models held open)."""
JUDGES: dict[str, JudgeFactory] = {}


def register(name: str) -> Callable[[JudgeFactory], JudgeFactory]:
    def add(factory: JudgeFactory) -> JudgeFactory:
        JUDGES[name] = factory
        return factory

    return add


def judge_factory(name: str) -> JudgeFactory:
    """A registered judge, or `package.module:attribute` imported on demand."""
    if name in JUDGES:
        return JUDGES[name]
    if ":" in name:
        module, _, attribute = name.partition(":")
        factory: JudgeFactory = getattr(importlib.import_module(module), attribute)
        return factory
    raise KeyError(f"unknown judge {name!r}; known: {', '.join(sorted(JUDGES))}")


@register("today")
def today_judge(folder: Path) -> AbstractContextManager[JudgeFn]:
    """Today's product path (bias mode initial_prompt, the product default)."""
    return _today(folder, mode="initial_prompt")


@register("today-unbiased")
def today_unbiased_judge(folder: Path) -> AbstractContextManager[JudgeFn]:
    """Today's path without the accepted answers as prompt (bias mode none): what the
    prompt itself costs and buys."""
    return _today(folder, mode="none")


@contextlib.contextmanager
def _today(folder: Path, mode: str) -> Iterator[JudgeFn]:
    """Today's product path, frozen (bench.today_path): the WhisperLive server of the last
    commit with the prompted final pass, the whole clip with the accepted answers as bias
    (`mode`, that commit's default initial_prompt), then `interaction.judging.judge` with the
    Policy the app built for an audio answer."""
    from bench.common import django_setup, recognise_wav
    from bench.today_path import TODAY_COMMIT, today_server

    django_setup()
    from bench.language_check import build_policies, verdict

    policies = build_policies()
    with today_server(port=_free_port()) as server:
        print(
            f"  today ({TODAY_COMMIT}): {server.ready_line} (ready in {server.ready_s:.1f} s)",
            flush=True,
        )
        provider = server.url
        loop = asyncio.new_event_loop()

        def judge_one(clip: RealClip, turn: Any) -> JudgeResult:
            started = time.perf_counter()
            record = loop.run_until_complete(
                recognise_wav(provider, folder / clip.wav, turn.language, turn.answers, mode)
            )
            if "error" in record:
                return JudgeResult("error", "", time.perf_counter() - started, record)
            result = verdict(record, turn.answers, policies[(turn.scenario, turn.index)])
            latency = time.perf_counter() - started
            probabilities = record["language_probabilities"]
            top = sorted(probabilities.items(), key=lambda kv: -kv[1])[:3]
            return JudgeResult(
                result.outcome,
                record.get("transcript", ""),
                latency,
                {
                    "similarity": result.similarity,
                    "best_answer": result.best_answer,
                    "language": dict(top),
                    "asr_ms": record.get("asr_ms"),
                    "audio_ms": record.get("audio_ms"),
                },
            )

        try:
            yield judge_one
        finally:
            loop.close()


def _free_port() -> int:
    """A free loopback port: several judges may hold servers at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fair_policies() -> dict[tuple[str, int], Any]:
    """(scenario, turn) -> the AudioJudgingPolicy the app builds for a spoken answer
    (`services.audio_policy_get` on the turn's rules), with build_policies' learners."""
    from bench.common import demo_turn_rules
    from interaction.services import audio_policy_get

    return {
        (turn.slug, turn.index): audio_policy_get(
            target_language=turn.language, rules=turn.rules, other_languages=turn.other_languages
        )
        for turn in demo_turn_rules()
    }


@register("fair")
@contextlib.contextmanager
def fair_judge(folder: Path) -> Iterator[JudgeFn]:
    """The fair judge through the product path: this tree's WhisperLive server (the evidence
    pass), `WhisperLiveProvider.transcribe` with the accepted answers as candidates and the
    learner's other languages, then the app's own `services.spoken_verdict` with the policy
    `services.audio_policy_get` builds from the rules. Latency: decode + transcribe + judge."""
    from bench.common import asr_server, django_setup, whisperlive_provider

    django_setup()
    from django.conf import settings

    from interaction.asr.audio import decode_upload
    from interaction.asr.types import AsrError, RecognitionOptions
    from interaction.services import answer_from_hypothesis, spoken_verdict

    policies = fair_policies()
    with asr_server(port=_free_port()) as server:
        print(f"  fair: {server.ready_line} (ready in {server.ready_s:.1f} s)", flush=True)
        provider = whisperlive_provider(server.url)
        loop = asyncio.new_event_loop()

        def judge_one(clip: RealClip, turn: Any) -> JudgeResult:
            policy = policies[(turn.scenario, turn.index)]
            started = time.perf_counter()
            samples = decode_upload(
                (folder / clip.wav).read_bytes(),
                content_type="audio/wav",
                filename=clip.wav,
                max_bytes=settings.ASR_MAX_UPLOAD_BYTES,
                max_seconds=settings.ASR_MAX_CLIP_SECONDS,
            )
            options = RecognitionOptions(
                language=turn.language,
                other_languages=policy.other_languages,
                candidates=tuple(turn.answers),
            )
            try:
                hypothesis = loop.run_until_complete(
                    provider.transcribe(samples.tobytes(), options)
                )
            except AsrError as exc:
                return JudgeResult("error", "", time.perf_counter() - started, {"error": str(exc)})
            answer = answer_from_hypothesis(hypothesis, audio_ms=round(samples.size / 16))
            verdict, audio = spoken_verdict(
                answer=answer, accepted=tuple(turn.answers), policy=policy
            )
            latency = time.perf_counter() - started
            evidence = hypothesis.evidence
            return JudgeResult(
                str(verdict.outcome),
                hypothesis.text,
                latency,
                {
                    "reason": audio.reason,
                    "similarity": audio.similarity,
                    "margin": audio.margin,
                    "best_answer": audio.best_answer,
                    "language": dict(hypothesis.language_probabilities),
                    "asr_ms": hypothesis.asr_ms,
                    "server_ms": (evidence.get("timings_ms") or {}).get("total"),
                    "audio_ms": answer.audio_ms,
                },
            )

        try:
            yield judge_one
        finally:
            loop.close()


# --------------------------------------------------------------------------- run


def load_raw(path: Path = RAW) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {"meta": {}, "results": []}


def run(
    folder: Path, judges: Sequence[str], fresh: bool = False, limit: int = 0, raw_path: Path = RAW
) -> None:
    from bench.clipset import turn_answers
    from bench.common import django_setup

    django_setup()
    clips = load_manifest(folder)
    if limit:
        clips = clips[:limit]
    turns = turn_answers()
    raw = {"meta": {}, "results": []} if fresh else load_raw(raw_path)
    done = {(r["judge"], r["clip"], r["sha1"]): r for r in raw["results"]}
    todo = [(j, c) for c in clips for j in judges if (j, c.id, c.sha1) not in done]
    print(f"judging {len(todo)} clip × judge pairs ({len(clips)} clips) …", flush=True)
    if todo:
        started = time.perf_counter()
        with contextlib.ExitStack() as stack:
            fns = {name: stack.enter_context(judge_factory(name)(folder)) for name in judges}
            for number, clip in enumerate(clips):
                order = list(judges[number % len(judges) :]) + list(judges[: number % len(judges)])
                for name in order:
                    if (name, clip.id, clip.sha1) in done:
                        continue
                    result = fns[name](clip, turns[(clip.scenario, clip.turn)])
                    done[(name, clip.id, clip.sha1)] = {
                        "judge": name,
                        "clip": clip.id,
                        "sha1": clip.sha1,
                        "outcome": result.outcome,
                        "transcript": result.transcript,
                        "latency_s": round(result.latency_s, 4),
                        "load1": round(os.getloadavg()[0], 2),
                        "extra": result.extra,
                    }
                if number % 25 == 24:
                    print(
                        f"  {number + 1}/{len(clips)} clips, {time.perf_counter() - started:.0f} s"
                    )
                    _save(raw, done, raw_path)
        raw["meta"][",".join(judges)] = {
            "clips": len(clips),
            "wall_s": round(time.perf_counter() - started, 1),
            "when": time.strftime("%Y-%m-%d %H:%M"),
        }
    _save(raw, done, raw_path)


def _save(raw: dict[str, Any], done: Mapping[tuple[str, str, str], Any], path: Path) -> None:
    raw["results"] = [done[key] for key in sorted(done)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(raw, ensure_ascii=False, indent=0) + "\n")


# --------------------------------------------------------------------------- report


def quantile(values: Sequence[float], fraction: float) -> float | None:
    data = sorted(values)
    return data[min(len(data) - 1, int(fraction * len(data)))] if data else None


PENALTIES = ("wrong_language", "incorrect_answer")


def metrics(rows: Sequence[tuple[RealClip, Mapping[str, Any]]]) -> list[str]:
    """The row of figures for one group of (clip, result) pairs."""

    def share(selected: list[Mapping[str, Any]], outcomes: Sequence[str]) -> str:
        hits = sum(r["outcome"] in outcomes for r in selected)
        return f"{pct(hits, len(selected))} ({hits}/{len(selected)})" if selected else "–"

    correct = [r for c, r in rows if c.expected == "correct"]
    wrong = [r for c, r in rows if c.expected in PENALTIES]
    foreign = [r for c, r in rows if c.expected == "wrong_language"]
    speech = [r for c, r in rows if c.expected != "no_speech"]
    silent = [r for c, r in rows if c.expected == "no_speech"]
    right = sum(r["outcome"] == c.expected for c, r in rows)
    latency = [r["latency_s"] for c, r in rows if c.expected != "no_speech"]
    return [
        str(len(rows)),
        f"{pct(right, len(rows))} ({right}/{len(rows)})",
        share(correct, PENALTIES),
        share(wrong, ("correct",)),
        share(foreign, ("wrong_language",)),
        share(speech, ("unclear",)),
        share(silent, ("no_speech", "unclear")) if silent else "–",
        fmt(quantile(latency, 0.5)),
        fmt(quantile(latency, 0.9)),
    ]


HEADER = [
    "clips",
    "right verdicts",
    "correct penalised",
    "wrong rewarded",
    "wrong language caught",
    "unclear (speech)",
    "no speech handled",
    "median s",
    "p90 s",
]


def _continues_answer(clip: RealClip, transcript: str) -> bool:
    """The transcript starts with one of the turn's accepted answers and goes on."""
    from interaction.judging import normalise

    said = normalise(transcript, language=clip.target)
    return any(
        said.startswith(answer) and len(said) > len(answer) + 1
        for answer in (normalise(a, language=clip.target) for a in clip.answers)
    )


def _contains_answer(clip: RealClip, transcript: str) -> bool:
    """The transcript contains one of the turn's accepted answers that `clip.text` lacks."""
    from interaction.judging import normalise

    said = normalise(transcript, language=clip.target)
    spoken = normalise(clip.text, language=clip.target)
    return any(
        answer in said and answer not in spoken
        for answer in (normalise(a, language=clip.target) for a in clip.answers)
    )


def report(folder: Path = DEFAULT_OUT, raw_path: Path = RAW) -> str:
    clips = {c.id: c for c in load_manifest(folder)}
    raw = load_raw(raw_path)
    by_judge: dict[str, list[tuple[RealClip, Mapping[str, Any]]]] = {}
    for record in raw["results"]:
        clip = clips.get(record["clip"])
        if clip is not None and clip.sha1 == record["sha1"]:
            by_judge.setdefault(record["judge"], []).append((clip, record))
    counts = Counter(c.expected for c in clips.values())
    families = Counter(c.family for c in clips.values())
    out = [
        "# Realistic bench: generated tables\n",
        f"Clip set: {len(clips)} clips ({', '.join(f'{k} {n}' for k, n in counts.items())}); "
        f"voices: {', '.join(f'{k} {n}' for k, n in families.items())}.",
        "Latency: wall time of one clip through the judge (speech clips), in seconds. "
        "'correct penalised': correct answers judged wrong_language or incorrect_answer; "
        "'wrong rewarded': incorrect or wrong-language answers judged correct; 'no speech "
        "handled': no_speech or unclear (nothing lost). Unclear counts as not right.\n",
    ]
    for judge, rows in sorted(by_judge.items()):
        meta: Mapping[str, Any] = next(
            (m for k, m in raw["meta"].items() if judge in k.split(",")), {}
        )
        loads = [r["load1"] for _, r in rows if r.get("load1") is not None]
        load = f"; machine load (1-min average) median {quantile(loads, 0.5)}" if loads else ""
        out.append(
            f"## Judge `{judge}` ({len(rows)} clips; run {meta.get('when', '?')}, "
            f"{meta.get('wall_s', '?')} s{load})\n"
        )
        table = [["**all**", *metrics(rows)]]
        speech_conditions = sorted({c.condition for c, _ in rows if c.expected != "no_speech"})
        silent_conditions = sorted({c.condition for c, _ in rows if c.expected == "no_speech"})
        for title, key, values in (
            ("expected", "expected", ("correct", "incorrect_answer", "wrong_language")),
            ("family", "family", FAMILIES),
            ("condition", "condition", speech_conditions),
            ("no speech", "condition", silent_conditions),
            ("kind", "kind", ("plain", "filler", "pause", "near", "far")),
            ("target", "target", ("fr", "es", "de", "en")),
        ):
            for value in values:
                group = [(c, r) for c, r in rows if getattr(c, key) == value]
                if group:
                    table.append([f"{title}: {value}", *metrics(group)])
        out.append(md_table(["group", *HEADER], table))
        confusion = Counter((c.expected, r["outcome"]) for c, r in rows)
        judged = [o for o in (*OUTCOMES, "error") if any(k[1] == o for k in confusion)]
        out.append("\nConfusion (spoken ↓ / judged →):\n")
        out.append(
            md_table(
                ["expected", *judged],
                [
                    [e, *(confusion[(e, o)] or "·" for o in judged)]
                    for e in ("correct", "incorrect_answer", "wrong_language", "no_speech")
                ],
            )
        )
        worst = [
            (c, r)
            for c, r in rows
            if (c.expected == "correct" and r["outcome"] in PENALTIES)
            or (c.expected in PENALTIES and r["outcome"] == "correct")
            or (c.expected == "no_speech" and r["outcome"] in (*PENALTIES, "correct"))
        ]
        penalised = [
            (c, r) for c, r in rows if c.expected == "correct" and r["outcome"] in PENALTIES
        ]
        tails = sum(_continues_answer(c, r["transcript"] or "") for c, r in penalised)
        out.append(
            f"\nCorrect answers penalised whose transcript is an accepted answer followed by "
            f"words nobody said: {tails} of {len(penalised)}.\n"
        )
        wrong = [(c, r) for c, r in rows if c.expected in PENALTIES]
        leaks = sum(_contains_answer(c, r["transcript"] or "") for c, r in wrong)
        out.append(
            f"Wrong answers (incorrect or wrong language) whose transcript contains an "
            f"accepted answer that was not said: {leaks} of {len(wrong)}.\n"
        )
        out.append(f"\n### Worst mistakes ({len(worst)}: a life lost or points given wrongly)\n")
        out.append(
            md_table(
                ["clip", "voice · condition", "said", "expected", "judged", "transcript"],
                [
                    [
                        c.id,
                        f"{c.voice} · {c.condition}",
                        c.text or "(no speech)",
                        c.expected,
                        r["outcome"],
                        (r["transcript"] or "").replace("|", "/")[:120],
                    ]
                    for c, r in worst
                ],
            )
        )
        out.append("")
    if len(by_judge) > 1:
        out.append("## Side by side (all clips)\n")
        out.append(md_table(["judge", *HEADER], [[j, *metrics(r)] for j, r in by_judge.items()]))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.realistic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p_build = commands.add_parser("build", help="synthesise the clip set")
    p_build.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p_build.add_argument(
        "--families", default=",".join(FAMILIES), help="comma list of mbrola,piper,espeak"
    )
    p_build.add_argument("--copy-to", type=Path, help="also mirror the finished set here")
    p_run = commands.add_parser("run", help="judge the clip set")
    p_run.add_argument("--set", type=Path, default=DEFAULT_OUT, help="the set folder")
    p_run.add_argument("--judge", action="append", help="judge name(s); default today")
    p_run.add_argument("--fresh", action="store_true", help="ignore stored results")
    p_run.add_argument("--limit", type=int, default=0, help="first N clips (smoke test)")
    p_report = commands.add_parser("report", help="tables from the stored results")
    p_report.add_argument("--set", type=Path, default=DEFAULT_OUT)
    for sub in (p_run, p_report):
        sub.add_argument("--raw", type=Path, default=RAW, help="results file (JSON)")
        sub.add_argument("--report", type=Path, default=REPORT, help="markdown tables")
    args = parser.parse_args(argv)
    if args.command == "build":
        families = [f for f in args.families.split(",") if f]
        if unknown := set(families) - set(FAMILIES):
            parser.error(f"unknown families {unknown}")
        clips = build(args.out, families)
        print(f"{len(clips)} clips in {args.out} ({Counter(c.expected for c in clips)})")
        if args.copy_to:
            if args.copy_to.exists():
                shutil.rmtree(args.copy_to)
            shutil.copytree(args.out, args.copy_to)
            print(f"copied to {args.copy_to}")
    elif args.command == "run":
        judges = [j for spec in args.judge or ["today"] for j in spec.split(",")]
        run(args.set, judges, fresh=args.fresh, limit=args.limit, raw_path=args.raw)
        text = report(args.set, args.raw)
        args.report.write_text(text)
        print(text)
    else:
        text = report(args.set, args.raw)
        args.report.write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
