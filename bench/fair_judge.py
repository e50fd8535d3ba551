"""The fair judge, in-process: evidence pass (interaction.asr.server.evidence) + three-tier decision
(interaction.audio_judging), measured on labelled clips.

`judge_clip(wav, language=..., other_languages=..., answers=...)` is the judge callable (model
loaded once per process); `fair` wraps it for `python -m bench.realistic run --judge
bench.fair_judge:fair`. `python -m bench.fair_judge` runs it over a clip set and prints
accuracy per outcome and voice family (tuned vs held-out), stage timings, and with
`--baseline` a plain `model.transcribe()` of the same clips side by side:

    python -m bench.fair_judge --set quick                 # espeak-ng + sox effects, made here
    python -m bench.fair_judge --set realistic --root DIR  # DIR/manifest.json (bench clip set)
    python -m bench.fair_judge --windows 5,8,10,15,30      # the window floor

Evidence is cached as JSON lines under var/bench/fair_judge/ (one file per set and window), so
decision rules can be re-run offline (`decide`, `metrics`) without running the model again.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.common import CACHE, REPO

MODEL_DIR_ENV = "ASR_MODEL_DIR"
OUT = CACHE / "fair_judge"
CPU_THREADS = 2


@dataclass(frozen=True)
class LabelledClip:
    wav: Path
    scenario: str
    turn: int
    language: str
    other_languages: tuple[str, ...]
    answers: tuple[str, ...]
    expected: str
    kind: str
    family: str
    voice: str
    condition: str
    text: str = ""

    @property
    def key(self) -> str:
        return str(self.wav)


@functools.cache
def load_model(model_dir: str | None = None) -> Any:
    """faster-whisper's WhisperModel, base multilingual, CPU int8, 2 threads (once)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    root = Path(model_dir or os.environ.get(MODEL_DIR_ENV) or REPO / "var" / "models")
    path = root / "whisper-base" if (root / "whisper-base").is_dir() else root
    return WhisperModel(
        str(path),
        device="cpu",
        compute_type="int8",
        cpu_threads=CPU_THREADS,
        local_files_only=True,
    )


def warm_up() -> None:
    """Load the model and Silero VAD and run each once, so no timed call pays for that."""
    import numpy as np
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    model = load_model()
    noise = (0.01 * np.random.default_rng(0).standard_normal(16_000)).astype(np.float32)
    get_speech_timestamps(noise, VadOptions())
    segments, _info = model.transcribe(noise, language="en", beam_size=1, temperature=0.0)
    list(segments)


def read_audio(path: Path) -> Any:
    from faster_whisper.audio import decode_audio

    return decode_audio(str(path), sampling_rate=16_000)


def judge_clip(
    wav_path: Path,
    *,
    language: str,
    other_languages: tuple[str, ...],
    answers: tuple[str, ...],
    window_s: float | None = None,
    policy: Any = None,
) -> dict[str, Any]:
    """The fair judge on one clip: {outcome, transcript, latency_s, evidence, verdict}.

    latency_s: the evidence pass plus the decision (audio decoding excluded).
    """
    from interaction.asr.server.evidence import DEFAULT_WINDOW_S, answer_evidence
    from interaction.audio_evidence import AudioEvidence
    from interaction.audio_judging import AudioJudgingPolicy, judge_audio

    model = load_model()
    audio = read_audio(Path(wav_path))
    started = time.perf_counter()
    payload = answer_evidence(
        model,
        audio,
        target_language=language,
        other_languages=other_languages,
        accepted_answers=answers,
        window_s=window_s or DEFAULT_WINDOW_S,
    )
    verdict = judge_audio(
        AudioEvidence.from_payload(payload),
        answers,
        policy or AudioJudgingPolicy(target_language=language, other_languages=other_languages),
    )
    latency = time.perf_counter() - started
    return {
        "outcome": verdict.outcome,
        "transcript": payload["transcript"],
        "latency_s": round(latency, 3),
        "evidence": payload,
        "verdict": asdict(verdict),
    }


