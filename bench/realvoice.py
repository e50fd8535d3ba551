"""The real-voice bench: recordings of real people with known transcripts, judged as answers.

    python -m bench.realvoice evidence [--limit N]   # the evidence pass over every case's clip
    python -m bench.realvoice fit                    # refit interaction/judge_model.json
    python -m bench.realvoice report                 # bench/results/realvoice_report.md

**Sources** (never synthesis; where each transcript comes from):

- `speechocean` — speechocean762 (public repository `jimbozhang/speechocean762`, Apache-2.0):
  non-native English read by Mandarin L1 children and adults; the transcript is the corpus's
  `text` file (the prompt each speaker read). Its **train** split is split by speaker into
  a fitting part and a held-out part; its **test** split is an outside check. Clone the
  repository into `var/realvoice/speechocean762` (or pass `--speechocean DIR`): nothing
  fetches it for you.
- `asterisk-en`, `asterisk-fr` — Debian's `asterisk-core-sounds-{en,fr}-g722` (native voice
  talent, CC-BY-SA-3.0); the transcript is the recording script each package ships
  (`core-sounds-XX.txt`, in `asterisk-core-sounds-XX`). One speaker each: split by prompt.
- `asterisk-it`, `asterisk-es` — the same packages in Italian and Spanish: outside checks.
  The bench downloads the packages into `var/realvoice/asterisk/` (`apt-get download`,
  `dpkg -x`; nothing is installed).
- `noise` — no-speech clips (silence, hum, hiss, rumble, pink noise), made here.

**Cases** from every speech clip (language L, transcript T): `correct` (target L, accepted
answer T); `near_miss` (target L, T with one content word changed: the clip is a
one-word-wrong answer); `another_sentence` (target L, another speaker's transcript);
`wrong_language` (a target M ≠ L with an accepted answer in M from the demo scenarios, for
a learner whose languages include L); `translated` for the Asterisk voices (target M, the
same prompt's text in M: `translated_set`); and, for every third recording, `garbled` (the
recording played backwards, its own text as the answer: speech no one can make out, where
only `unclear` is fair). The evidence pass runs once per clip and target with
every case's answers and **every** other supported language; a case's evidence is then
restricted to its own answers and its learner's languages (`case_payload`), which is what the
product would have computed for it (each answer and each language is scored independently).

Splits: `fit` (the regression is fitted and its floors chosen on it), `heldout` (speakers, or
for the single-speaker packages prompts, nothing was fitted on), `outside` (sources never used
for fitting or choosing). Everything is deterministic: seeded by each clip's id.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import REPO

ROOT = REPO / "var" / "realvoice"
SPEECHOCEAN = ROOT / "speechocean762"
ASTERISK = ROOT / "asterisk"
EVIDENCE = ROOT / "evidence.jsonl"
CASES = ROOT / "cases.json"
RATE = 16_000
LANGUAGES = ("en", "fr", "es", "de", "it")
ASTERISK_LANGUAGES = {"en": "en", "fr": "fr", "it": "it", "es": "es"}
HELDOUT_SHARE = 0.4
"""Share of speechocean's train speakers (and of the packages' prompts) held out."""
PER_SPEAKER = {"train": 3, "test": 1}
ASTERISK_LIMIT = {"en": 180, "fr": 180, "it": 70, "es": 70}
MAX_WORDS = 16

STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "a",
            "an",
            "the",
            "and",
            "or",
            "but",
            "to",
            "of",
            "in",
            "on",
            "at",
            "for",
            "with",
            "by",
            "from",
            "is",
            "are",
            "was",
            "were",
            "be",
            "been",
            "it",
            "its",
            "this",
            "that",
            "these",
            "those",
            "i",
            "you",
            "he",
            "she",
            "we",
            "they",
            "me",
            "my",
            "your",
            "his",
            "her",
            "our",
            "their",
            "not",
            "no",
            "yes",
            "please",
            "do",
            "does",
            "did",
            "have",
            "has",
            "had",
            "will",
            "would",
            "can",
            "could",
            "there",
            "here",
            "what",
            "which",
            "who",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "un",
            "une",
            "des",
            "du",
            "de",
            "d",
            "l",
            "et",
            "ou",
            "à",
            "au",
            "aux",
            "en",
            "dans",
            "sur",
            "pour",
            "par",
            "avec",
            "est",
            "sont",
            "été",
            "être",
            "il",
            "elle",
            "ils",
            "elles",
            "je",
            "j",
            "vous",
            "nous",
            "tu",
            "ce",
            "cet",
            "cette",
            "ces",
            "ne",
            "n",
            "pas",
            "plus",
            "que",
            "qu",
            "qui",
            "se",
            "s",
            "votre",
            "vos",
            "son",
            "sa",
            "ses",
            "mon",
            "ma",
            "mes",
            "y",
            "a",
        ]
    ),
}


@dataclass(frozen=True)
class Clip:
    id: str
    source: str
    language: str
    speaker: str
    text: str
    path: str
    split: str  # fit | heldout | outside


@dataclass(frozen=True)
class Case:
    id: str
    clip: str
    source: str
    kind: str  # correct | near_miss | another_sentence | wrong_language | no_speech
    expected: str  # an Outcome value
    target: str
    answers: tuple[str, ...]
    others: tuple[str, ...]
    split: str
    spoken: str  # what the clip says


def stable_hash(*parts: str) -> float:
    """0..1, the same on every machine and run."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF


# --- sources -------------------------------------------------------------------------------


def speechocean_clips(root: Path, split: str) -> list[Clip]:
    """speechocean762's `split` (train: fit/heldout by speaker; test: outside)."""
    folder = root / split
    if not (folder / "text").exists():
        raise SystemExit(f"speechocean762 not found under {root}: clone jimbozhang/speechocean762")
    texts = dict(line.split(maxsplit=1) for line in (folder / "text").read_text().splitlines())
    speakers = dict(line.split() for line in (folder / "utt2spk").read_text().splitlines())
    wavs = dict(line.split() for line in (folder / "wav.scp").read_text().splitlines())
    by_speaker: dict[str, list[str]] = {}
    for utt in sorted(texts):
        words = texts[utt].split()
        if all(word.lower() in NUMBER_WORDS for word in words):
            continue  # digit strings: a game's answer is written, not spelled out
        by_speaker.setdefault(speakers[utt], []).append(utt)
    clips = []
    for speaker, utts in sorted(by_speaker.items()):
        rng = random.Random(f"speechocean/{speaker}")
        chosen = rng.sample(utts, min(PER_SPEAKER[split], len(utts)))
        part = "outside" if split == "test" else _fit_or_heldout("speechocean", speaker)
        for utt in sorted(chosen):
            clips.append(
                Clip(
                    id=f"so-{utt}",
                    source="speechocean" if split == "train" else "speechocean-test",
                    language="en",
                    speaker=speaker,
                    text=_sentence_case(texts[utt]),
                    path=str(root / wavs[utt]),
                    split=part,
                )
            )
    return clips


NUMBER_WORDS = frozenset(
    [
        "zero",
        "oh",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
    ]
)


def _sentence_case(text: str) -> str:
    """ "WE CALL IT BEAR" → "We call it bear" (the pronoun I stays capital)."""
    words = [("I" if w == "I" else w.lower()) for w in text.split()]
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def _fit_or_heldout(source: str, key: str) -> str:
    return "heldout" if stable_hash(source, key) < HELDOUT_SHARE else "fit"


