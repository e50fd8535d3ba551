// The microphone: 16 kHz mono PCM chunks from an AudioWorklet, or MediaRecorder webm/opus
// where AudioWorklet is missing.
//
// Order matters (docs/webapp.md): build the AudioContext and load the worklet first
// (`prepare`, inside the click that starts the game), then open the device and connect it at
// once (`open`), or the first words are lost.

export const SAMPLE_RATE = 16000;
export const CHUNK_MS = 100;
const WEBM_TYPE = "audio/webm;codecs=opus";

export class Microphone {
  constructor({ workletUrl }) {
    this.workletUrl = workletUrl;
    this.context = null;
    this.stream = null;
    this.kind = null; // "pcm" (AudioWorklet) or "webm" (MediaRecorder)
    this.onChunk = () => {}; // ({pcm: ArrayBuffer, peak, rms}) in "pcm" mode
    this.stats = { kind: null, chunks: 0, peak: 0, maxRms: 0, contextRate: null, channels: null };
  }

  get encoding() {
    return this.kind === "pcm" ? "pcm_s16le" : "webm_opus";
  }

  get isOpen() {
    return this.stream !== null;
  }

  async prepare() {
    if (this.kind) return;
    const AudioContextClass = window.AudioContext || window.webkitAudioContext;
    if (AudioContextClass) this.context = new AudioContextClass();
    if (this.context?.audioWorklet) {
      await this.context.audioWorklet.addModule(this.workletUrl);
      this.kind = "pcm";
    } else if (window.MediaRecorder && MediaRecorder.isTypeSupported(WEBM_TYPE)) {
      this.kind = "webm";
    } else {
      throw new Error("This browser can record neither PCM (AudioWorklet) nor webm/opus.");
    }
    if (this.context && this.context.state === "suspended") await this.context.resume();
    this.stats.contextRate = this.context?.sampleRate ?? null;
    this.stats.kind = this.kind;
  }

  async open() {
    if (this.stream) return;
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false },
    });
    this.stats.channels = this.stream.getAudioTracks()[0]?.getSettings().channelCount ?? null;
    if (this.kind !== "pcm") return;
    const source = this.context.createMediaStreamSource(this.stream);
    const capture = new AudioWorkletNode(this.context, "pcm-capture", {
      processorOptions: { targetRate: SAMPLE_RATE, chunkSamples: (SAMPLE_RATE * CHUNK_MS) / 1000 },
    });
    capture.port.onmessage = ({ data }) => {
      this.stats.chunks += 1;
      this.stats.peak = Math.max(this.stats.peak, data.peak);
      this.stats.maxRms = Math.max(this.stats.maxRms, data.rms);
      this.onChunk(data);
    };
    // A muted path to the destination keeps the graph pulling the worklet in every browser.
    const mute = this.context.createGain();
    mute.gain.value = 0;
    source.connect(capture).connect(mute).connect(this.context.destination);
  }

  // "webm" mode: a MediaRecorder emitting a blob about every 100 ms; stop() resolves to the
  // whole recording.
  startEncoder(onData = () => {}) {
    const recorder = new MediaRecorder(this.stream, { mimeType: WEBM_TYPE });
    const parts = [];
    recorder.ondataavailable = ({ data }) => {
      if (data.size === 0) return;
      parts.push(data);
      this.stats.chunks += 1;
      onData(data);
    };
    recorder.start(CHUNK_MS);
    return {
      stop: () =>
        new Promise((resolve) => {
          if (recorder.state === "inactive") return resolve(new Blob(parts, { type: WEBM_TYPE }));
          recorder.onstop = () => resolve(new Blob(parts, { type: WEBM_TYPE }));
          recorder.stop();
        }),
    };
  }

  close() {
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.context?.close();
    this.context = null;
    this.kind = null;
  }
}