@contextlib.contextmanager
def fair(folder: Path) -> Iterator[Callable[[Any, Any], Any]]:
    """The judge factory for `bench.realistic run --judge bench.fair_judge:fair`.

    Yields `callable(clip, turn) -> JudgeResult` (bench.realistic's interface: `clip.wav`
    relative to `folder`, `clip.target`, `clip.answers`); the learner's other language is
    bench.clipset's OTHER_LANGUAGE. The model is loaded (and warmed on one clip) before the
    first timed call.
    """
    from bench.clipset import OTHER_LANGUAGE

    # The bench runner's own result type (bench/realistic.py, on the bench branch).
    JudgeResult = importlib.import_module("bench.realistic").JudgeResult

    warm_up()

    def judge_one(clip: Any, turn: Any) -> Any:
        language = getattr(clip, "target", None) or turn.language
        answers = tuple(getattr(clip, "answers", None) or turn.answers)
        result = judge_clip(
            folder / clip.wav,
            language=language,
            other_languages=(OTHER_LANGUAGE[language],),
            answers=answers,
        )
        return JudgeResult(
            outcome=result["outcome"],
            transcript=result["transcript"],
            latency_s=result["latency_s"],
            extra={"verdict": result["verdict"], "timings_ms": result["evidence"]["timings_ms"]},
        )

    yield judge_one


# --- clip sets -------------------------------------------------------------------------------

FILLER_TEXT = {"fr": "euh", "es": "eh", "de": "äh", "en": "um"}
CONDITIONS = ("clean", "noise", "reverb", "telephone", "quiet")


def quick_clips(cache: Path = CACHE / "fair_clips") -> list[LabelledClip]:
    """espeak-ng clips of bench.clipset, each in one sox condition, plus filler/paused answers.

    Deterministic (sox -D -R). Voice family: "espeak" (every voice espeak-ng ships here).
    """
    from bench.clipset import OTHER_LANGUAGE, PHRASES, build_clips, turn_answers
    from tests.speech import speak

    turns = turn_answers()
    out: list[LabelledClip] = []
    base = build_clips(renderings=2)
    for number, clip in enumerate(base):
        turn = turns[(clip.scenario, clip.turn)]
        condition = CONDITIONS[number % len(CONDITIONS)] if clip.label != "no_speech" else "clean"
        wav = _condition(clip.wav, condition, cache)
        out.append(
            LabelledClip(
                wav=wav,
                scenario=clip.scenario,
                turn=clip.turn,
                language=clip.target,
                other_languages=(OTHER_LANGUAGE[clip.target],),
                answers=turn.answers,
                expected=clip.label,
                kind=clip.kind or clip.label,
                family="espeak",
                voice=clip.voice,
                condition=condition,
                text=clip.text,
            )
        )
    # Fillers and mid-sentence pauses on correct answers (and one near miss per turn).
    voices = {"fr": "fr+m3", "es": "es+m3", "de": "de+m7", "en": "en-us+m3"}
    for (scenario, index), phrases in PHRASES.items():
        turn = turns[(scenario, index)]
        lang = turn.language
        filler = FILLER_TEXT[lang]
        items = [
            ("correct", "filler", f"{filler}... {phrases['correct'][0]}"),
            ("correct", "pause", phrases["correct"][0]),
            ("incorrect_answer", "filler", f"{filler}... {phrases['incorrect_answer'][0]}"),
        ]
        for number, (label, kind, text) in enumerate(items):
            path = cache / f"{kind}-{scenario}-{index}-{number}.wav"
            if not path.is_file():
                raw = speak(text, voices[lang], speed=140, path=cache / f"raw-{path.name}")
                if kind == "pause":
                    _paused(raw, path)
                else:
                    path.write_bytes(raw.read_bytes())
            out.append(
                LabelledClip(
                    wav=path,
                    scenario=scenario,
                    turn=index,
                    language=lang,
                    other_languages=(OTHER_LANGUAGE[lang],),
                    answers=turn.answers,
                    expected=label,
                    kind=kind,
                    family="espeak-m",
                    voice=voices[lang],
                    condition="clean",
                    text=text,
                )
            )
    return out


