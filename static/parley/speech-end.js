// Where a spoken answer ends, from the loudness of 100 ms chunks: after at least `minSpeechMs`
// of voice, `silenceMs` of quiet. The same rule (and RMS threshold) as the server's stream.

export const VOICE_RMS = 0.01;

export class SpeechEndDetector {
  constructor({ chunkMs = 100, minSpeechMs = 300, silenceMs = 1200 } = {}) {
    Object.assign(this, { chunkMs, minSpeechMs, silenceMs });
    this.reset();
  }

  reset() {
    this.voicedMs = 0;
    this.quietMs = 0;
  }

  get heardSpeech() {
    return this.voicedMs >= this.minSpeechMs;
  }

  // True once the answer has ended.
  push(rms) {
    if (rms >= VOICE_RMS) {
      this.voicedMs += this.chunkMs;
      this.quietMs = 0;
    } else {
      this.quietMs += this.chunkMs;
    }
    return this.heardSpeech && this.quietMs >= this.silenceMs;
  }
}

// Root mean square (0..1) of pcm_s16le samples.
export function rmsOf(pcm) {
  const samples = new Int16Array(pcm);
  let squares = 0;
  for (const sample of samples) squares += (sample / 0x8000) ** 2;
  return samples.length ? Math.sqrt(squares / samples.length) : 0;
}
