// AudioWorklet processor: microphone → 16 kHz mono pcm_s16le chunks of `chunkSamples`.
//
// Downmixes every channel to mono and resamples from the context's rate (`sampleRate`, a
// global of the worklet scope: 44.1 kHz in headless Chromium, 48 kHz on many machines) by
// area averaging: each output sample is the mean of the input it covers, which also acts as
// the low-pass that downsampling needs. Works for any ratio, never a hard-coded factor.
// Posts {pcm: ArrayBuffer (Int16 little-endian), peak: 0..1, rms: 0..1} per chunk.

class PcmCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate = 16000, chunkSamples = 1600 } = options.processorOptions || {};
    this.step = sampleRate / targetRate; // input samples per output sample
    this.chunkSamples = chunkSamples;
    this.chunk = new Int16Array(chunkSamples);
    this.filled = 0;
    this.sum = 0; // weighted input of the output sample being built
    this.needed = this.step; // input still needed for it
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const frames = channels[0].length;
    for (let i = 0; i < frames; i++) {
      let sample = 0;
      for (const channel of channels) sample += channel[i];
      this.take(sample / channels.length);
    }
    return true;
  }

  take(sample) {
    let left = 1; // this input sample's width, in input samples
    while (left > 0) {
      const used = Math.min(left, this.needed);
      this.sum += sample * used;
      this.needed -= used;
      left -= used;
      if (this.needed <= 1e-9) {
        this.emit(this.sum / this.step);
        this.sum = 0;
        this.needed = this.step;
      }
    }
  }

  emit(value) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.chunk[this.filled++] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
    if (this.filled < this.chunkSamples) return;
    let peak = 0;
    let squares = 0;
    for (const v of this.chunk) {
      const x = v / 0x8000;
      peak = Math.max(peak, Math.abs(x));
      squares += x * x;
    }
    const rms = Math.sqrt(squares / this.chunkSamples);
    const pcm = this.chunk.buffer;
    this.port.postMessage({ pcm, peak, rms }, [pcm]); // transferred: this.chunk is now empty
    this.chunk = new Int16Array(this.chunkSamples);
    this.filled = 0;
  }
}

registerProcessor("pcm-capture", PcmCaptureProcessor);