def realistic_clips(root: Path) -> list[LabelledClip]:
    """The bench engineer's clip set: root/manifest.json (wav paths relative to root)."""
    from bench.clipset import OTHER_LANGUAGE, turn_answers

    turns = turn_answers()
    manifest = json.loads((root / "manifest.json").read_text())
    items = manifest["clips"] if isinstance(manifest, dict) else manifest
    out = []
    for item in items:
        scenario = item["scenario"]
        index = int(item["turn"])
        language = item.get("target") or turns[(scenario, index)].language
        answers = tuple(item.get("answers") or turns[(scenario, index)].answers)
        others = tuple(item.get("other_languages") or (OTHER_LANGUAGE[language],))
        out.append(
            LabelledClip(
                wav=root / item["wav"],
                scenario=scenario,
                turn=index,
                language=language,
                other_languages=others,
                answers=answers,
                expected=item["expected"],
                kind=str(item.get("kind", "")),
                family=str(item.get("family", "")),
                voice=str(item.get("voice", "")),
                condition=str(item.get("condition", "")),
                text=str(item.get("text", "")),
            )
        )
    return out


def _sox(source: Path, target: Path, *effects: str, pre: Sequence[str] = ()) -> Path:
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "sox",
                "-D",
                "-R",
                *pre,
                str(source),
                "-r",
                "16000",
                "-c",
                "1",
                "-b",
                "16",
                str(target),
                *effects,
            ],
            check=True,
            capture_output=True,
        )
    return target


def _condition(wav: Path, condition: str, cache: Path) -> Path:
    if condition == "clean":
        return wav
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{wav.stem}-{condition}.wav"
    if target.is_file():
        return target
    if condition == "reverb":
        return _sox(wav, target, "pad", "0", "0.3", "reverb", "30", "norm", "-3")
    if condition == "telephone":
        tmp = cache / f"{wav.stem}-8k.wav"
        subprocess.run(
            ["sox", "-D", str(wav), "-r", "8000", str(tmp), "sinc", "300-3400"],
            check=True,
            capture_output=True,
        )
        _sox(tmp, target)
        tmp.unlink()
        return target
    if condition == "quiet":
        return _sox(wav, target, "vol", "0.06")
    if condition == "noise":
        noise = cache / f"{wav.stem}-pink.wav"
        length = float(
            subprocess.run(
                ["soxi", "-D", str(wav)], check=True, capture_output=True, text=True
            ).stdout
        )
        subprocess.run(
            [
                "sox",
                "-D",
                "-R",
                "-n",
                "-r",
                "16000",
                "-c",
                "1",
                "-b",
                "16",
                str(noise),
                "synth",
                f"{length:.3f}",
                "pinknoise",
                "vol",
                "0.02",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["sox", "-D", "-m", str(wav), str(noise), str(target)],
            check=True,
            capture_output=True,
        )
        noise.unlink()
        return target
    raise ValueError(condition)


def _paused(raw: Path, target: Path) -> None:
    """A 0.8 s pause in the middle of the phrase (cut at the quietest 100 ms near the centre)."""
    import numpy as np

    from tests.speech import read_wav

    audio = read_wav(raw)
    centre = audio.size // 2
    step = 1600
    lo, hi = max(0, centre - 8000), min(audio.size - step, centre + 8000)
    energies = [(float(np.square(audio[i : i + step]).mean()), i) for i in range(lo, hi, 400)]
    cut = min(energies)[1] + step // 2 if energies else centre
    paused = np.concatenate([audio[:cut], np.zeros(12_800, np.float32), audio[cut:]])
    _write_wav(target, paused)


def _write_wav(path: Path, audio: Any) -> None:
    import wave

    import numpy as np

    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(pcm.tobytes())


# --- evidence collection and reports ---------------------------------------------------------


def collect(
    clips: Iterable[LabelledClip],
    *,
    window_s: float,
    path: Path,
    baseline: bool = False,
    beam_size: int = 1,
) -> list[dict[str, Any]]:
    """Evidence for every clip (cached by wav path in `path`, JSON lines)."""
    from interaction.asr.server.evidence import answer_evidence

    done: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            cached = json.loads(line)
            done[cached["key"]] = cached
    model = load_model()
    rows: list[dict[str, Any]] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as sink:
        for clip in clips:
            if clip.key in done:
                rows.append(done[clip.key])
                continue
            audio = read_audio(clip.wav)
            started = time.perf_counter()
            payload = answer_evidence(
                model,
                audio,
                target_language=clip.language,
                other_languages=clip.other_languages,
                accepted_answers=clip.answers,
                window_s=window_s,
                beam_size=beam_size,
            )
            evidence_s = time.perf_counter() - started
            row: dict[str, Any] = {
                "key": clip.key,
                "clip": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(clip).items()},
                "evidence": payload,
                "evidence_s": round(evidence_s, 4),
            }
            if baseline:
                started = time.perf_counter()
                segments, _ = model.transcribe(
                    audio,
                    language=clip.language,
                    beam_size=5,
                    vad_filter=True,
                    condition_on_previous_text=False,
                    temperature=0.0,
                )
                row["transcribe_text"] = " ".join(s.text.strip() for s in segments)
                row["transcribe_s"] = round(time.perf_counter() - started, 4)
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
            rows.append(row)
    return rows