def fetch_asterisk(language: str, root: Path = ASTERISK) -> Path:
    """The package's sounds and script unpacked under `root/<language>` (once)."""
    target = root / language
    if (target / ".done").exists():
        return target
    debs = root / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    packages = [f"asterisk-core-sounds-{language}-g722", f"asterisk-core-sounds-{language}"]
    subprocess.run(["apt-get", "download", *packages], cwd=debs, check=True)
    target.mkdir(parents=True, exist_ok=True)
    for deb in sorted(debs.glob(f"asterisk-core-sounds-{language}*_all.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
    (target / ".done").write_text("")
    return target


def asterisk_clips(language: str) -> list[Clip]:
    """One package's prompts with their script line (2–16 words, no bracketed sound)."""
    root = fetch_asterisk(language)
    script = next(root.rglob(f"core-sounds-{language}.txt.gz"))
    sounds = {p.relative_to(p.parents[0]).stem: p for p in root.rglob("*.g722")}
    sounds.update(
        {f"{p.parent.name}/{p.stem}": p for p in root.rglob("*.g722") if p.parent.name != ""}
    )
    voice = next(p.name for p in (root / "usr/share/asterisk/sounds").iterdir())
    clips = []
    with gzip.open(script, "rt", encoding="utf-8-sig") as lines:
        script_lines = list(lines)
    for line in script_lines:
        name, sep, text = line.partition(":")
        text = " ".join(text.split())
        if not sep or line.startswith(";") or "[" in text or "/" in name or not text:
            continue
        words = re.findall(r"\w+", text)
        if not 2 <= len(words) <= MAX_WORDS or any(ch.isdigit() for ch in text):
            continue
        path = sounds.get(name.strip())
        if path is None:
            continue
        part = "outside" if language in ("it", "es") else _fit_or_heldout(voice, name)
        clips.append(
            Clip(
                id=f"ast-{language}-{name.strip()}",
                source=f"asterisk-{language}",
                language=language,
                speaker=voice,
                text=text,
                path=str(path),
                split=part,
            )
        )
    rng = random.Random(f"asterisk/{language}")
    return sorted(rng.sample(clips, min(ASTERISK_LIMIT[language], len(clips))), key=lambda c: c.id)


NOISES = ("silence", "hiss", "hum", "rumble", "pink", "clicks")


def noise_clips(count: int = 40) -> list[Clip]:
    """No speech: digital silence, hiss, mains hum, rumble, pink noise, keyboard-like clicks."""
    folder = ROOT / "noise"
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for number in range(count):
        kind = NOISES[number % len(NOISES)]
        path = folder / f"{number:02d}-{kind}.wav"
        if not path.exists():
            _write_wav(path, _noise(kind, np.random.default_rng(number), 1.5 + number % 4 * 0.7))
        clips.append(
            Clip(
                id=f"noise-{number:02d}-{kind}",
                source="noise",
                language="",
                speaker=f"noise-{number}",
                text="",
                path=str(path),
                split="heldout" if number % 2 else "fit",
            )
        )
    return clips


def _noise(kind: str, rng: np.random.Generator, seconds: float) -> np.ndarray:
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    level = 10 ** (rng.uniform(-45, -25) / 20)
    if kind == "silence":
        return np.zeros(n, dtype=np.float32)
    if kind == "hum":
        hum = np.zeros(n)
        for harmonic in (1, 2, 3):
            hum += np.sin(2 * np.pi * 50 * harmonic * t) / harmonic
        return (level * hum).astype(np.float32)
    white = rng.standard_normal(n)
    if kind == "hiss":
        return (level * white).astype(np.float32)
    if kind == "clicks":
        clicks = np.zeros(n)
        clicks[rng.integers(0, n, size=int(seconds * 6))] = 1.0
        return (level * 8 * np.convolve(clicks, np.hanning(64), mode="same")).astype(np.float32)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    freqs[0] = freqs[1]
    shaped = spectrum / (freqs if kind == "rumble" else np.sqrt(freqs))
    wave = np.fft.irfft(shaped, n)
    return (level * wave / (np.abs(wave).max() or 1.0)).astype(np.float32)


def _write_wav(path: Path, samples: np.ndarray) -> None:
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def read_audio(path: str) -> np.ndarray:
    """Any file PyAV decodes (WAV, G.722), as 16 kHz mono float32."""
    import av

    with av.open(path) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        chunks = [
            frame.to_ndarray().reshape(-1)
            for decoded in container.decode(audio=0)
            for frame in resampler.resample(decoded)
        ]
        chunks += [frame.to_ndarray().reshape(-1) for frame in resampler.resample(None)]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


# --- cases ---------------------------------------------------------------------------------


ITALIAN_ANSWERS = (
    "Vorrei un caffè, per favore",
    "Un cornetto, per favore",
    "Il conto, per favore",
    "Un biglietto per Roma, per favore",
    "Dov'è la stazione?",
    "Grazie mille",
    "Vorrei una pizza margherita",
    "Quanto costa?",
)
"""No demo scenario is in Italian yet: a turn's answers as a designer would write them."""


def demo_answers() -> dict[str, list[str]]:
    """Accepted answers of the demo scenarios, by language (the wrong-language targets)."""
    import yaml

    answers: dict[str, list[str]] = {"it": list(ITALIAN_ANSWERS)}
    for path in sorted((REPO / "scenarios" / "demo").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for turn in data.get("turns", []):
            answers.setdefault(data["language"], []).extend(turn.get("answers", []))
    return answers


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def near_miss(text: str, pool: Sequence[str], rng: random.Random, language: str) -> str | None:
    """`text` with one content word replaced by another word of the language (not a look-
    or sound-alike: different first letters or lengths), or None if it has no content word."""
    from rapidfuzz import fuzz

    tokens = re.findall(r"\w+|\W+", text)
    stop = STOPWORDS.get(language, frozenset())
    content = [
        i
        for i, tok in enumerate(tokens)
        if re.match(r"\w", tok) and len(tok) >= 3 and _plain(tok) not in stop
    ]
    if not content:
        return None
    index = rng.choice(content)
    word = tokens[index]
    choices = [
        w
        for w in pool
        if _plain(w) != _plain(word)
        and abs(len(w) - len(word)) <= 3
        and fuzz.ratio(_plain(w), _plain(word)) < 50
        and _plain(w) not in stop
    ]
    if not choices:
        return None
    replacement = rng.choice(sorted(choices))
    if word[:1].isupper():
        replacement = replacement[:1].upper() + replacement[1:]
    tokens[index] = replacement
    return "".join(tokens)


def build_cases(clips: Sequence[Clip]) -> list[Case]:
    """Every case of every clip (module docstring), deterministic per clip id."""
    from rapidfuzz import fuzz

    by_language: dict[str, list[Clip]] = {}
    for clip in clips:
        if clip.language:
            by_language.setdefault(clip.language, []).append(clip)
    words = {
        lang: sorted({w for c in group for w in re.findall(r"[^\W\d_]{3,}", c.text)})
        for lang, group in by_language.items()
    }
    foreign = demo_answers()
    cases: list[Case] = []
    for number, clip in enumerate(clips):
        rng = random.Random(clip.id)
        if not clip.language:
            target = LANGUAGES[number % len(LANGUAGES)]
            answers = tuple(rng.sample(foreign[target], 2))
            others = tuple(lang for lang in LANGUAGES if lang != target)[: 1 + number % 2]
            cases.append(_case(clip, "no_speech", "no_speech", target, answers, others))
            continue
        L = clip.language
        others_default = ("en",) if L != "en" else ("fr",)
        cases.append(_case(clip, "correct", "correct", L, (clip.text,), others_default))
        missed = near_miss(clip.text, words[L], rng, L)
        if missed:
            cases.append(_case(clip, "near_miss", "incorrect_answer", L, (missed,), others_default))
        # another speaker's sentence where the source has several speakers
        strangers = [
            c
            for c in by_language[L]
            if c.id != clip.id
            and (c.speaker != clip.speaker or c.source.startswith("asterisk"))
            and fuzz.token_set_ratio(c.text, clip.text) < 50
        ]
        if strangers:
            other = rng.choice(strangers).text
            cases.append(
                _case(clip, "another_sentence", "incorrect_answer", L, (other,), others_default)
            )
        targets = [lang for lang in LANGUAGES if lang != L]
        target = targets[number % len(targets)]
        answers = tuple(rng.sample(foreign[target], 2))
        # the learner speaks L (and sometimes one more language besides)
        extra = [lang for lang in LANGUAGES if lang not in (L, target)]
        learner = (L,) if number % 3 else (L, rng.choice(extra))
        cases.append(_case(clip, "wrong_language", "wrong_language", target, answers, learner))
    return cases


def _case(
    clip: Clip,
    kind: str,
    expected: str,
    target: str,
    answers: tuple[str, ...],
    others: tuple[str, ...],
) -> Case:
    return Case(
        id=f"{clip.id}/{kind}",
        clip=clip.id,
        source=clip.source,
        kind=kind,
        expected=expected,
        target=target,
        answers=answers,
        others=others,
        split=clip.split,
        spoken=clip.text,
    )


GARBLED_EVERY = 3


def garbled_set(clips: Sequence[Clip]) -> tuple[list[Clip], list[Case]]:
    """Every GARBLED_EVERY-th real recording played backwards, with its own text as the
    answer: speech-like sounds no one can make out, where the only fair verdict is
    `unclear` (no heart lost on doubt, no points either)."""
    folder = ROOT / "garbled"
    folder.mkdir(parents=True, exist_ok=True)
    out_clips, out_cases = [], []
    speech = [clip for clip in clips if clip.language and clip.source != "synthetic"]
    for clip in speech[::GARBLED_EVERY]:
        path = folder / f"{clip.id}.wav"
        if not path.exists():
            _write_wav(path, read_audio(clip.path)[::-1].copy())
        garbled = Clip(
            id=f"garbled-{clip.id}",
            source=f"garbled-{clip.source}",
            language=clip.language,
            speaker=clip.speaker,
            text=clip.text,
            path=str(path),
            split=clip.split,
        )
        out_clips.append(garbled)
        others = ("en",) if clip.language != "en" else ("fr",)
        out_cases.append(_case(garbled, "garbled", "unclear", clip.language, (clip.text,), others))
    return out_clips, out_cases


def asterisk_script(language: str) -> dict[str, str]:
    """A package's script: prompt name → text."""
    root = fetch_asterisk(language)
    script = next(root.rglob(f"core-sounds-{language}.txt.gz"))
    with gzip.open(script, "rt", encoding="utf-8-sig") as lines:
        return {
            name.strip(): " ".join(text.split())
            for name, sep, text in (line.partition(":") for line in lines)
            if sep and not name.startswith(";")
        }


def translated_set(clips: Sequence[Clip]) -> list[Case]:
    """The Asterisk packages are parallel: the same prompt, recorded in each language. So a
    recording in L, judged in a scenario of M whose accepted answer is that prompt's M
    text, is the hardest wrong-language answer: the learner said the right thing in their own
    language, and a decoder forced to M translates it into the accepted answer."""
    scripts = {lang: asterisk_script(lang) for lang in ("en", "fr")}
    cases = []
    for clip in clips:
        if not clip.source.startswith("asterisk-"):
            continue
        name = clip.id.split("-", 2)[2]
        target = "fr" if clip.language == "en" else "en"
        text = scripts[target].get(name, "")
        if text and "[" not in text and "<" not in text:
            cases.append(
                _case(clip, "translated", "wrong_language", target, (text,), (clip.language,))
            )
    return cases


SYNTHETIC = REPO / "var" / "bench" / "realistic"


def synthetic_set(folder: Path = SYNTHETIC) -> tuple[list[Clip], list[Case]]:
    """The realistic synthetic set (`python -m bench.realistic build`), as a second opinion:
    its clips and one case each (split `synthetic`; never fitted on)."""
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return [], []
    clips, cases = [], []
    for item in json.loads(manifest.read_text()):
        clip = Clip(
            id=f"syn-{item['id']}",
            source="synthetic",
            language=item.get("spoken_language") or "",
            speaker=item.get("voice") or "none",
            text=item.get("text") or "",
            path=str(folder / item["wav"]),
            split="synthetic",
        )
        target = item["target"]
        spoken = item.get("spoken_language")
        others = (
            (spoken,) if spoken and spoken != target else (("en",) if target != "en" else ("fr",))
        )
        clips.append(clip)
        cases.append(
            _case(clip, item["kind"], item["expected"], target, tuple(item["answers"]), others)
        )
    return clips, cases


def all_clips(speechocean: Path) -> list[Clip]:
    clips = speechocean_clips(speechocean, "train") + speechocean_clips(speechocean, "test")
    for language in ASTERISK_LANGUAGES:
        clips += asterisk_clips(language)
    return clips + noise_clips()


# --- the evidence pass ---------------------------------------------------------------------


Job = tuple[str, str]
"""(clip, target): one evidence pass."""


def job_of(case: Case) -> Job:
    return (case.clip, case.target)


def jobs_of(cases: Sequence[Case]) -> dict[Job, tuple[str, ...]]:
    """Each job → every answer its cases score."""
    jobs: dict[Job, list[str]] = {}
    for case in cases:
        jobs.setdefault(job_of(case), []).extend(case.answers)
    return {key: tuple(dict.fromkeys(answers)) for key, answers in jobs.items()}


def job_key(clip: Clip, target: str, answers: Sequence[str]) -> str:
    from interaction.asr.server.evidence import EVIDENCE_VERSION

    return hashlib.sha256(
        json.dumps([EVIDENCE_VERSION, clip.id, target, list(answers)]).encode()
    ).hexdigest()[:20]


def stored_evidence(path: Path = EVIDENCE) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            out[row["key"]] = row["payload"]
    return out


def run_evidence(clips: Sequence[Clip], cases: Sequence[Case], limit: int | None) -> None:
    """Run the pass for every job not stored yet (fit first), appending to EVIDENCE."""
    from faster_whisper import WhisperModel

    from interaction.asr.server.evidence import answer_evidence
    from interaction.asr.server.model_files import ensure_model

    by_id = {clip.id: clip for clip in clips}
    done = stored_evidence()
    order = {"fit": 0, "heldout": 1, "outside": 2, "synthetic": 3}
    todo = [
        (by_id[clip], target, answers)
        for (clip, target), answers in jobs_of(cases).items()
        if job_key(by_id[clip], target, answers) not in done
    ]
    todo.sort(key=lambda job: (order[job[0].split], stable_hash(job[0].id, job[1])))
    todo = todo[:limit] if limit else todo
    print(f"{len(done)} stored, {len(todo)} to run", flush=True)
    model = WhisperModel(
        str(ensure_model("base")),
        device="cpu",
        compute_type="int8",
        cpu_threads=2,
        local_files_only=True,
    )
    started = time.perf_counter()
    with EVIDENCE.open("a") as out:
        for number, (clip, target, answers) in enumerate(todo, start=1):
            payload = answer_evidence(
                model,
                read_audio(clip.path),
                target_language=target,
                other_languages=[lang for lang in LANGUAGES if lang != target],
                accepted_answers=answers,
                word_timings=False,
            )
            row = {"key": job_key(clip, target, answers), "payload": payload}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            if number % 50 == 0:
                rate = (time.perf_counter() - started) / number
                print(f"{number}/{len(todo)} {rate:.2f} s each", flush=True)


def case_payload(payload: Mapping[str, Any], case: Case) -> dict[str, Any]:
    """The pass's payload as the product would have computed it for `case` alone: its
    answers only, language ID restricted to its target and learner's languages."""
    from interaction.asr.server.evidence import restricted_probabilities

    out = dict(payload)
    keep = (case.target, *case.others)
    probabilities = payload.get("language_probabilities") or {}
    out["language_probabilities"] = (
        restricted_probabilities(dict(probabilities), keep) if probabilities else {}
    )
    out["other_languages"] = list(case.others)
    out["other_transcripts"] = {
        lang: item
        for lang, item in (payload.get("other_transcripts") or {}).items()
        if lang in case.others
    }
    out["answers"] = [a for a in payload.get("answers") or () if a["answer"] in case.answers]
    out["answer_words"] = []
    return out


SCRIPT_CHECK_RATIO = 60.0
"""A package's script line and what its voice talent said must loosely agree (rapidfuzz
token-set ratio of the free transcript to the script, 0..100): below it the script line is
not what was recorded ("Please hold while we try to connect you." over a recording of "Please
hold while I try to locate the person you're calling"), a label error, not a voice's."""


def script_mismatches(
    clips: Sequence[Clip], cases: Sequence[Case], stored: Mapping[str, dict[str, Any]]
) -> set[str]:
    """Clips of the one-voice packages whose script line the recording does not follow."""
    from rapidfuzz import fuzz

    from interaction.judging import normalise

    by_id = {clip.id: clip for clip in clips}
    jobs = jobs_of(cases)
    out = set()
    for case in cases:
        clip = by_id[case.clip]
        if case.kind != "correct" or not clip.source.startswith("asterisk"):
            continue
        if "<" in clip.text:  # "<beep ascending>": a sound, not a sentence
            out.add(clip.id)
            continue
        payload = stored.get(job_key(clip, case.target, jobs[job_of(case)]))
        if payload is None:
            continue
        heard = normalise(payload.get("transcript", ""), language=clip.language)
        script = normalise(clip.text, language=clip.language)
        if fuzz.token_set_ratio(heard, script) < SCRIPT_CHECK_RATIO:
            out.add(clip.id)
    return out


def case_payloads(
    clips: Sequence[Clip], cases: Sequence[Case]
) -> Iterator[tuple[Case, dict[str, Any]]]:
    """Each case with its restricted payload (cases whose pass has not run are skipped)."""
    by_id = {clip.id: clip for clip in clips}
    jobs = jobs_of(cases)
    done = stored_evidence()
    mismatched = script_mismatches(clips, cases, done)
    for case in cases:
        if case.clip in mismatched:
            continue
        key = job_key(by_id[case.clip], case.target, jobs[job_of(case)])
        if key in done:
            yield case, case_payload(done[key], case)


def load(speechocean: Path) -> tuple[list[Clip], list[Case]]:
    clips = all_clips(speechocean)
    cases = build_cases(clips)
    garbled_clips, garbled_cases = garbled_set(clips)
    translated_cases = translated_set(clips)
    synthetic_clips, synthetic_cases = synthetic_set()
    clips += garbled_clips + synthetic_clips
    cases += garbled_cases + translated_cases + synthetic_cases
    CASES.parent.mkdir(parents=True, exist_ok=True)
    CASES.write_text(
        json.dumps([asdict(case) for case in cases], ensure_ascii=False, indent=0) + "\n"
    )
    return clips, cases


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("cases", "evidence", "fit", "report", "ablation"))
    parser.add_argument("--speechocean", type=Path, default=SPEECHOCEAN)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(list(argv) if argv is not None else None)
    sys.path.insert(0, str(REPO))
    clips, cases = load(args.speechocean)
    if args.command == "cases":
        counts: dict[tuple[str, str, str], int] = {}
        for case in cases:
            key = (case.split, case.source, case.kind)
            counts[key] = counts.get(key, 0) + 1
        for key, count in sorted(counts.items()):
            print(*key, count)
        print(len(clips), "clips", len(cases), "cases", len(jobs_of(cases)), "passes")
    elif args.command == "evidence":
        run_evidence(clips, cases, args.limit)
    else:
        from bench import realvoice_fit

        getattr(realvoice_fit, args.command)(clips, cases)


if __name__ == "__main__":
    main()
