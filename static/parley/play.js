// The play page: one game of one scenario, live (streaming) or time-stop, on one HUD.
//
// Live: the microphone streams over /stream/interaction and the server judges each answer
// when it ends (silence, the stop gesture, or a confident match). Time-stop: an answer is
// recorded, then POSTed to /api/sessions/<id>/attempts/. Live mode falls back to time-stop
// when the server says so (`fallback: "http"`) or the socket keeps failing.

import { Api, ApiError } from "./api.js";
import { Hud } from "./hud.js";
import { Microphone, SAMPLE_RATE } from "./microphone.js";
import { SpeechEndDetector, rmsOf } from "./speech-end.js";
import { StreamClient, streamUrl } from "./stream.js";
import { encodeWav } from "./wav.js";

const config = JSON.parse(document.getElementById("play-config").textContent);
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const scenario = config.scenario;
const MAX_ANSWER_MS = 30000;
const DEBUG_REFRESH_MS = 500;
const MODE_LABELS = { streaming: "Live", time_stop: "Time-stop" };
// An answer that changes nothing (no heart lost, the turn stays) asks for another try.
const RESET_MESSAGES = {
  no_speech: "I didn't hear anything — try again.",
  unclear: "I didn't quite catch that — try again.",
  asked: "Answer discarded — try again.",
  too_long: "That answer was too long — keep it short.",
};
const INTERACTIVE = "input, textarea, select, button, a, [contenteditable]";

function languageName(code) {
  if (code === scenario.language) return scenario.languageName;
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(code);
  } catch {
    return code;
  }
}

export function penaltyMessage(penalty) {
  const lost = penalty.lives ? ` You lose ${penalty.lives} ♥.` : "";
  if (penalty.type === "wrong_language") {
    const heard = penalty.detected_language
      ? ` That sounded like ${languageName(penalty.detected_language)}.`
      : "";
    return `Answer in ${scenario.languageName}!${heard}${lost}`;
  }
  const hint = penalty.hint ? ` Hint: ${penalty.hint}` : "";
  return `Not quite.${hint}${lost}`;
}

// One time-stop answer being recorded: PCM chunks (or a webm encoder) and where speech ends.
class AnswerTake {
  constructor(mic, seedChunks = []) {
    this.kind = mic.kind;
    this.chunks = [];
    this.detector = new SpeechEndDetector();
    this.encoder = this.kind === "webm" ? mic.startEncoder() : null;
    this.startedAt = performance.now();
    seedChunks.forEach((pcm) => this.push({ pcm, rms: rmsOf(pcm) }));
  }

  // True when the answer is over (speech then silence, or too long).
  push({ pcm, rms }) {
    this.chunks.push(pcm);
    const ended = this.detector.push(rms);
    return ended || this.chunks.length * 100 >= MAX_ANSWER_MS;
  }

  get isEmpty() {
    return this.kind === "pcm" && this.chunks.length === 0;
  }

  finish() {
    return this.encoder ? this.encoder.stop() : Promise.resolve(encodeWav(this.chunks, SAMPLE_RATE));
  }
}

class Game {
  constructor() {
    this.hud = new Hud();
    this.api = new Api({ urls: config.urls, placeholder: config.placeholder, csrfToken });
    this.mic = new Microphone({ workletUrl: config.urls.worklet });
    this.mic.onChunk = (chunk) => this.captured(chunk);
    this.mode = null; // "streaming" or "time_stop"
    this.fellBack = false;
    this.session = null;
    this.status = "new";
    this.lives = scenario.lives;
    this.turn = null;
    this.recording = false;
    this.speakingPrompt = false;
    this.busy = false; // a time-stop or typed answer is being judged
    this.stream = null;
    this.encoder = null; // live webm mode
    this.take = null; // time-stop answer in progress
    this.sessionCreated = null; // the time-stop session being created
    this.resyncing = false; // resuming on purpose after a typed answer
    this.bindControls();
    this.hud.hearts(scenario.lives, scenario.lives);
    if (new URLSearchParams(window.location.search).has("debug")) {
      setInterval(() => this.showDebug(), DEBUG_REFRESH_MS);
    }
  }