def decide(
    rows: Iterable[dict[str, Any]], policy_overrides: dict[str, Any] | None = None
) -> list[tuple[dict[str, Any], Any]]:
    from interaction.audio_evidence import AudioEvidence
    from interaction.audio_judging import AudioJudgingPolicy, judge_audio

    out = []
    for row in rows:
        clip = row["clip"]
        policy = AudioJudgingPolicy(
            target_language=clip["language"], other_languages=tuple(clip["other_languages"])
        )
        if policy_overrides:
            policy = replace(policy, **policy_overrides)
        verdict = judge_audio(
            AudioEvidence.from_payload(row["evidence"]), tuple(clip["answers"]), policy
        )
        out.append((row, verdict))
    return out


def metrics(judged: Sequence[tuple[dict[str, Any], Any]]) -> dict[str, Any]:
    """The issue's goals: penalised correct, rewarded wrong, wrong language caught, unclear."""
    counts: Counter[tuple[str, str]] = Counter()
    for row, verdict in judged:
        counts[(row["clip"]["expected"], verdict.outcome)] += 1

    def n(expected: str, outcome: str | None = None) -> int:
        return sum(
            c for (e, o), c in counts.items() if e == expected and (outcome is None or o == outcome)
        )

    correct = n("correct")
    wrong = n("incorrect_answer") + n("wrong_language")
    speech = correct + wrong
    penalised = n("correct", "wrong_language") + n("correct", "incorrect_answer")
    rewarded = n("incorrect_answer", "correct") + n("wrong_language", "correct")
    unclear = sum(c for (e, o), c in counts.items() if o == "unclear" and e != "no_speech")
    right = sum(c for (e, o), c in counts.items() if e == o)
    total = sum(counts.values())
    return {
        "clips": total,
        "correct_penalised": _pct(penalised, correct),
        "wrong_rewarded": _pct(rewarded, wrong),
        "wrong_language_caught": _pct(n("wrong_language", "wrong_language"), n("wrong_language")),
        "incorrect_caught": _pct(n("incorrect_answer", "incorrect_answer"), n("incorrect_answer")),
        "unclear": _pct(unclear, speech),
        "right": _pct(right, total),
        "no_speech_right": _pct(n("no_speech", "no_speech"), n("no_speech")),
        "confusion": {f"{e}->{o}": c for (e, o), c in sorted(counts.items())},
    }


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f} % ({a}/{b})" if b else "-"


TUNED_VOICES = ("mb-fr1", "mb-de2", "mb-es1", "mb-us1")
"""MBROLA voices the thresholds were tuned on (with every espeak-ng voice); the others and
the neural Piper voice are held out."""


def part_of(clip: dict[str, Any]) -> str:
    """ "tuned" or "held-out": espeak-ng (any), silence/noise, and TUNED_VOICES were tuned on."""
    family = clip.get("family", "")
    if family in ("espeak", "espeak-m", "none", ""):
        return "tuned"
    if family == "mbrola" and str(clip.get("voice", "")).startswith(TUNED_VOICES):
        return "tuned"
    return "held-out"


