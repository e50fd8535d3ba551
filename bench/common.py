"""Shared by the benchmarks: Django setup, the ASR server process, memory, small stats."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interaction.asr.wire import READY_MARKER

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
CACHE = REPO / "var" / "bench"  # git-ignored: synthesised clips live here
DEFAULT_PORT = 9291
SERVER_START_TIMEOUT_S = 120


def django_setup() -> None:
    """Settings only (the benchmarks never touch the database)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


@dataclass
class ServerProcess:
    url: str
    pid: int
    ready_s: float
    ready_line: str


@contextlib.contextmanager
def asr_server(
    model: str | None = None,
    port: int = DEFAULT_PORT,
    *,
    repo: Path = REPO,
    env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """`manage.py run_asr_server` on loopback for the block; always stopped afterwards.

    repo: the tree whose server runs (bench.today_path runs an older commit's); env: extra
    environment for it.
    """
    command = [sys.executable, str(repo / "manage.py"), "run_asr_server", "--port", str(port)]
    if model:
        command += ["--model", model]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        started = time.perf_counter()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=repo, env=environment, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while True:
                text = log_path.read_text(errors="replace")
                line = next((x for x in text.splitlines() if READY_MARKER in x), None)
                if line:
                    break
                if process.poll() is not None:
                    raise RuntimeError(f"ASR server exited ({process.returncode}):\n{text[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ASR server not ready in time:\n{text[-3000:]}")
                time.sleep(0.1)
            yield ServerProcess(
                url=f"ws://127.0.0.1:{port}",
                pid=process.pid,
                ready_s=time.perf_counter() - started,
                ready_line=line.strip(),
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """Resident memory of a process from /proc: now (VmRSS) and peak (VmHWM), in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return {"rss_mb": round(values["VmRSS"], 1), "peak_rss_mb": round(values["VmHWM"], 1)}


def median(values: Iterable[float | None]) -> float | None:
    data = [v for v in values if v is not None]
    return statistics.median(data) if data else None


def pct(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / denominator:.0f}%" if denominator else "–"


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- today's path


def whisperlive_provider(url: str) -> Any:
    """`WhisperLiveProvider` against `url` with the product's timeouts (base model)."""
    from django.conf import settings

    from interaction.asr.whisperlive import WhisperLiveProvider

    return WhisperLiveProvider(
        (url,),
        connect_timeout=settings.ASR_CONNECT_TIMEOUT_S,
        read_timeout=settings.ASR_READ_TIMEOUT_S,
        final_timeout=settings.ASR_FINAL_TIMEOUT_S,
        model="base",
    )


async def recognise_wav(
    provider: Any, wav: Path, language: str, answers: Sequence[str], mode: str
) -> dict[str, Any]:
    """One clip through today's upload path: `decode_upload`, then the prompted final pass
    (bench.today_path: TODAY_COMMIT's server and wire) with the scenario's language and the
    turn's accepted answers as bias (`mode`). `provider` is the today server's ws URL (or
    anything with a `.servers[0]`). Returns the raw record (transcript,
    language_probabilities, no_speech, confidence, asr_ms, audio_ms), or {"error": ...}."""
    from django.conf import settings

    from bench.today_path import prompted_transcribe
    from interaction.asr.audio import decode_upload

    url = provider if isinstance(provider, str) else provider.servers[0]
    samples = decode_upload(
        await asyncio.to_thread(wav.read_bytes),
        content_type="audio/wav",
        filename=wav.name,
        max_bytes=settings.ASR_MAX_UPLOAD_BYTES,
        max_seconds=settings.ASR_MAX_CLIP_SECONDS,
    )
    call = time.perf_counter()
    try:
        record = await prompted_transcribe(
            url, samples, language=language, answers=answers, mode=mode
        )
    except (OSError, TimeoutError, ValueError) as exc:
        return {"error": str(exc), "wall_ms": round(1000 * (time.perf_counter() - call))}
    return {**record, "audio_ms": round(samples.size / 16)}


@dataclass(frozen=True)
class DemoTurn:
    """One turn of a demo scenario, with its effective rules and the bench's learner."""

    slug: str
    index: int
    language: str
    other_languages: tuple[str, ...]
    rules: Any


def demo_turn_rules() -> Iterator[DemoTurn]:
    """Every demo scenario turn (scenarios/demo/*.yaml) with the rules the app resolves.

    The learner: the product default other language for fr/es/de targets; a French-speaking
    learner for the English scenario (with the default, English, it has no suspect).
    """
    import yaml
    from django.conf import settings

    from bench.clipset import OTHER_LANGUAGE
    from scenarios.rules import ScenarioOverrides, rules_resolve
    from scenarios.specs import spec_from_mapping

    for path in sorted((REPO / "scenarios" / "demo").glob("*.yaml")):
        spec = spec_from_mapping(yaml.safe_load(path.read_text()))
        overrides = ScenarioOverrides(
            difficulty=spec.difficulty,
            lives=spec.lives,
            reward=spec.reward,
            answer_similarity=spec.answer_similarity,
            wrong_language_probability=spec.wrong_language_probability,
            penalties=spec.penalties,
            audio_judging=spec.audio_judging,
        )
        default_other = tuple(settings.PARLEY_JUDGING["other_languages"])
        other = default_other if spec.language != "en" else (OTHER_LANGUAGE["en"],)
        for index, turn in enumerate(spec.turns):
            rules = rules_resolve(
                defaults=settings.PARLEY_RULES,
                judging_defaults=settings.PARLEY_JUDGING,
                scenario=overrides,
                turn_reward=turn.reward,
            )
            yield DemoTurn(spec.slug, index, spec.language, other, rules)
