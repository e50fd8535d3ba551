"""Turning what learners upload or stream into 16 kHz mono float32, the only thing ASR takes.

Uploads (time-stop answers) are decoded with PyAV — WAV, WebM/Opus, Ogg/Opus, MP3 — and
resampled with PyAV's `AudioResampler`, whatever the source rate and channel count: browsers
capture at 44.1 or 48 kHz in stereo, so a hard-coded factor would be wrong somewhere.

Every refusal is an `AudioError` carrying the HTTP status the API answers with and a reason a
person can act on. Decoding is CPU work: call these functions from a worker thread
(`sync_to_async`), never on the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import av.error
import numpy as np

from .types import SAMPLE_RATE

SUPPORTED_DESCRIPTION = "WAV, WebM/Opus, Ogg/Opus or MP3"

# container kind -> (FFmpeg demuxer name, human name, codecs accepted in it)
_CONTAINERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "wav": ("wav", "WAV", ("pcm_",)),
    "webm": ("matroska", "WebM", ("opus", "vorbis")),
    "ogg": ("ogg", "Ogg", ("opus", "vorbis")),
    "mp3": ("mp3", "MP3", ("mp3",)),
}
_CONTENT_TYPES = {
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "application/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
_EXTENSIONS = {
    ".wav": "wav",
    ".wave": "wav",
    ".webm": "webm",
    ".ogg": "ogg",
    ".oga": "ogg",
    ".opus": "ogg",
    ".mp3": "mp3",
}
# Content types that say nothing about the format.
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}


class AudioError(ValueError):
    """An upload the API refuses; `http_status` and `reason` go into the response."""

    http_status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedAudio(AudioError):
    """Not an audio format Parley accepts (415)."""

    http_status = 415


class AudioTooLarge(AudioError):
    """More bytes than ASR_MAX_UPLOAD_BYTES (413)."""

    http_status = 413


class AudioTooLong(AudioError):
    """More audio than ASR_MAX_CLIP_SECONDS (413)."""

    http_status = 413


class UndecodableAudio(AudioError):
    """Claims to be a supported format but cannot be decoded, or holds no audio (400)."""

    http_status = 400


def decode_upload(
    data: bytes,
    *,
    content_type: str | None,
    filename: str | None,
    max_bytes: int,
    max_seconds: float,
) -> np.ndarray:
    """Decode an uploaded clip to float32 samples in [-1, 1], 16 kHz mono.

    The bytes decide the format when they carry a recognisable signature; the declared
    content type and file name are only used when they do not (browsers mislabel often).
    """
    if len(data) > max_bytes:
        raise AudioTooLarge(
            f"The audio file is {len(data):,} bytes; the limit is {max_bytes:,} bytes."
        )
    if not data:
        raise UndecodableAudio("The audio file is empty.")
    kind = _sniff(data)
    if kind is None:
        kind = _declared_kind(content_type, filename)
    demuxer, human, codecs = _CONTAINERS[kind]
    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
            if not container.streams.audio:
                raise UndecodableAudio(f"The {human} file has no audio track.")
            stream = container.streams.audio[0]
            codec = stream.codec_context.name
            if not codec.startswith(codecs):
                raise UnsupportedAudio(
                    f"{human} with {codec} audio is not supported; send {SUPPORTED_DESCRIPTION}."
                )
            if container.duration is not None and container.duration / 1e6 > max_seconds + 0.5:
                raise _too_long(container.duration / 1e6, max_seconds)
            samples = _decode_stream(container, stream, max_seconds)
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, EOFError, OSError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        raise UndecodableAudio(f"The file is not a valid {human} file: {detail}.") from exc
    if samples.size == 0:
        raise UndecodableAudio(f"The {human} file contains no audio samples.")
    return samples


def pcm_s16le_to_float32(data: bytes, sample_rate: int) -> np.ndarray:
    """Convert one whole buffer of 16-bit little-endian mono PCM to 16 kHz float32."""
    resampler = PcmResampler(sample_rate)
    head = resampler.push(data)
    return np.concatenate([head, resampler.flush()])


class PcmResampler:
    """Streaming s16le mono PCM at any rate → 16 kHz float32, chunk by chunk.

    Keeps the resampler's state between chunks (a new resampler per 100 ms chunk would click
    at every boundary); call `flush` once at the end of the utterance. PCM that is already
    16 kHz (what the streaming client sends) only changes type: no PyAV resampler, no frame
    objects (every 100 ms frame of every stream would otherwise go through both, on the event
    loop).
    """

    def __init__(self, sample_rate: int) -> None:
        if not 8_000 <= sample_rate <= 192_000:
            raise UnsupportedAudio(f"A sample rate of {sample_rate} Hz is not supported.")
        self.sample_rate = sample_rate
        self._resampler = (
            None
            if sample_rate == SAMPLE_RATE
            else av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        )

    def push(self, data: bytes) -> np.ndarray:
        if len(data) % 2:
            raise UndecodableAudio("16-bit PCM needs an even number of bytes.")
        if not data:
            return np.zeros(0, dtype=np.float32)
        pcm = np.frombuffer(data, dtype="<i2")
        if self._resampler is None:
            return pcm.astype(np.float32) / _S16_FULL_SCALE
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        return _frames_to_array(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return _frames_to_array(self._resampler.resample(None))


_S16_FULL_SCALE = np.float32(32768.0)
"""s16 → float as FFmpeg converts it (x / 2**15), so both paths give the same samples."""


def _decode_stream(container: av.container.InputContainer, stream, max_seconds: float):
    # Resample in the source's own layout (planar), then average the channels: FFmpeg's
    # stereo-to-mono downmix adds channels at -3 dB each, which clips loud recordings.
    resampler = av.AudioResampler(format="fltp", rate=SAMPLE_RATE)
    limit = int((max_seconds + 0.05) * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    for frame in container.decode(stream):
        frame.pts = None  # let the resampler count samples; container timestamps may jump
        for out in resampler.resample(frame):
            chunk = out.to_ndarray().mean(axis=0)
            chunks.append(chunk)
            total += chunk.size
        if total > limit:
            raise _too_long(total / SAMPLE_RATE, max_seconds)
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().mean(axis=0))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if samples.size > limit:
        raise _too_long(samples.size / SAMPLE_RATE, max_seconds)
    return np.clip(samples, -1.0, 1.0)


def _frames_to_array(frames: list[av.AudioFrame]) -> np.ndarray:
    if not frames:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)


def _too_long(seconds: float, max_seconds: float) -> AudioTooLong:
    return AudioTooLong(f"The clip lasts {seconds:.1f} s; the limit is {max_seconds:g} s.")


@dataclass(frozen=True)
class _Signature:
    offset: int
    magic: bytes
    kind: str | None  # None: a format we recognise but do not accept
    name: str


_SIGNATURES = (
    _Signature(0, b"fLaC", None, "FLAC"),
    _Signature(4, b"ftyp", None, "MP4/M4A"),
    _Signature(0, b"FORM", None, "AIFF"),
    _Signature(0, b"#!AMR", None, "AMR"),
    _Signature(0, b"OggS", "ogg", "Ogg"),
    _Signature(0, b"\x1a\x45\xdf\xa3", "webm", "WebM"),
    _Signature(0, b"ID3", "mp3", "MP3"),
)


def _sniff(data: bytes) -> str | None:
    """The container kind the bytes announce, None when they announce nothing we know."""
    if data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return "wav"
    for sig in _SIGNATURES:
        if data[sig.offset : sig.offset + len(sig.magic)] == sig.magic:
            if sig.kind is None:
                raise UnsupportedAudio(
                    f"{sig.name} audio is not supported; send {SUPPORTED_DESCRIPTION}."
                )
            return sig.kind
    # A bare MPEG audio frame: 11 sync bits, then a layer that is not 00 (00 is AAC's ADTS).
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06:
        return "mp3"
    return None


def _declared_kind(content_type: str | None, filename: str | None) -> str:
    """The kind the client declared; refuses (415) when it declared nothing we accept."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime in _CONTENT_TYPES:
        return _CONTENT_TYPES[mime]
    suffix = ""
    if filename and "." in filename:
        suffix = "." + filename.rsplit(".", 1)[1].lower()
    if mime in _GENERIC_TYPES and suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    described = mime or (f"a {suffix} file" if suffix else "an unknown type")
    raise UnsupportedAudio(
        f"The upload ({described}) is not a supported audio format; send {SUPPORTED_DESCRIPTION}."
    )