COLUMNS = (
    ("right", "right verdicts"),
    ("correct_penalised", "correct penalised"),
    ("wrong_rewarded", "wrong rewarded"),
    ("wrong_language_caught", "wrong language caught"),
    ("incorrect_caught", "incorrect caught"),
    ("unclear", "unclear"),
    ("no_speech_right", "no speech right"),
)


def markdown(judged: Sequence[tuple[dict[str, Any], Any]]) -> str:
    """One row per part (tuned / held-out), per voice family, and for all clips."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for item in judged:
        clip = item[0]["clip"]
        groups[f"{part_of(clip)} · {clip.get('family') or '-'}"].append(item)
        groups[part_of(clip)].append(item)
        groups["all"].append(item)
    lines = [
        "| clips | n | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 2) + "|",
    ]
    for name in sorted(groups, key=lambda g: (g == "all", "·" not in g, g)):
        m = metrics(groups[name])
        lines.append(
            f"| {name} | {m['clips']} | " + " | ".join(str(m[key]) for key, _ in COLUMNS) + " |"
        )
    return "\n".join(lines)


BY_COLUMNS = (
    ("right", "right verdicts"),
    ("correct_penalised", "correct penalised"),
    ("wrong_rewarded", "wrong rewarded"),
    ("unclear", "unclear"),
)


def markdown_by(judged: Sequence[tuple[dict[str, Any], Any]], key: str) -> str:
    """One row per value of the clip's `key` (condition, kind), all voices."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for item in judged:
        groups[str(item[0]["clip"].get(key) or "-")].append(item)
    lines = [
        f"| {key} | n | " + " | ".join(label for _, label in BY_COLUMNS) + " |",
        "|---" * (len(BY_COLUMNS) + 2) + "|",
    ]
    for name in sorted(groups):
        m = metrics(groups[name])
        lines.append(
            f"| {name} | {m['clips']} | " + " | ".join(str(m[k]) for k, _ in BY_COLUMNS) + " |"
        )
    return "\n".join(lines)


def report(rows: list[dict[str, Any]]) -> None:
    judged = decide(rows)
    print(markdown(judged))
    print("confusion", json.dumps(metrics(judged)["confusion"]))
    for key in ("condition", "kind"):
        print(markdown_by(judged, key))
    times = [row["evidence_s"] for row in rows if not row["evidence"]["no_speech"]]
    if times:
        print(
            f"evidence pass: median {statistics.median(times):.3f} s, "
            f"p90 {sorted(times)[int(0.9 * len(times))]:.3f} s, n={len(times)}"
        )
    base = [
        (row["evidence_s"], row["transcribe_s"])
        for row in rows
        if "transcribe_s" in row and not row["evidence"]["no_speech"]
    ]
    if base:
        print(
            f"transcribe() beam 5, same clips: median {statistics.median(b for _, b in base):.3f}"
            f" s; evidence/transcribe ratio median "
            f"{statistics.median(a / b for a, b in base if b):.2f}, n={len(base)}"
        )
    stages: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if not row["evidence"]["no_speech"]:
            for stage, ms in row["evidence"]["timings_ms"].items():
                stages[stage].append(ms)
    print("stage medians (ms)", {s: round(statistics.median(v), 1) for s, v in stages.items()})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", choices=("quick", "realistic"), default="quick")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--windows", default="10")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--beam", type=int, default=1, help="beam size of the free decodes")
    parser.add_argument("--every", type=int, default=1, help="every n-th clip only (timing runs)")
    args = parser.parse_args(argv)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    clips = quick_clips() if args.set == "quick" else realistic_clips(args.root)
    clips = clips[:: max(1, args.every)]
    if args.limit:
        clips = clips[: args.limit]
    for window in (float(w) for w in args.windows.split(",")):
        tag = f"-b{args.beam}" if args.beam != 1 else ""
        tag += f"-every{args.every}" if args.every > 1 else ""
        tag += "-baseline" if args.baseline else ""
        path = OUT / f"{args.set}-w{window:g}{tag}.jsonl"
        rows = collect(
            clips, window_s=window, path=path, baseline=args.baseline, beam_size=args.beam
        )
        print(f"== {args.set}, window {window:g} s: {len(rows)} clips -> {path.name}")
        report(rows)


if __name__ == "__main__":
    main()
