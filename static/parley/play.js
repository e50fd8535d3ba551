// The play page: one game of one scenario, live (streaming) or time-stop, on one HUD.
//
// Live: the microphone streams over /stream/interaction and the server judges each answer
// when it ends (silence, the stop gesture, or a confident match). Time-stop: an answer is
// recorded, then POSTed to /api/sessions/<id>/attempts/. Live mode falls back to time-stop
// when the server says so (`fallback: "http"`) or the socket keeps failing, keeping the
// answer in flight; it comes back once a spoken answer is judged again (speech recognition
// is back) or, after network trouble, on a backoff. A reload resumes the session. Which
// mode the game is in, and what each change of mode asks for, is modes.js's (pure); `Game`
// feeds it inputs and carries out its commands.

import { Api, ApiError } from "./api.js";
import { tidyTranscript } from "./clarity.js";
import { Hud } from "./hud.js";
import { Microphone, SAMPLE_RATE } from "./microphone.js";
import { initialModes, modeLabel, recordsTakes, step, streams } from "./modes.js";
import { SpeechEndDetector, VOICE_RMS, rmsOf } from "./speech-end.js";
import { StreamClient, backoffDelay, streamUrl } from "./stream.js";
import { encodeWav } from "./wav.js";

const config = JSON.parse(document.getElementById("play-config").textContent);
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const scenario = config.scenario;
const MAX_ANSWER_MS = 30000;
const DEBUG_REFRESH_MS = 500;
// An answer that changes nothing (no heart lost, the turn stays) asks for another try.
const RESET_MESSAGES = {
  no_speech: "I didn't hear anything — try again.",
  unclear: "I couldn't quite make that out — no heart lost. Say it again?",
  asked: "Answer discarded — try again.",
  too_long: "That answer was too long — keep it short.",
};
// What a learner reads for each stream error: plain words, never hosts or error numbers.
const ERROR_MESSAGES = {
  asr_unavailable: "Live mode is taking a break — we'll send your answer when you finish speaking.",
  asr_busy: "Speech recognition is busy — say it again in a moment.",
  rate_limited: "You're going a little fast — wait a moment, then try again.",
  overloaded: "We're very busy right now — try again in a moment.",
  utterance_too_long: "That answer was too long — keep it short.",
  bad_audio: "We couldn't read the sound from your microphone — try again.",
};
const FALLBACK_MESSAGES = {
  asr: "Live mode is taking a break — we'll send your answer when you finish speaking.",
  network: "The connection keeps dropping, so live mode is paused — your answer is sent when you finish speaking.",
  off: "Live mode is switched off right now — your answer is sent when you finish speaking.",
};
const RETRYABLE_HTTP = new Set([429, 502, 503, 504]);
const MAX_UNJUDGED_CHUNKS = MAX_ANSWER_MS / 100; // the answer in flight, kept for time-stop
const LEAD_CHUNKS = 3; // quiet kept before the first voiced chunk of an answer
const VOICE_WAIT_MS = 1500; // how long the browser may take to list its voices
const INTERACTIVE = "input, textarea, select, button, a, [contenteditable]";
// Outcomes that count as a try at a turn (unclear and nothing-heard ones cost nothing).
const JUDGED_OUTCOMES = new Set(["correct", "wrong_language", "incorrect_answer"]);

function languageName(code) {
  if (code === scenario.language) return scenario.languageName;
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(code);
  } catch {
    return code;
  }
}

// "You lose 1 ♥ and 4 points." — what the answer cost, in one sentence.
export function costMessage({ lives = 0, points = 0 }) {
  const parts = [];
  if (lives) parts.push(`${lives} ♥`);
  if (points) parts.push(`${points} point${points === 1 ? "" : "s"}`);
  return parts.length ? ` You lose ${parts.join(" and ")}.` : "";
}

