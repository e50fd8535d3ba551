"""Provider capability audit: speed, latency, accuracy, memory and cost of each local option.

    python -m bench.asr_shootout                 # about 4-5 minutes on 2 cores
    python -m bench.asr_shootout --per-language 4 --english 8   # quicker

Systems, on the same espeak-ng clips (bench/clipset.py, first rendering of each phrase):

- `wl-base`        WhisperLive + base through `WhisperLiveProvider.transcribe` (no bias)
- `wl-base+prompt` the same with the turn's answers as `initial_prompt` (the product default)
- `fw-base`        faster-whisper in-process (base, int8), running the same final pass
                   (`interaction.asr.server.final_pass`: VAD, language ID, forced transcription)
                   in a worker process with no WhisperLive, no torch, no WebSocket
- `wl-tiny.en`     WhisperLive + tiny.en (English clips only: it is English-only)
- `fw-tiny.en`     faster-whisper in-process, tiny.en (English clips only)

Only one Whisper server runs at a time: phase 1 starts the base server and interleaves
wl-base, wl-base+prompt and fw-base clip by clip; phase 2 stops it, starts the tiny.en server
and interleaves wl-tiny.en, fw-tiny.en and fw-base on English clips. fw-base runs in both
phases, so every system's latency is also reported as a ratio to fw-base measured side by
side (medians of per-clip ratios), which survives a busy machine better than absolute times.

Latency is request → final hypothesis (for WhisperLive: connect, send, final pass, close;
in-process: the call). RTF = latency / audio duration. WER = word edits / reference words
after the judge's own folding (`interaction.judging.normalise`: case, accents, punctuation,
numbers spelled out). Peak memory = VmHWM of the server or worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.common import (
    REPO,
    RESULTS,
    asr_server,
    django_setup,
    fmt,
    md_table,
    median,
    memory_mb,
)

# Cost assumptions (stated in docs/asr-shootout.md; change them here).
CPU_VM: dict[str, Any] = {
    "name": "2-vCPU general-purpose cloud VM, on demand",
    "usd_per_hour": 0.10,
}
GPU_VM: dict[str, Any] = {"name": "1× NVIDIA T4 cloud VM (4 vCPU), on demand", "usd_per_hour": 0.53}
# GPU real-time factors are NOT measured here (no GPU on this machine). Assumed range for
# Whisper base on a T4-class GPU: best case from published long-form throughput (RTFx ≈ 39
# for faster-whisper base.en on CUDA, i.e. RTF ≈ 0.026), worst case 0.10 for our short
# utterances, where VAD, language ID and per-request overhead do not shrink with the GPU.
GPU_RTF_ASSUMED = (0.026, 0.10)

SYSTEMS = ("wl-base", "wl-base+prompt", "fw-base", "wl-tiny.en", "fw-tiny.en", "fw-base/en")
"""Rows of the report; `fw-base/en` is fw-base on phase 2's English clips (tiny.en's set)."""


def row_name(row: Mapping[str, Any]) -> str:
    """The report row of one result: fw-base is split by phase (different clip sets)."""
    if row["system"] == "fw-base" and row["phase"] == "tiny.en":
        return "fw-base/en"
    return row["system"]


# --------------------------------------------------------------------------- the worker


def _stub_whisper_live() -> None:
    """Let `interaction.asr.server` import without whisper-live (and torch).

    The worker runs the server's own `final_pass` on a plain `faster_whisper.WhisperModel`;
    only the names the module imports at the top need to exist.
    """
    import faster_whisper

    class _Unused:
        pass

    class EagerWhisperModel(faster_whisper.WhisperModel):
        """Stock faster-whisper, but `transcribe` decodes before returning.

        whisper-live's transcriber fork returns a list; stock faster-whisper returns a lazy
        generator, which `final_pass` would consume after leaving its model lock and
        encoder-sharing block (the encoder then runs twice). An in-process design would
        materialise the segments inside the block, as this does.
        """

        def transcribe(self, *args: Any, **kwargs: Any) -> Any:
            segments, info = super().transcribe(*args, **kwargs)
            return list(segments), info

    modules: dict[str, dict[str, Any]] = {
        "whisper_live": {},
        "whisper_live.backend": {},
        "whisper_live.backend.faster_whisper_backend": {"ServeClientFasterWhisper": _Unused},
        "whisper_live.server": {"TranscriptionServer": _Unused},
        "whisper_live.transcriber": {},
        "whisper_live.transcriber.transcriber_faster_whisper": {"WhisperModel": EagerWhisperModel},
    }
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        sys.modules[name] = module


def worker(model_name: str) -> int:
    """JSON lines on stdin ({path, language}) → JSON lines on stdout (final pass results)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    sys.path.insert(0, str(REPO))
    started = time.perf_counter()
    _stub_whisper_live()
    from interaction.asr.server.final_pass import final_pass
    from interaction.asr.server.loading import load_model
    from interaction.asr.server.model_files import model_path
    from interaction.asr.server.options import FinalPassOptions
    from tests.speech import read_wav

    assert "torch" not in sys.modules, "the in-process worker must not load torch"
    model = load_model(model_path(model_name), device="cpu", compute_type="int8", cpu_threads=0)
    out = sys.stdout
    ready = {"ready": True, "load_s": round(time.perf_counter() - started, 2), **memory_mb()}
    out.write(json.dumps(ready) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        audio = read_wav(Path(request["path"]))
        # The server's final pass is the fair judge's evidence pass now: the accepted answers
        # (the request's bias_phrases) are scored, never prompted.
        options = FinalPassOptions(
            target_language=request["language"],
            candidates=tuple(request.get("bias_phrases", ())),
            streaming=False,
        )
        call = time.perf_counter()
        payload = final_pass(model, audio, options)["evidence"]
        latency_ms = (time.perf_counter() - call) * 1000
        out.write(
            json.dumps(
                {
                    "text": payload["transcript"],
                    "language_probabilities": payload["language_probabilities"],
                    "no_speech": payload["no_speech"],
                    "latency_ms": round(latency_ms, 1),
                    "audio_s": payload["audio_s"],
                    **memory_mb(),
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        out.flush()
    return 0


class Worker:
    """A `--worker MODEL` subprocess: faster-whisper in-process, in its own process."""

    def __init__(self, model: str) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.asr_shootout", "--worker", model],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            self.log.seek(0)
            raise RuntimeError(f"worker {model} failed:\n{self.log.read().decode()[-3000:]}")
        self.ready = json.loads(line)

    def run(self, path: Path, language: str) -> dict[str, Any]:
        assert self.process.stdin
        assert self.process.stdout
        self.process.stdin.write(json.dumps({"path": str(path), "language": language}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def memory(self) -> dict[str, float]:
        return memory_mb(self.process.pid)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# --------------------------------------------------------------------------- measuring


def wer(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    """(word edits, reference words) after the judge's folding."""
    from rapidfuzz.distance import Levenshtein

    from interaction.judging import normalise

    ref = normalise(reference, language=language).split()
    hyp = normalise(hypothesis, language=language).split()
    return Levenshtein.distance(ref, hyp), len(ref)


async def wl_call(provider: Any, clip: Any, bias: tuple[str, ...]) -> dict[str, Any]:
    from django.conf import settings

    from interaction.asr.audio import decode_upload
    from interaction.asr.types import RecognitionOptions

    samples = decode_upload(
        clip.wav.read_bytes(),
        content_type="audio/wav",
        filename=clip.wav.name,
        max_bytes=settings.ASR_MAX_UPLOAD_BYTES,
        max_seconds=settings.ASR_MAX_CLIP_SECONDS,
    )
    options = RecognitionOptions(language=clip.spoken_language, candidates=bias)
    call = time.perf_counter()
    hypothesis = await provider.transcribe(samples.tobytes(), options)
    return {
        "text": hypothesis.text,
        "language_probabilities": dict(hypothesis.language_probabilities),
        "no_speech": hypothesis.no_speech,
        "latency_ms": round((time.perf_counter() - call) * 1000, 1),
        "audio_s": round(samples.size / 16000, 3),
    }


def provider_for(url: str, model: str) -> Any:
    from django.conf import settings

    from interaction.asr.whisperlive import WhisperLiveProvider

    return WhisperLiveProvider(
        (url,),
        connect_timeout=settings.ASR_CONNECT_TIMEOUT_S,
        read_timeout=settings.ASR_READ_TIMEOUT_S,
        final_timeout=settings.ASR_FINAL_TIMEOUT_S,
        model=model,
    )


def pick(clips: list[Any], count: int) -> list[Any]:
    """`count` clips spread evenly over `clips` (all when fewer)."""
    if len(clips) <= count:
        return clips
    step = len(clips) / count
    return [clips[int(i * step)] for i in range(count)]


async def phase(
    name: str,
    clips: list[Any],
    systems: Mapping[str, Any],
    results: list[dict[str, Any]],
) -> None:
    """Run every system on every clip, rotating the order per clip."""
    from bench.clipset import turn_answers

    turns = turn_answers()
    names = list(systems)
    started = time.perf_counter()
    for number, clip in enumerate(clips):
        order = names[number % len(names) :] + names[: number % len(names)]
        for system in order:
            runner = systems[system]
            if system == "wl-base+prompt":
                result = await runner(clip, turns[(clip.scenario, clip.turn)].answers)
            elif system.startswith("wl-"):
                result = await runner(clip, ())
            else:
                result = runner(clip)
            edits, words = wer(clip.text, result["text"], clip.spoken_language)
            results.append(
                {
                    "phase": name,
                    "system": system,
                    "clip": clip.id,
                    "language": clip.spoken_language,
                    "label": clip.label,
                    "reference": clip.text,
                    "edits": edits,
                    "words": words,
                    **result,
                }
            )
        if number % 10 == 9:
            print(
                f"  {name}: {number + 1}/{len(clips)} clips, {time.perf_counter() - started:.0f} s",
                flush=True,
            )


def summarise(results: list[dict[str, Any]], memory: Mapping[str, Any]) -> dict[str, Any]:
    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in results:
        by_system[row_name(row)].append(row)
    # per-clip latency ratio to fw-base in the same phase
    reference = {
        (r["phase"], r["clip"]): r["latency_ms"] for r in results if r["system"] == "fw-base"
    }
    summary: dict[str, Any] = {}
    for system in SYSTEMS:
        rows = by_system.get(system, [])
        if not rows:
            continue
        speech = [r for r in rows if r["words"]]
        ratios = [
            r["latency_ms"] / reference[(r["phase"], r["clip"])]
            for r in rows
            if (r["phase"], r["clip"]) in reference and reference[(r["phase"], r["clip"])]
        ]
        rtf = [r["latency_ms"] / 1000 / r["audio_s"] for r in rows if r["audio_s"]]
        languages = sorted({r["language"] for r in rows})
        rtf_median = median(rtf)
        summary[system] = {
            "clips": len(rows),
            "languages": languages,
            "audio_s_median": median(r["audio_s"] for r in rows),
            "latency_ms_median": median(r["latency_ms"] for r in rows),
            "latency_ms_p90": sorted(r["latency_ms"] for r in rows)[int(0.9 * (len(rows) - 1))],
            "rtf_median": rtf_median,
            "ratio_to_fw_base": median(ratios) if not system.startswith("fw-base") else 1.0,
            "wer": sum(r["edits"] for r in speech) / max(1, sum(r["words"] for r in speech)),
            "wer_correct_answers": _wer([r for r in speech if r["label"] == "correct"]),
            "wer_incorrect_answers": _wer([r for r in speech if r["label"] == "incorrect_answer"]),
            "exact": sum(r["edits"] == 0 for r in speech) / len(speech) if speech else None,
            "wer_by_language": {
                lang: _wer([r for r in speech if r["language"] == lang]) for lang in languages
            },
            "memory": memory.get(system.split("/")[0], {}),
            "usd_per_audio_hour_cpu": (rtf_median or 0) * CPU_VM["usd_per_hour"],
        }
    return summary


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _wer(rows: list[dict[str, Any]]) -> float | None:
    words = sum(r["words"] for r in rows)
    return sum(r["edits"] for r in rows) / words if words else None


def report(summary: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    rows = []
    for system, s in summary.items():
        memory = s["memory"]
        rows.append(
            [
                system,
                f"{s['clips']} ({', '.join(s['languages'])})",
                fmt(s["latency_ms_median"], 0),
                fmt(s["latency_ms_p90"], 0),
                fmt(s["rtf_median"]),
                fmt(s["ratio_to_fw_base"]),
                f"{100 * s['wer']:.1f}%",
                _percent(s["wer_correct_answers"]),
                _percent(s["exact"]),
                fmt(memory.get("peak_rss_mb"), 0),
                f"${s['usd_per_audio_hour_cpu']:.3f}",
            ]
        )
    table = md_table(
        [
            "system",
            "clips",
            "latency median ms",
            "p90 ms",
            "RTF median",
            "× fw-base (side by side)",
            "WER all",
            "WER correct answers",
            "exact transcripts",
            "peak RSS MB",
            "CPU $/audio-hour",
        ],
        rows,
    )
    by_language = md_table(
        ["system", *sorted({lang for s in summary.values() for lang in s["wer_by_language"]})],
        [
            [system]
            + [
                "–"
                if s["wer_by_language"].get(lang) is None
                else f"{100 * s['wer_by_language'][lang]:.1f}%"
                for lang in sorted({lg for x in summary.values() for lg in x["wer_by_language"]})
            ]
            for system, s in summary.items()
        ],
    )
    gpu_low, gpu_high = GPU_RTF_ASSUMED
    gpu = (
        f"GPU (not measured; assumed RTF {gpu_low}–{gpu_high} at "
        f"${GPU_VM['usd_per_hour']}/h for a {GPU_VM['name']}): "
        f"${gpu_low * GPU_VM['usd_per_hour']:.3f}–${gpu_high * GPU_VM['usd_per_hour']:.3f} "
        "per audio-hour at full utilisation."
    )
    return (
        f"{table}\n\nWER by language:\n\n{by_language}\n\n"
        f"CPU cost = RTF × ${CPU_VM['usd_per_hour']}/h ({CPU_VM['name']}), one utterance at a "
        f"time using both cores, full utilisation.\n{gpu}\n\n"
        f"Meta: {json.dumps(meta)}\n"
    )


def chart(summary: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(summary)
    palette = {
        "wl-base": "#3b6ea5",
        "wl-base+prompt": "#6a9fd4",
        "fw-base": "#e07b39",
        "wl-tiny.en": "#59a14f",
        "fw-tiny.en": "#9bd18b",
        "fw-base/en": "#f2b482",
    }
    colours = [palette.get(s, "#999999") for s in systems]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    values = [
        ("RTF (median, lower is faster)", [summary[s]["rtf_median"] for s in systems], "{:.2f}"),
        (
            "WER on spoken text (lower is better)",
            [100 * summary[s]["wer"] for s in systems],
            "{:.0f}%",
        ),
        (
            "Peak RSS of the process (MB)",
            [summary[s]["memory"].get("peak_rss_mb", 0) for s in systems],
            "{:.0f}",
        ),
    ]
    for axis, (title, data, label) in zip(axes, values, strict=True):
        bars = axis.bar(range(len(systems)), data, color=colours)
        axis.set_title(title, fontsize=10)
        axis.set_xticks(range(len(systems)), systems, rotation=30, ha="right", fontsize=8)
        axis.bar_label(bars, [label.format(v) for v in data], fontsize=8)
        axis.spines[["top", "right"]].set_visible(False)
    axes[0].axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    fig.suptitle(
        "Local ASR options on espeak-ng answers (2-core CPU, int8; tiny.en: English clips only)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


async def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any], dict]:
    from bench.clipset import build_clips

    clips = [c for c in build_clips() if c.rendering == 0 and c.label != "no_speech"]
    phase1: list[Any] = []
    for language in ("fr", "es", "de", "en"):
        own = [c for c in clips if c.target == language and c.label != "wrong_language"]
        phase1 += pick(own, args.per_language)
    english = [c for c in clips if c.spoken_language == "en"]
    phase2 = pick(english, args.english)
    results: list[dict[str, Any]] = []
    memory: dict[str, Any] = {}
    meta: dict[str, Any] = {"phase1_clips": len(phase1), "phase2_clips": len(phase2)}

    fw_base = Worker("base")
    meta["fw-base_ready"] = fw_base.ready
    try:
        with asr_server("base", port=args.port) as server:
            meta["wl-base_start_s"] = round(server.ready_s, 1)
            meta["wl-base_idle"] = memory_mb(server.pid)
            provider = provider_for(server.url, "base")
            await phase(
                "base",
                phase1,
                {
                    "wl-base": lambda clip, bias: wl_call(provider, clip, bias),
                    "wl-base+prompt": lambda clip, bias: wl_call(provider, clip, bias),
                    "fw-base": lambda clip: fw_base.run(clip.wav, clip.spoken_language),
                },
                results,
            )
            memory["wl-base"] = memory["wl-base+prompt"] = memory_mb(server.pid)
        fw_tiny = Worker("tiny.en")
        meta["fw-tiny.en_ready"] = fw_tiny.ready
        try:
            with asr_server("tiny.en", port=args.port) as server:
                meta["wl-tiny.en_start_s"] = round(server.ready_s, 1)
                meta["wl-tiny.en_idle"] = memory_mb(server.pid)
                provider = provider_for(server.url, "tiny.en")
                await phase(
                    "tiny.en",
                    phase2,
                    {
                        "wl-tiny.en": lambda clip, bias: wl_call(provider, clip, bias),
                        "fw-tiny.en": lambda clip: fw_tiny.run(clip.wav, "en"),
                        "fw-base": lambda clip: fw_base.run(clip.wav, "en"),
                    },
                    results,
                )
                memory["wl-tiny.en"] = memory_mb(server.pid)
            memory["fw-tiny.en"] = fw_tiny.memory()
        finally:
            fw_tiny.close()
        memory["fw-base"] = fw_base.memory()
    finally:
        fw_base.close()
    return results, memory, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.asr_shootout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--per-language", type=int, default=8, help="phase-1 clips per language")
    parser.add_argument("--english", type=int, default=16, help="phase-2 English clips")
    parser.add_argument("--port", type=int, default=9291)
    parser.add_argument("--report-only", action="store_true", help="tables from stored results")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)

    django_setup()
    raw_path = RESULTS / "asr_shootout_raw.json"
    if args.report_only:
        data = json.loads(raw_path.read_text())
        results, memory, meta = data["results"], data["memory"], data["meta"]
    else:
        started = time.perf_counter()
        results, memory, meta = asyncio.run(run(args))
        meta["total_s"] = round(time.perf_counter() - started, 1)
        RESULTS.mkdir(parents=True, exist_ok=True)
        raw_path.write_text(
            json.dumps({"meta": meta, "memory": memory, "results": results}, ensure_ascii=False)
            + "\n"
        )
    summary = summarise(results, memory)
    (RESULTS / "asr_shootout_summary.json").write_text(
        json.dumps(_rounded(summary), indent=1) + "\n"
    )
    text = report(summary, meta)
    (RESULTS / "asr_shootout_report.md").write_text("# ASR shoot-out: generated tables\n\n" + text)
    chart(summary, REPO / "docs" / "img" / "asr-shootout.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
