// The /stream/interaction client (docs/protocol.md) that keeps a session going on a bad
// network: it reconnects with growing, jittered delays, resumes with `last_seq` (replayed
// events are passed on once), re-sends the audio of the answer in progress, and measures the
// round trip with ping/pong. After MAX_FAILED_CONNECTS connects in a row that never became
// ready, it gives up and asks for the time-stop fallback.

const PING_INTERVAL_MS = 5000;
const PONG_TIMEOUT_MS = 15000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 8000;
const MAX_FAILED_CONNECTS = 5;
// The answer in progress, kept to re-send after a reconnect: at most 8 s (the server sheds
// load past a 10 s backlog).
export const MAX_BUFFERED_CHUNKS = 80;
const JUDGED = new Set(["penalty", "final", "reset"]);
const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_SUPERSEDED = 4001;

export function streamUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

// Delay before reconnect attempt `attempt` (0-based): doubling up to a cap, half of it random.
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}

export class StreamClient {
  // handlers: onEvent(event), onFallback(reason, event?), onState(stateName)
  constructor({ url, encoding, sampleRate, handlers }) {
    Object.assign(this, { url, encoding, sampleRate, handlers });
    this.socket = null;
    this.session = null;
    this.scenario = null;
    this.lastSeq = 0;
    this.ready = false;
    this.finished = false;
    this.answerAudio = []; // chunks since the last judged event
    this.stopPending = false;
    this.failedConnects = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.lastPongAt = 0;
    this.stats = { state: "idle", rttMs: null, reconnects: 0, droppedChunks: 0, resumes: 0 };
  }

  start(scenario) {
    this.scenario = scenario;
    this.connect();
  }

  // Go on with a session started before (a reload, or live mode coming back after a
  // time-stop spell): the server replays the events after lastSeq, then sends `ready`.
  resume(session, lastSeq = 0) {
    this.session = session;
    this.lastSeq = lastSeq;
    this.connect();
  }

  sendAudio(chunk) {
    if (this.finished) return;
    if (!this.ready && this.encoding !== "pcm_s16le") return; // a new connection, a new container
    this.answerAudio.push(chunk);
    if (this.answerAudio.length > MAX_BUFFERED_CHUNKS) {
      this.answerAudio.shift();
      this.stats.droppedChunks += 1;
    }
    if (this.ready) this.socket.send(chunk);
  }

  // The stop gesture: judge the answer now (sent as soon as the stream is ready again).
  stopAnswer() {
    if (this.ready) this.send({ type: "stop" });
    else this.stopPending = true;
  }

  resetAnswer() {
    this.answerAudio = [];
    this.stopPending = false;
    if (this.ready) this.send({ type: "reset" });
  }

  // Unjudged audio handed over to the time-stop fallback.
  takeAnswerAudio() {
    const chunks = this.answerAudio;
    this.answerAudio = [];
    return chunks;
  }

  // Reconnect now (e.g. after a typed answer changed the session behind the stream's back).
  resync() {
    if (this.finished || !this.session) return;
    this.answerAudio = []; // it belonged to the turn just answered
    this.abandonSocket({ retryNow: true });
  }

  // Test and debug hook: lose the connection as a bad network would.
  dropConnection() {
    this.abandonSocket({ retryNow: false });
  }

  close() {
    this.finished = true;
    this.clearTimers();
    if (this.socket) {
      this.detach(this.socket);
      this.socket.close(1000);
      this.socket = null;
    }
    this.setState("closed");
  }

  // --- connection ---------------------------------------------------------------------
  connect() {
    this.reconnectTimer = null;
    // A webm stream cannot be cut and re-sent: the new connection needs a new container.
    if (this.encoding !== "pcm_s16le") this.answerAudio = [];
    this.ready = false;
    this.setState(this.stats.reconnects ? "reconnecting" : "connecting");
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => this.opened(socket);
    socket.onmessage = (message) => this.received(message);
    socket.onclose = (closing) => this.closed(socket, closing.code);
    this.socket = socket;
  }

  opened(socket) {
    const start = { type: "start", sample_rate: this.sampleRate, encoding: this.encoding };
    if (this.session) Object.assign(start, { session: this.session, last_seq: this.lastSeq });
    else start.scenario = this.scenario;
    socket.send(JSON.stringify(start));
    this.lastPongAt = performance.now();
    this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
  }

  received({ data }) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (event.type === "pong") {
      this.lastPongAt = performance.now();
      this.stats.rttMs = Math.round(performance.now() - event.t);
      return;
    }
    if (event.seq > 0) {
      if (event.seq <= this.lastSeq) return; // already seen before a reconnect
      this.lastSeq = event.seq;
    }
    if (event.session) this.session = event.session;
    if (JUDGED.has(event.type)) {
      this.answerAudio = [];
      this.stopPending = false;
    }
    if (event.type === "error" && event.fallback) {
      this.close();
      this.handlers.onFallback("server", event);
      return;
    }
    if (event.type === "ready") this.becameReady(event);
    this.handlers.onEvent(event);
    if (event.type === "final" && event.status !== "active") this.close();
  }

  becameReady(event) {
    this.ready = true;
    this.failedConnects = 0;
    if (event.resumed) this.stats.resumes += 1;
    this.setState("ready");
    this.ping();
    for (const chunk of this.answerAudio) this.socket.send(chunk);
    if (this.stopPending) {
      this.stopPending = false;
      this.send({ type: "stop" });
    }
  }

  closed(socket, code) {
    if (socket !== this.socket) return;
    this.socket = null;
    const wasReady = this.ready;
    this.ready = false;
    this.clearTimers();
    if (this.finished) return;
    if (code === CLOSE_UNAUTHENTICATED || code === CLOSE_SUPERSEDED) {
      this.finished = true;
      this.setState("closed");
      return; // the error event before the close says why
    }
    if (!wasReady) this.failedConnects += 1;
    if (this.failedConnects >= MAX_FAILED_CONNECTS) {
      this.finished = true;
      this.setState("failed");
      this.handlers.onFallback("network");
      return;
    }
    this.scheduleReconnect(backoffDelay(this.failedConnects));
  }

  abandonSocket({ retryNow }) {
    const socket = this.socket;
    if (!socket) return;
    this.detach(socket);
    socket.close(); // a dead network may never finish the close handshake: do not wait for it
    this.closed(socket, 1006);
    if (retryNow && this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.connect();
    }
  }

  scheduleReconnect(delayMs) {
    this.stats.reconnects += 1;
    this.setState("reconnecting");
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  ping() {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    if (performance.now() - this.lastPongAt > PONG_TIMEOUT_MS) {
      this.abandonSocket({ retryNow: false });
      return;
    }
    this.send({ type: "ping", t: performance.now(), rtt: this.stats.rttMs });
  }

  send(message) {
    this.socket.send(JSON.stringify(message));
  }

  detach(socket) {
    socket.onopen = socket.onmessage = socket.onclose = null;
  }

  clearTimers() {
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    this.pingTimer = this.reconnectTimer = null;
  }

  setState(state) {
    this.stats.state = state;
    this.handlers.onState?.(state);
  }
}