export function penaltyMessage(penalty) {
  const lost = costMessage(penalty);
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
    // Seeded with an answer already spoken (live mode's, when it stopped): it may be over.
    this.ended = seedChunks.map((pcm) => this.push({ pcm, rms: rmsOf(pcm) })).some(Boolean);
  }

  // True when the answer is over (speech then silence, or too long).
  push({ pcm, rms }) {
    this.chunks.push(pcm);
    const ended = this.detector.push(rms);
    return ended || this.chunks.length * 100 >= MAX_ANSWER_MS;
  }

  get heardSpeech() {
    return this.detector.heardSpeech;
  }

  get isEmpty() {
    return this.kind === "pcm" && this.chunks.length === 0;
  }

  finish() {
    return this.encoder ? this.encoder.stop() : Promise.resolve(encodeWav(this.chunks, SAMPLE_RATE));
  }
}

// The spoken part of an answer's chunks: from a little before the first voiced chunk to a
// little after the last (the rest is the wait before and after it).
export function spokenPart(chunks) {
  const voiced = chunks.map((pcm) => rmsOf(pcm) >= VOICE_RMS);
  const first = voiced.indexOf(true);
  if (first < 0) return [];
  const last = voiced.lastIndexOf(true);
  return chunks.slice(Math.max(0, first - LEAD_CHUNKS), last + 1 + LEAD_CHUNKS);
}

class Game {
  constructor() {
    this.hud = new Hud();
    this.api = new Api({ urls: config.urls, placeholder: config.placeholder, csrfToken });
    this.mic = new Microphone({ workletUrl: config.urls.worklet });
    this.mic.onChunk = (chunk) => this.captured(chunk);
    this.modes = initialModes({ streamingAllowed: scenario.streaming }); // modes.js
    this.session = null;
    this.status = "new";
    this.lives = scenario.lives;
    this.turn = null;
    this.recording = false;
    this.speakingPrompt = false; // the prompt or the learner's own answer is playing
    this.busy = false; // a time-stop or typed answer is being judged
    this.stream = null;
    this.lastSeq = 0; // carried from one stream connection to the next
    this.encoder = null; // live webm mode
    this.take = null; // time-stop answer in progress
    this.sessionCreated = null; // the time-stop session being created
    this.unjudged = []; // live: the chunks since the last judged event (the answer in flight)
    this.lastAnswer = []; // the learner's last answer, for "Hear my answer" (never uploaded again)
    this.pendingAnswer = null; // a spoken answer waiting for speech recognition to come back
    this.micOpening = false; // going live: the stream may be ready before the microphone
    this.heldGreeting = null; // a greeting that waits for the microphone
    this.retries = 0;
    this.retryTimer = null;
    this.liveTimer = null;
    this.revealed = null; // the accepted answer the server showed on this turn
    this.voice = undefined; // undefined: not known yet; null: none for the language
    this.bindControls();
    this.hud.hearts(scenario.lives, scenario.lives);
    this.hud.progress(0, scenario.turnCount);
    this.findVoice();
    if (config.resume) this.showResumable(config.resume);
    if (new URLSearchParams(window.location.search).has("debug")) {
      setInterval(() => this.showDebug(), DEBUG_REFRESH_MS);
    }
  }

