// The play page's modes as a pure state machine: inputs in, the next state and commands out.
// No DOM, no network, no timers: `Game` (play.js) feeds it what happened and carries out
// the commands it returns, so every mode change is one row of TRANSITIONS.
//
//   idle ──start──▶ live | resuming | time_stop
//   resuming ──ready──▶ live                       (a reload: the session continues live)
//   live, resuming ──fallback──▶ fallback          (the server says `fallback: "http"`, or
//                                                   the socket keeps failing)
//   fallback ──liveDue──▶ fallback (a try at live) ──ready──▶ live | fallback (deferred)
//   any but idle ──finish──▶ finished              (nothing leaves it)
//
// An input a mode has no row for changes nothing and commands nothing.

export const Mode = Object.freeze({
  IDLE: "idle", // before Start or Continue
  RESUMING: "resuming", // live, continuing a session after a reload: waiting for `ready`
  LIVE: "live", // streaming over /stream/interaction
  TIME_STOP: "time_stop", // chosen (or forced: no streaming, no microphone worklet)
  FALLBACK: "fallback", // time-stop while live mode is paused; `cause` says why
  FINISHED: "finished", // the session is over
});

// Why live mode is paused: the recogniser, the network, or streaming switched off.
export const Cause = Object.freeze({ ASR: "asr", NETWORK: "network", OFF: "off" });

const LABELS = {
  [Mode.IDLE]: "",
  [Mode.RESUMING]: "Live",
  [Mode.LIVE]: "Live",
  [Mode.TIME_STOP]: "Time-stop",
  [Mode.FALLBACK]: "Time-stop (live mode paused)",
  [Mode.FINISHED]: "",
};

const LIVE_TRY_BASE_MS = 10000;
const LIVE_TRY_MAX_MS = 60000;

export function initialModes({ streamingAllowed }) {
  return Object.freeze({
    mode: Mode.IDLE,
    streamingAllowed: Boolean(streamingAllowed),
    cause: null, // a Cause while in FALLBACK
    resync: false, // live: a resume on purpose (after a typed answer) is under way
    liveTries: 0, // tries at bringing live mode back since it was paused
    fellBack: false, // live mode was paused at least once
    liveReturns: 0, // how often live mode came back
  });
}

// The audio goes over the socket (true) or into time-stop recordings (false).
export function streams(state) {
  return state.mode === Mode.LIVE || state.mode === Mode.RESUMING;
}

export function recordsTakes(state) {
  return state.mode === Mode.TIME_STOP || state.mode === Mode.FALLBACK;
}

export function modeLabel(state) {
  return LABELS[state.mode];
}

// The wait before try `tries` (0-based) at bringing live mode back: 10 s, doubling to 60 s.
export function liveTryDelay(tries) {
  return Math.min(LIVE_TRY_MAX_MS, LIVE_TRY_BASE_MS * 2 ** tries);
}

// Why the stream gave up: `reason` is the stream client's ("network" or "server"), `code`
// the server's error code, if it sent one.
export function causeOf(reason, code) {
  if (reason === "network") return Cause.NETWORK;
  return code === "streaming_unavailable" ? Cause.OFF : Cause.ASR;
}

function scheduleLiveTry(state) {
  return [{ liveTries: state.liveTries + 1 }, { type: "scheduleLiveTry", delayMs: liveTryDelay(state.liveTries) }];
}

// Commands (what Game does for each):
//   goLive {resume}      open the socket (start, or resume the session) and the microphone
//   startTimeStop        create the time-stop session if there is none, then ask for an answer
//   resumeTimeStop       read the session back from the API, then ask for an answer
//   greet {how, first}   the stream is ready: how = "welcomeBack" | "reconnected" | "listening"
//   keepAnswer {cause}   live mode paused: the answer in flight goes on as a time-stop take
//   scheduleLiveTry {delayMs}   try live mode again after delayMs
//   tryLive              open a socket that resumes this session
//   dropStream           a try at live mode failed: forget its socket
//   deferLive            live is ready but an answer is on its way over time-stop: close it
//   liveBack             live mode is back
//   resync               reconnect now: a typed answer changed the session behind the stream
const onFallback = (state, { reason, code }) => {
  const cause = causeOf(reason, code);
  const rows = { mode: Mode.FALLBACK, cause, fellBack: true, resync: false };
  const commands = [{ type: "keepAnswer", cause }];
  if (cause !== Cause.NETWORK) return [rows, commands];
  const [counted, schedule] = scheduleLiveTry(state);
  return [{ ...rows, ...counted }, [...commands, schedule]];
};

const onTypedJudged = () => [{ resync: true }, [{ type: "resync" }]];

export const TRANSITIONS = {
  [Mode.IDLE]: {
    start: (state, { live, resume }) => {
      if (live && state.streamingAllowed) {
        return [{ mode: resume ? Mode.RESUMING : Mode.LIVE }, [{ type: "goLive", resume: Boolean(resume) }]];
      }
      return [{ mode: Mode.TIME_STOP }, [{ type: resume ? "resumeTimeStop" : "startTimeStop" }]];
    },
  },
  [Mode.RESUMING]: {
    ready: (state) => [{ mode: Mode.LIVE, resync: false }, state.resync ? [] : [{ type: "greet", how: "welcomeBack" }]],
    fallback: onFallback,
    typedJudged: onTypedJudged,
    finish: () => [{ mode: Mode.FINISHED }],
  },
  [Mode.LIVE]: {
    ready: (state, { resumed, first }) => {
      if (state.resync) return [{ resync: false }];
      return [{}, [{ type: "greet", how: resumed ? "reconnected" : "listening", first: Boolean(first) }]];
    },
    fallback: onFallback,
    typedJudged: onTypedJudged,
    finish: () => [{ mode: Mode.FINISHED }],
  },
  [Mode.TIME_STOP]: {
    finish: () => [{ mode: Mode.FINISHED }],
  },
  [Mode.FALLBACK]: {
    // The timer, or a spoken answer judged again (so recognition, and the network, are back).
    liveDue: (state, { judged, tryUnderWay }) => {
      if (!state.streamingAllowed || tryUnderWay) return [{}];
      if (judged && state.cause === Cause.OFF) return [{}];
      return [{}, [{ type: "tryLive" }]];
    },
    ready: (state, { answerInFlight }) => {
      if (answerInFlight) {
        const [counted, schedule] = scheduleLiveTry(state);
        return [counted, [{ type: "deferLive" }, schedule]];
      }
      const back = { mode: Mode.LIVE, cause: null, liveTries: 0, liveReturns: state.liveReturns + 1 };
      return [back, [{ type: "liveBack" }]];
    },
    // A try at bringing live mode back did not work.
    fallback: (state, { reason, retryable }) => {
      if (reason !== "network" && !retryable) return [{}, [{ type: "dropStream" }]];
      const [counted, schedule] = scheduleLiveTry(state);
      return [counted, [{ type: "dropStream" }, schedule]];
    },
    finish: () => [{ mode: Mode.FINISHED }],
  },
  [Mode.FINISHED]: {},
};

// One input: {type, ...fields}. Returns {state, commands}; `state` is a new frozen object.
export function step(state, input) {
  const row = TRANSITIONS[state.mode]?.[input.type];
  if (!row) return { state, commands: [] };
  const [changes, commands = []] = row(state, input);
  return { state: Object.freeze({ ...state, ...changes }), commands };
}
