"""Decoding uploads to 16 kHz mono float32, and refusing what cannot be used."""

from __future__ import annotations

import av
import numpy as np
import pytest

from interaction.asr.audio import (
    AudioTooLarge,
    AudioTooLong,
    PcmResampler,
    UndecodableAudio,
    UnsupportedAudio,
    decode_upload,
    pcm_s16le_to_float32,
)
from tests.asr.audio_files import FORMATS, encode, tone

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_seconds": 30.0}
CONTENT_TYPES = {
    "wav": "audio/wav",
    "ogg_opus": "audio/ogg",
    "webm_opus": "audio/webm;codecs=opus",
    "mp3": "audio/mpeg",
}


def decode(data: bytes, content_type: str | None = None, filename: str | None = None, **limits):
    return decode_upload(data, content_type=content_type, filename=filename, **(LIMITS | limits))


def dominant_frequency(samples: np.ndarray, rate: int = 16_000) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize(("rate", "channels"), [(44_100, 2), (48_000, 1), (22_050, 1)])
def test_supported_formats_decode_to_16k_mono(fmt, rate, channels):
    data = encode(tone(1.5, rate=rate, channels=channels), rate=rate, fmt=fmt)

    samples = decode(data, CONTENT_TYPES[fmt], f"answer.{fmt.split('_')[0]}")

    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert abs(samples.size - 24_000) <= 800  # 1.5 s at 16 kHz, codec padding aside
    assert dominant_frequency(samples) == pytest.approx(440, abs=5)
    # channels are averaged, not summed: a 0.3 tone stays about 0.3
    assert 0.25 < float(np.abs(samples).max()) < 0.35


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_bytes_decide_over_a_wrong_label(fmt):
    data = encode(tone(0.5), rate=44_100, fmt=fmt)
    assert decode(data, "text/plain", "notes.txt").size > 0


@pytest.mark.parametrize(
    ("content_type", "filename"),
    [
        ("text/plain", "answer.txt"),
        (None, None),
        ("application/octet-stream", "a.flac"),
        ("audio/flac", None),
        ("application/pdf", "answer.pdf"),
    ],
)
def test_other_types_are_unsupported(content_type, filename):
    with pytest.raises(UnsupportedAudio) as excinfo:
        decode(b"hello, this is not audio\n" * 40, content_type, filename)
    assert excinfo.value.http_status == 415
    assert "WAV, WebM/Opus, Ogg/Opus or MP3" in excinfo.value.reason


@pytest.mark.parametrize(("magic", "name"), [(b"fLaC", "FLAC"), (b"\0\0\0\x20ftypM4A ", "MP4")])
def test_recognised_but_unsupported_containers(magic, name):
    with pytest.raises(UnsupportedAudio, match=name):
        decode(magic + bytes(200), "audio/wav")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("keep", [12, 44, 120])
def test_truncated_files_are_undecodable(fmt, keep):
    data = encode(tone(1.0), rate=44_100, fmt=fmt)
    with pytest.raises(UndecodableAudio) as excinfo:
        decode(data[:keep], CONTENT_TYPES[fmt])
    assert excinfo.value.http_status == 400
    assert excinfo.value.reason


@pytest.mark.parametrize("content_type", ["audio/wav", "audio/webm", "audio/ogg", "audio/mpeg"])
def test_garbage_labelled_as_audio_is_undecodable(content_type):
    garbage = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(UndecodableAudio, match="not a valid"):
        decode(garbage, content_type)


def test_empty_upload_is_undecodable():
    with pytest.raises(UndecodableAudio, match="empty"):
        decode(b"", "audio/wav")


def test_too_many_bytes():
    data = encode(tone(1.0), rate=44_100, fmt="wav")
    with pytest.raises(AudioTooLarge) as excinfo:
        decode(data, "audio/wav", max_bytes=len(data) - 1)
    assert excinfo.value.http_status == 413
    assert f"{len(data):,} bytes" in excinfo.value.reason


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_too_long(fmt):
    data = encode(tone(3.0, channels=1), rate=44_100, fmt=fmt)
    with pytest.raises(AudioTooLong) as excinfo:
        decode(data, CONTENT_TYPES[fmt], max_seconds=2.0)
    assert excinfo.value.http_status == 413
    assert "limit is 2 s" in excinfo.value.reason


def test_pcm_conversion_resamples_whatever_the_rate():
    rate = 44_100
    t = np.arange(rate) / rate
    pcm = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes()

    samples = pcm_s16le_to_float32(pcm, rate)

    assert samples.dtype == np.float32
    assert abs(samples.size - 16_000) <= 32
    assert dominant_frequency(samples) == pytest.approx(440, abs=2)
    assert float(np.abs(samples).max()) == pytest.approx(0.5, abs=0.02)


def test_streaming_resampler_matches_one_shot_conversion():
    rate = 48_000
    t = np.arange(rate) / rate
    pcm = (0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2").tobytes()
    chunk = rate // 10 * 2  # 100 ms of 16-bit samples
    resampler = PcmResampler(rate)
    pieces = [resampler.push(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)]
    streamed = np.concatenate([*pieces, resampler.flush()])

    np.testing.assert_allclose(streamed, pcm_s16le_to_float32(pcm, rate), atol=1e-6)


def test_odd_pcm_byte_count_is_undecodable():
    with pytest.raises(UndecodableAudio):
        pcm_s16le_to_float32(b"\x00\x01\x02", 16_000)


def test_absurd_sample_rate_is_unsupported():
    with pytest.raises(UnsupportedAudio):
        PcmResampler(1_000)


def test_16k_pcm_is_converted_without_a_resampler(monkeypatch):
    """The streaming client's own rate: each frame only changes type, sample for sample."""
    t = np.arange(16_000) / 16_000
    pcm = (0.4 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    pcm[:3] = (-32768, 32767, 0)  # the extremes convert as FFmpeg converts them
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 16_000
    pyav = av.AudioResampler(format="flt", layout="mono", rate=16_000)
    expected = np.concatenate(
        [f.to_ndarray().reshape(-1) for f in [*pyav.resample(frame), *pyav.resample(None)]]
    )

    def no_resampler(*_args, **_kwargs):
        raise AssertionError("16 kHz PCM needs no PyAV resampler")

    monkeypatch.setattr("interaction.asr.audio.av.AudioResampler", no_resampler)
    resampler = PcmResampler(16_000)
    chunk = 3_200  # 100 ms of 16-bit samples
    data = pcm.tobytes()
    pieces = [resampler.push(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    streamed = np.concatenate([*pieces, resampler.flush()])

    assert streamed.dtype == np.float32
    assert [p.size for p in pieces] == [1_600] * 10  # nothing held back between frames
    np.testing.assert_array_equal(streamed, expected)
    assert streamed[:2].tolist() == [-1.0, 32767 / 32768]