  bindControls() {
    const on = (id, type, handler) => document.getElementById(id)?.addEventListener(type, handler);
    on("start", "click", () => this.start());
    on("continue", "click", () => this.start({ resume: config.resume }));
    document.getElementById("start").disabled = false; // the page is ready to play
    const resume = document.getElementById("continue");
    if (resume) resume.disabled = false;
    on("record", "click", () => this.toggleRecording());
    on("hear-again", "click", () => this.speakPrompt());
    on("replay-answer", "click", () => this.replayAnswer());
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

  // A reload: the HUD shows where the session stands before the learner continues it.
  showResumable(resume) {
    this.hud.standing(resume);
    const radio = document.querySelector(`input[name="mode"][value="${resume.mode}"]`);
    if (radio && !radio.disabled) radio.checked = true;
  }

  // --- starting -----------------------------------------------------------------------
  async start({ resume = null } = {}) {
    for (const id of ["start", "continue"]) {
      const button = document.getElementById(id);
      if (button) button.disabled = true;
    }
    const choice = document.querySelector('input[name="mode"]:checked')?.value;
    if (resume) {
      this.lastSeq = resume.last_seq || 0;
      this.begin(resume);
      if (resume.reveal) this.showReveal(resume.reveal);
    }
    this.hud.setPhase("playing");
    let canRecord = true;
    try {
      await this.mic.prepare(); // AudioContext + worklet, before the device opens
    } catch {
      canRecord = false; // time-stop: typed answers may still work
      this.hud.feedback("This browser cannot record audio here.", "bad");
    }
    await this.dispatch({ type: "start", live: canRecord && choice === "streaming", resume: Boolean(resume) });
  }

  // --- modes (modes.js decides; this carries out its commands) -------------------------
  async dispatch(input) {
    const before = this.modes;
    const { state, commands } = step(before, input);
    this.modes = state;
    if (state.mode !== before.mode && modeLabel(state)) this.hud.setMode(modeLabel(state));
    for (const command of commands) await this.perform(command);
  }

  async perform(command) {
    switch (command.type) {
      case "goLive":
        await this.goLive(command);
        break;
      case "startTimeStop":
        await this.startTimeStop();
        break;
      case "resumeTimeStop":
        await this.resumeTimeStop();
        break;
      case "greet":
        this.greet(command);
        break;
      case "keepAnswer":
        await this.keepAnswer(command.cause);
        break;
      case "scheduleLiveTry":
        clearTimeout(this.liveTimer);
        if (this.status === "active") this.liveTimer = setTimeout(() => this.liveDue(), command.delayMs);
        break;
      case "tryLive":
        clearTimeout(this.liveTimer);
        this.openStream(); // resumes this session; `ready` brings live mode back
        break;
      case "dropStream":
        this.stream = null;
        break;
      case "deferLive": // an answer is on its way over time-stop: let it be judged there first
        this.stream.close();
        this.stream = null;
        break;
      case "liveBack":
        this.take = null;
        if (this.mic.isOpen && this.status === "active") this.setRecording(true);
        this.hud.feedback("Live mode is back — just speak.", "good");
        break;
      case "resync":
        this.unjudged = [];
        this.stream.resync();
        break;
      default:
        throw new Error(`unknown command ${command.type}`);
    }
  }

  // The stream and the microphone open side by side. A greeting that comes before the
  // microphone is open waits for it, so "Listening…" never covers "Welcome back".
  async goLive({ resume }) {
    this.hud.feedback(resume ? "Welcome back — reconnecting…" : "Connecting…");
    this.micOpening = true;
    this.openStream();
    const open = await this.openMic();
    this.micOpening = false;
    if (open) this.setRecording(true);
    const held = this.heldGreeting;
    this.heldGreeting = null;
    if (open && held) this.greet(held);
  }

  async openMic() {
    if (this.mic.isOpen) return true;
    try {
      await this.mic.open();
      return true;
    } catch (error) {
      const typed = scenario.typedAnswers ? " You can still type your answers." : "";
      const reason =
        error.name === "NotAllowedError" ? "Microphone access was refused." : "The microphone could not be opened.";
      this.hud.feedback(`${reason}${typed}`, "bad");
      return false;
    }
  }

  // A new stream client: it starts the session, or resumes the one this page plays.
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
    if (this.session) this.stream.resume(this.session, this.lastSeq);
    else this.stream.start(scenario.slug);
  }

  async resumeTimeStop() {
    try {
      this.judged(await this.api.getSession(this.session), { quiet: true });
      this.hud.feedback(`Welcome back — press Speak and answer in ${scenario.languageName}.`);
      this.speakPrompt();
    } catch (error) {
      this.apiFailed(error);
    }
  }

  async startTimeStop() {
    if (!this.session) {
      try {
        this.sessionCreated ??= this.api.createSession(scenario.slug);
        this.begin(await this.sessionCreated);
        this.speakPrompt();
      } catch (error) {
        this.sessionCreated = null;
        this.apiFailed(error);
        return;
      }
    }
    this.hud.feedback(`Press Speak and answer in ${scenario.languageName}.`);
  }