  bindControls() {
    const on = (id, type, handler) => document.getElementById(id)?.addEventListener(type, handler);
    on("start", "click", () => this.start());
    document.getElementById("start").disabled = false; // the page is ready to play
    on("record", "click", () => this.toggleRecording());
    on("hear-again", "click", () => this.hearPrompt());
    on("retry", "click", () => this.retryTurn());
    on("typed-form", "submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("typed-answer");
      if (input.value.trim()) this.answerTyped(input.value.trim()).then(() => (input.value = ""));
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== " " || event.repeat || event.target.closest?.(INTERACTIVE)) return;
      if (this.status !== "active") return;
      event.preventDefault();
      this.toggleRecording();
    });
  }

  // --- starting -----------------------------------------------------------------------
  async start() {
    document.getElementById("start").disabled = true;
    const choice = document.querySelector('input[name="mode"]:checked')?.value;
    this.mode = scenario.streaming && choice === "streaming" ? "streaming" : "time_stop";
    this.hud.setPhase("playing");
    try {
      await this.mic.prepare(); // AudioContext + worklet, before the device opens
    } catch (error) {
      this.mode = "time_stop"; // typed answers may still work
      this.hud.feedback(`Cannot record audio here: ${error.message}`, "bad");
    }
    this.hud.setMode(MODE_LABELS[this.mode]);
    if (this.mode === "streaming") {
      this.hud.feedback("Connecting…");
      this.openStream();
      if (await this.openMic()) this.setRecording(true);
    } else {
      await this.startTimeStop();
    }
  }

  async openMic() {
    if (this.mic.isOpen) return true;
    try {
      await this.mic.open();
      return true;
    } catch (error) {
      const typed = scenario.typedAnswers ? " You can still type your answers." : "";
      const reason = error.name === "NotAllowedError" ? "Microphone access was refused." : error.message;
      this.hud.feedback(`${reason}${typed}`, "bad");
      return false;
    }
  }

  openStream() {
    this.stream = new StreamClient({
      url: streamUrl(config.urls.stream),
      encoding: this.mic.encoding,
      sampleRate: SAMPLE_RATE,
      handlers: {
        onEvent: (event) => this.streamEvent(event),
        onFallback: (reason, event) => this.fallBack(reason, event),
      },
    });
    this.stream.start(scenario.slug);
  }

  async startTimeStop() {
    if (!this.session) {
      try {
        this.sessionCreated ??= this.api.createSession(scenario.slug);
        this.begin(await this.sessionCreated);
      } catch (error) {
        this.sessionCreated = null;
        this.apiFailed(error);
        return;
      }
    }
    this.hud.feedback(`Press Speak (or Space) and answer in ${scenario.languageName}.`);
  }

  // The session's first state: from `ready` or from the created session.
  begin(state) {
    this.session = state.session || state.id;
    this.status = state.status;
    this.lives = state.lives_remaining;
    this.turn = state.turn;
    this.hud.standing(state);
    this.hud.setPhase("playing");
    this.updateControls();
  }

  // --- recording ----------------------------------------------------------------------
  async toggleRecording() {
    if (this.status !== "active" || this.busy) return;
    if (this.recording) this.stopAnswer();
    else await this.startAnswer();
  }

  async startAnswer() {
    if (!(await this.openMic())) return;
    if (this.mode === "time_stop") this.take = new AnswerTake(this.mic);
    else if (this.mic.kind === "webm") this.stream.resync(); // a new connection, a new container
    this.setRecording(true);
  }

  stopAnswer() {
    this.setRecording(false);
    if (this.mode === "streaming") {
      this.stream.stopAnswer();
      this.hud.feedback("Judging your answer…");
    } else {
      this.submitTake();
    }
  }

  setRecording(on) {
    this.recording = on;
    if (this.mode === "streaming" && this.mic.kind === "webm") {
      // One webm container per connection: the encoder (re)starts when the stream is ready.
      this.encoder?.stop();
      const ready = on && this.stream.ready;
      this.encoder = ready ? this.mic.startEncoder((blob) => this.stream.sendAudio(blob)) : null;
    }
    const label = on ? "■ Stop" : "● Speak";
    this.hud.recording(on, label);
    if (on) this.hud.feedback(this.mode === "streaming" ? "Listening…" : "Recording… stop when you are done.");
    this.updateControls();
  }

  captured(chunk) {
    this.hud.micLevel(chunk.rms);
    if (!this.recording || this.speakingPrompt) return;
    if (this.mode === "streaming") {
      this.stream.sendAudio(chunk.pcm);
      return;
    }
    // A fallback that came before the microphone opened left recording on without a take.
    this.take ??= new AnswerTake(this.mic);
    if (this.take.push(chunk)) this.stopAnswer(); // the answer ended: send it
  }

  async submitTake() {
    const take = this.take;
    this.take = null;
    if (!take || take.isEmpty) return;
    this.busy = true;
    this.updateControls();
    this.hud.feedback("Judging your answer…");
    try {
      if (!this.session && this.sessionCreated) this.begin(await this.sessionCreated); // a fallback still starting
      this.judged(await this.api.answerSpoken(this.session, await take.finish()));
    } catch (error) {
      this.apiFailed(error);
    } finally {
      this.busy = false;
      this.updateControls();
    }
  }

  async answerTyped(text) {
    if (!this.session || this.busy || this.status !== "active") return;
    this.busy = true;
    this.updateControls();
    try {
      this.judged(await this.api.answerTyped(this.session, text));
      // The stream's view of the session is now stale: resume to refresh it.
      if (this.mode === "streaming" && this.status === "active") {
        this.resyncing = true;
        this.stream.resync();
      }
    } catch (error) {
      this.apiFailed(error);
    } finally {
      this.busy = false;
      this.updateControls();
    }
  }

  // --- live events --------------------------------------------------------------------
  streamEvent(event) {
    switch (event.type) {
      case "ready":
        if (this.status === "new") this.begin(event);
        else this.hud.standing(event);
        if (this.resyncing) this.resyncing = false;
        else if (event.resumed) this.hud.feedback("Reconnected — carry on.");
        else if (this.recording) this.hud.feedback("Listening…");
        if (this.recording && this.mic.kind === "webm") this.setRecording(true);
        break;
      case "partial":
        this.hud.heard(event.transcript, event.confidence);
        break;
      case "penalty":
      case "final":
        this.judged(event);
        break;
      case "reset":
        if (RESET_MESSAGES[event.reason]) this.hud.feedback(RESET_MESSAGES[event.reason]);
        this.hud.clearHeard();
        break;
      case "error":
        this.streamError(event);
        break;
      default:
        break;
    }
  }

  streamError(event) {
    if (event.code === "unauthenticated") {
      window.location.assign(`${config.urls.login}?next=${encodeURIComponent(window.location.pathname)}`);
    } else if (event.code === "superseded") {
      this.setRecording(false);
      this.hud.feedback("This game went on in another tab or window.", "bad");
    } else if (event.code === "session_finished") {
      this.stream.close();
      this.api.getSession(this.session).then((state) => this.judged(state), (e) => this.apiFailed(e));
    } else if (event.code !== "idle") {
      this.hud.feedback(event.message, event.retryable ? "info" : "bad");
    }
  }

  async fallBack(reason, event) {
    if (this.mode === "time_stop") return;
    const unjudged = this.mic.kind === "pcm" ? this.stream.takeAnswerAudio() : [];
    this.encoder?.stop();
    this.encoder = null;
    this.mode = "time_stop";
    this.fellBack = true;
    this.hud.setMode(`${MODE_LABELS.time_stop} (live mode unavailable)`);
    const why = event?.message ? `Live mode is unavailable: ${event.message}` : "Live mode keeps failing.";
    // Keep the answer being spoken: it goes on into a time-stop recording.
    if (this.recording) this.take = new AnswerTake(this.mic, unjudged);
    if (!this.session) await this.startTimeStop();
    if (this.status !== "active") return;
    this.hud.feedback(
      `${why} Switched to time-stop: your answer is sent when you finish speaking.`,
      "info",
    );
  }

  // --- judgements (both modes) --------------------------------------------------------
  judged(result) {
    this.hud.standing(result);
    this.lives = result.lives_remaining;
    this.status = result.status;
    if (result.turn) this.turn = result.turn;
    const endedAfterPenalty = result.type === "final" && result.outcome !== "correct";
    if (result.outcome === "correct") {
      const said = result.transcript ? `“${result.transcript}” ` : "";
      this.hud.feedback(`Correct! ${said}+${result.scoreDelta}`, "good");
    } else if (result.penalty && !endedAfterPenalty) {
      // A wrong-language answer was transcribed as if it were in the target language: that
      // text is invented, so it is not shown as what the learner said.
      const wrongLanguage = result.penalty.type === "wrong_language";
      this.hud.heard(wrongLanguage ? "" : result.transcript, wrongLanguage ? null : result.confidence);
      this.hud.feedback(penaltyMessage(result.penalty), "bad");
    } else if (result.outcome === "no_speech" || result.outcome === "unclear") {
      // The server's own words when it sent them (time-stop `message`), else ours.
      this.hud.feedback(result.message || RESET_MESSAGES[result.outcome]);
    }
    this.updateControls();
    if (this.status !== "active" && this.status !== undefined) this.finish(result);
  }

  finish(result) {
    this.recording = false;
    this.take = null;
    this.stream?.close();
    this.mic.close();
    window.speechSynthesis?.cancel();
    this.hud.ended({
      completed: result.status === "completed",
      score: result.score,
      reviewUrl: config.urls.review.replace(config.placeholder, this.session),
    });
  }

  apiFailed(error) {
    if (error instanceof ApiError && error.status === 401) {
      window.location.assign(`${config.urls.login}?next=${encodeURIComponent(window.location.pathname)}`);
      return;
    }
    if (error instanceof ApiError && error.status === 409 && this.session) {
      this.api.getSession(this.session).then((state) => this.judged(state));
      return;
    }
    const typed = scenario.typedAnswers ? " You can type your answer instead." : "";
    const unavailable = error instanceof ApiError && error.status === 503;
    this.hud.feedback(
      unavailable ? `Speech recognition is unavailable right now.${typed}` : error.message,
      "bad",
    );
  }

  // --- repeat mode --------------------------------------------------------------------
  hearPrompt() {
    if (!this.turn || !window.speechSynthesis) return;
    const utterance = new SpeechSynthesisUtterance(this.turn.prompt);
    utterance.lang = scenario.language;
    // The microphone must not take the prompt for an answer.
    utterance.onstart = () => (this.speakingPrompt = true);
    utterance.onend = utterance.onerror = () => (this.speakingPrompt = false);
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(utterance);
  }

  retryTurn() {
    if (this.mode === "streaming") this.stream.resetAnswer();
    else if (this.recording) this.take = new AnswerTake(this.mic);
    if (this.mode === "time_stop") this.hud.feedback(RESET_MESSAGES.asked);
    this.hud.clearHeard();
  }

  updateControls() {
    const playing = this.status === "active" && this.lives > 0;
    const set = (id, disabled) => {
      const element = document.getElementById(id);
      if (element) element.disabled = disabled;
    };
    set("hear-again", !playing || !window.speechSynthesis);
    set("retry", !playing || this.busy);
    set("record", !playing || this.busy);
    for (const element of document.querySelectorAll("#typed-form input, #typed-form button")) {
      element.disabled = !playing || this.busy || !this.session;
    }
  }

  // --- debugging ----------------------------------------------------------------------
  stats() {
    return {
      mode: this.mode,
      fellBack: this.fellBack,
      session: this.session,
      status: this.status,
      recording: this.recording,
      stream: this.stream ? { ...this.stream.stats, lastSeq: this.stream.lastSeq } : null,
      mic: { ...this.mic.stats },
    };
  }

  showDebug() {
    const { stream, mic } = this.stats();
    this.hud.debug({
      state: stream?.state ?? this.mode ?? "–",
      rtt: stream?.rttMs != null ? `${stream.rttMs} ms` : "–",
      reconnects: stream?.reconnects ?? 0,
      resumes: stream?.resumes ?? 0,
      seq: stream?.lastSeq ?? 0,
      buffered: this.stream ? this.stream.answerAudio.length : 0,
      mic: mic.chunks
        ? `${mic.kind} ${mic.contextRate} Hz ×${mic.channels ?? "?"} · ${mic.chunks} chunks · peak ${mic.peak.toFixed(2)}`
        : "off",
    });
  }
}

const game = new Game();
// For the debug overlay and the browser tests: inspect, or lose the connection on purpose.
window.parley = {
  game,
  stats: () => game.stats(),
  dropConnection: () => game.stream?.dropConnection(),
};