  // The session's first state: from `ready`, the created session, or the page (a reload).
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
    if (this.status !== "active" || this.busy || this.pendingAnswer) return;
    if (this.recording) this.stopAnswer();
    else await this.startAnswer();
  }

  async startAnswer() {
    if (!(await this.openMic())) return;
    if (recordsTakes(this.modes)) this.take = new AnswerTake(this.mic);
    else if (this.mic.kind === "webm") this.stream.resync(); // a new connection, a new container
    this.setRecording(true);
  }

  stopAnswer() {
    this.setRecording(false);
    if (streams(this.modes)) {
      this.stream.stopAnswer();
      this.hud.feedback("Judging your answer…");
    } else {
      this.submitTake();
    }
  }

  setRecording(on) {
    this.recording = on;
    if (streams(this.modes) && this.mic.kind === "webm") {
      // One webm container per connection: the encoder (re)starts when the stream is ready.
      this.encoder?.stop();
      const ready = on && this.stream?.ready;
      this.encoder = ready ? this.mic.startEncoder((blob) => this.stream.sendAudio(blob)) : null;
    }
    const label = on ? "■ Stop" : "● Speak";
    this.hud.recording(on, label);
    if (on) this.hud.feedback(streams(this.modes) ? "Listening…" : "Recording… stop when you are done.");
    this.updateControls();
  }

  captured(chunk) {
    this.hud.micLevel(chunk.rms);
    if (!this.recording || this.speakingPrompt) return;
    if (streams(this.modes)) {
      this.unjudged.push(chunk.pcm);
      if (this.unjudged.length > MAX_UNJUDGED_CHUNKS) this.unjudged.shift();
      this.stream.sendAudio(chunk.pcm);
      return;
    }
    if (this.pendingAnswer) return; // one answer at a time: the kept one goes first
    // A fallback that came before the microphone opened left recording on without a take.
    this.take ??= new AnswerTake(this.mic);
    if (this.take.push(chunk)) this.stopAnswer(); // the answer ended: send it
  }

  // Live mode's answer in flight, handed to time-stop (the spoken part only).
  takeUnjudged() {
    const chunks = spokenPart(this.unjudged);
    this.unjudged = [];
    return chunks;
  }

  async submitTake() {
    const take = this.take;
    this.take = null;
    if (!take || take.isEmpty || (take.kind === "pcm" && !take.heardSpeech)) {
      if (take && recordsTakes(this.modes)) this.hud.feedback(RESET_MESSAGES.no_speech);
      return;
    }
    if (take.kind === "pcm") this.lastAnswer = spokenPart(take.chunks);
    this.updateControls();
    await this.sendSpoken(await take.finish());
  }

  // POST a spoken answer; when speech recognition (or the network) is down, keep it and try
  // again with growing delays until it is judged. A judged answer means recognition is back:
  // live mode is tried again then.
  async sendSpoken(audio) {
    this.busy = true;
    this.updateControls();
    this.hud.feedback("Judging your answer…");
    try {
      if (!this.session && this.sessionCreated) this.begin(await this.sessionCreated); // a fallback still starting
      const result = await this.api.answerSpoken(this.session, audio);
      this.clearPending();
      this.judged(result);
      this.liveDue({ judged: true });
    } catch (error) {
      const retryable =
        (error instanceof ApiError && RETRYABLE_HTTP.has(error.status)) || error instanceof TypeError;
      if (retryable && this.status === "active") {
        this.keepForLater(audio, error);
      } else {
        this.clearPending();
        this.apiFailed(error);
      }
    } finally {
      this.busy = false;
      this.updateControls();
    }
  }

  keepForLater(audio, error) {
    this.pendingAnswer = audio;
    const offline = error instanceof TypeError;
    const typed = scenario.typedAnswers ? " You can also type it." : "";
    this.hud.feedback(
      offline
        ? `You seem to be offline — your answer is kept and sent when the connection is back.${typed}`
        : `Speech recognition is taking a break — your answer is kept and sent as soon as it's back.${typed}`,
      "info",
    );
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(Math.min(this.retries, 4)) + 1000;
    this.retries += 1;
    this.retryTimer = setTimeout(() => {
      if (this.pendingAnswer === audio && this.status === "active") this.sendSpoken(audio);
    }, delay);
  }

  clearPending() {
    clearTimeout(this.retryTimer);
    this.pendingAnswer = null;
    this.retries = 0;
  }

  async answerTyped(text) {
    if (!this.session || this.busy || this.status !== "active") return;
    this.busy = true;
    this.updateControls();
    try {
      const result = await this.api.answerTyped(this.session, text);
      this.clearPending(); // a typed answer replaces the spoken one still waiting
      this.judged(result);
      // The stream's view of the session is now stale: resume to refresh it.
      if (this.status === "active") await this.dispatch({ type: "typedJudged" });
    } catch (error) {
      this.apiFailed(error);
    } finally {
      this.busy = false;
      this.updateControls();
    }
  }

  // --- live events --------------------------------------------------------------------
  streamEvent(event) {
    if (event.seq > 0) this.lastSeq = Math.max(this.lastSeq, event.seq);
    switch (event.type) {
      case "ready":
        this.streamReady(event);
        break;
      case "partial":
        this.hud.heard(event.transcript);
        break;
      case "penalty":
      case "final":
        this.answerJudged();
        this.judged(event);
        break;
      case "reset":
        this.answerJudged();
        if (RESET_MESSAGES[event.reason]) this.hud.feedback(RESET_MESSAGES[event.reason]);
        if (event.reason === "unclear") this.hud.heard("", { outcome: "unclear" });
        else this.hud.clearHeard();
        break;
      case "error":
        this.streamError(event);
        break;
      default:
        break;
    }
  }

  async streamReady(event) {
    const first = this.status === "new";
    if (first) this.begin(event);
    else this.hud.standing(event);
    const answerInFlight = Boolean(this.take?.heardSpeech || this.pendingAnswer);
    await this.dispatch({ type: "ready", first, resumed: Boolean(event.resumed), answerInFlight });
    if (this.recording && this.mic.kind === "webm") this.setRecording(true);
  }

  // The stream is ready: say so (modes.js's `greet` command).
  greet(command) {
    if (this.micOpening) {
      this.heldGreeting = command;
      return;
    }
    const { how, first } = command;
    if (how === "welcomeBack") {
      this.hud.feedback("Welcome back — carry on where you left off.", "good");
      this.speakPrompt();
    } else if (how === "reconnected") {
      this.hud.feedback("Reconnected — carry on.");
    } else if (this.recording) {
      this.hud.feedback("Listening…");
      if (first) this.speakPrompt();
    }
  }

  // A judged live answer: keep its spoken part for "Hear my answer".
  answerJudged() {
    const spoken = spokenPart(this.unjudged);
    if (spoken.length) this.lastAnswer = spoken;
    this.unjudged = [];
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
      const fallback = event.retryable ? "Something went wrong — try again in a moment." : "Something went wrong on our side.";
      this.hud.feedback(ERROR_MESSAGES[event.code] || fallback, event.retryable ? "info" : "bad");
    }
  }

  // The stream gave up (the server's `fallback: "http"`, or a socket that keeps failing).
  fallBack(reason, event) {
    return this.dispatch({ type: "fallback", reason, code: event?.code, retryable: Boolean(event?.retryable) });
  }

  // Live mode paused: the answer being spoken goes on into a time-stop recording, and is sent
  // at once if it was over already.
  async keepAnswer(cause) {
    const unjudged = this.mic.kind === "pcm" ? this.takeUnjudged() : [];
    this.encoder?.stop();
    this.encoder = null;
    this.lastSeq = Math.max(this.lastSeq, this.stream?.lastSeq || 0);
    if (!this.session) await this.startTimeStop();
    if (this.status !== "active") return;
    if (this.recording || unjudged.length) {
      this.take = new AnswerTake(this.mic, unjudged);
      if (!this.recording) this.setRecording(true);
      if (this.take.ended) {
        this.stopAnswer();
        return;
      }
    }
    this.hud.feedback(FALLBACK_MESSAGES[cause], "info");
  }

  // Time to try live mode again: the timer, or a spoken answer judged (`judged`).
  liveDue({ judged = false } = {}) {
    if (this.status !== "active") return;
    const tryUnderWay = Boolean(this.stream && !this.stream.finished);
    return this.dispatch({ type: "liveDue", judged, tryUnderWay });
  }

  // --- judgements (both modes) --------------------------------------------------------
  judged(result, { quiet = false } = {}) {
    const before = this.turn?.index;
    this.hud.standing(result);
    this.lives = result.lives_remaining;
    this.status = result.status;
    if (result.turn) this.turn = result.turn;
    const turnChanged = result.turn && result.turn.index !== before;
    if (turnChanged) this.revealed = null;
    const endedAfterPenalty = result.type === "final" && result.outcome !== "correct";
    const heardAs = { words: result.words || null, outcome: result.outcome };
    if (quiet) {
      // a state read back from the API: nothing was just answered
    } else if (result.outcome === "correct") {
      this.hud.heard(result.transcript, heardAs);
      const said = result.transcript ? `“${tidyTranscript(result.transcript)}” ` : "";
      this.hud.feedback(`Correct! ${said}+${result.scoreDelta}`, "good");
    } else if (result.penalty && !endedAfterPenalty) {
      // A wrong-language answer was transcribed as if it were in the target language: that
      // text is invented, so it is not shown as what the learner said.
      const wrongLanguage = result.penalty.type === "wrong_language";
      this.hud.heard(wrongLanguage ? "" : result.transcript, heardAs);
      this.hud.feedback(penaltyMessage(result.penalty), "bad");
      if (result.penalty.answer) this.showReveal(result.penalty.answer);
    } else if (result.outcome === "no_speech" || result.outcome === "unclear") {
      this.hud.heard("", heardAs);
      this.hud.feedback(RESET_MESSAGES[result.outcome] || result.message);
    }
    this.updateControls();
    if (this.status !== "active" && this.status !== undefined) this.finish(result);
    else if (turnChanged && !quiet) this.speakPrompt();
  }

  showReveal(answer) {
    this.revealed = answer;
    this.hud.reveal(answer);
  }

  finish(result) {
    this.dispatch({ type: "finish" });
    this.recording = false;
    this.take = null;
    this.clearPending();
    clearTimeout(this.liveTimer);
    this.stream?.close();
    this.mic.close();
    window.speechSynthesis?.cancel();
    const completed = result.status === "completed";
    this.hud.ended({
      completed,
      score: result.score,
      lives: result.lives_remaining,
      total: result.lives_total,
      answer: completed ? null : this.revealed,
      reviewUrl: config.urls.review.replace(config.placeholder, this.session),
    });
    this.summarise();
  }

  // The completion screen's line per turn, from the session's stored attempts.
  async summarise() {
    try {
      const session = await this.api.getSession(this.session);
      const rows = scenario.prompts.map((prompt, index) => {
        const attempts = session.attempts.filter((a) => a.turn_index === index && JUDGED_OUTCOMES.has(a.outcome));
        return {
          prompt,
          tries: attempts.length,
          correct: attempts.some((a) => a.outcome === "correct"),
          points: attempts.reduce((sum, a) => sum + a.scoreDelta, 0),
        };
      });
      this.hud.turnSummary(rows.filter((row) => row.tries));
    } catch {
      // the summary is a nicety: the review has it all
    }
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
    let message = "Something went wrong — try again.";
    if (error instanceof TypeError) message = "You seem to be offline — try again in a moment.";
    else if (error instanceof ApiError && RETRYABLE_HTTP.has(error.status)) {
      message = `Speech recognition is taking a break right now.${typed}`;
    } else if (error instanceof ApiError && error.status === 413) message = RESET_MESSAGES.too_long;
    else if (error instanceof ApiError && (error.status === 415 || error.status === 400)) {
      message = "We couldn't read that recording — try again.";
    }
    this.hud.feedback(message, "bad");
  }

  // --- listening ----------------------------------------------------------------------
  // A voice of the scenario's language, if the browser has one (voices may arrive late).
  findVoice() {
    const synth = window.speechSynthesis;
    const pick = () => {
      const lang = scenario.language.toLowerCase();
      return synth.getVoices().find((v) => v.lang?.toLowerCase().replace("_", "-").split("-")[0] === lang) || null;
    };
    if (!synth) {
      this.voice = null;
      this.updateVoiceControl();
      return;
    }
    this.voice = pick() || undefined;
    synth.addEventListener?.("voiceschanged", () => {
      this.voice = pick();
      this.updateVoiceControl();
    });
    setTimeout(() => {
      if (this.voice === undefined) this.voice = pick();
      this.updateVoiceControl();
    }, VOICE_WAIT_MS);
    this.updateVoiceControl();
  }

  updateVoiceControl() {
    const note = document.getElementById("voice-note");
    const missing = this.voice === null;
    if (note) {
      note.hidden = !missing;
      note.textContent = missing ? `Your browser has no ${scenario.languageName} voice, so prompts are not read aloud.` : "";
    }
    this.updateControls();
  }

  // Read the prompt aloud (at each turn's start and on "Hear it again").
  speakPrompt() {
    if (!this.turn || !this.voice || this.status !== "active") return;
    const utterance = new SpeechSynthesisUtterance(this.turn.prompt);
    utterance.lang = this.voice.lang;
    utterance.voice = this.voice;
    // The microphone must not take the prompt for an answer.
    utterance.onstart = () => (this.speakingPrompt = true);
    utterance.onend = utterance.onerror = () => (this.speakingPrompt = false);
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(utterance);
  }

  // Play the learner's last answer back, from this page's memory only.
  replayAnswer() {
    if (!this.lastAnswer.length) return;
    const url = URL.createObjectURL(encodeWav(this.lastAnswer, SAMPLE_RATE));
    const audio = new Audio(url);
    this.speakingPrompt = true; // the microphone must not hear it as an answer
    const done = () => {
      this.speakingPrompt = false;
      URL.revokeObjectURL(url);
    };
    audio.onended = audio.onerror = done;
    audio.play().catch(done);
  }

  retryTurn() {
    if (streams(this.modes)) {
      this.unjudged = [];
      this.stream.resetAnswer();
    } else if (this.recording) this.take = new AnswerTake(this.mic);
    if (recordsTakes(this.modes)) this.hud.feedback(RESET_MESSAGES.asked);
    this.hud.clearHeard();
  }

  updateControls() {
    const playing = this.status === "active" && this.lives > 0;
    const set = (id, disabled) => {
      const element = document.getElementById(id);
      if (element) element.disabled = disabled;
    };
    set("hear-again", !playing || !this.voice);
    set("replay-answer", !this.lastAnswer.length);
    set("retry", !playing || this.busy);
    set("record", !playing || this.busy || Boolean(this.pendingAnswer));
    for (const element of document.querySelectorAll("#typed-form input, #typed-form button")) {
      element.disabled = !playing || this.busy || !this.session;
    }
  }

  // --- debugging ----------------------------------------------------------------------
  stats() {
    return {
      mode: this.modes.mode,
      fellBack: this.modes.fellBack,
      fallbackCause: this.modes.cause,
      liveReturns: this.modes.liveReturns,
      pendingAnswer: Boolean(this.pendingAnswer),
      session: this.session,
      status: this.status,
      recording: this.recording,
      voice: this.voice ? this.voice.lang : this.voice === null ? "none" : "unknown",
      lastAnswerChunks: this.lastAnswer.length,
      stream: this.stream ? { ...this.stream.stats, lastSeq: this.stream.lastSeq } : null,
      mic: { ...this.mic.stats },
    };
  }

  showDebug() {
    const { stream, mic } = this.stats();
    this.hud.debug({
      state: stream?.state ?? this.modes.mode,
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
