// The play page's mode machine (static/parley/modes.js), table by table: `node --test tests/js/`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  Cause,
  Mode,
  TRANSITIONS,
  causeOf,
  initialModes,
  liveTryDelay,
  modeLabel,
  recordsTakes,
  step,
  streams,
} from "../../static/parley/modes.js";

const fresh = (fields = {}) => ({ ...initialModes({ streamingAllowed: true }), ...fields });
const types = (commands) => commands.map((command) => command.type);

// Walk a list of inputs from `state`; returns the last state and every command, in order.
function walk(state, inputs) {
  const commands = [];
  for (const input of inputs) {
    const result = step(state, input);
    state = result.state;
    commands.push(...result.commands);
  }
  return { state, commands };
}

describe("start", () => {
  const cases = [
    // [streaming allowed, live chosen (and a microphone worklet), resume] → mode, command
    [true, true, false, Mode.LIVE, { type: "goLive", resume: false }],
    [true, true, true, Mode.RESUMING, { type: "goLive", resume: true }],
    [true, false, false, Mode.TIME_STOP, { type: "startTimeStop" }],
    [true, false, true, Mode.TIME_STOP, { type: "resumeTimeStop" }],
    [false, true, false, Mode.TIME_STOP, { type: "startTimeStop" }],
    [false, true, true, Mode.TIME_STOP, { type: "resumeTimeStop" }],
  ];
  for (const [streamingAllowed, live, resume, mode, command] of cases) {
    test(`streaming ${streamingAllowed}, live ${live}, resume ${resume} → ${mode}`, () => {
      const { state, commands } = step(initialModes({ streamingAllowed }), { type: "start", live, resume });
      assert.equal(state.mode, mode);
      assert.deepEqual(commands, [command]);
    });
  }

  test("a second start changes nothing", () => {
    const live = step(fresh(), { type: "start", live: true }).state;
    assert.deepEqual(step(live, { type: "start", live: false }), { state: live, commands: [] });
  });
});

describe("ready", () => {
  const cases = [
    // [state, ready input, next mode, commands]
    [fresh({ mode: Mode.RESUMING }), {}, Mode.LIVE, [{ type: "greet", how: "welcomeBack" }]],
    [fresh({ mode: Mode.RESUMING, resync: true }), {}, Mode.LIVE, []],
    [fresh({ mode: Mode.LIVE }), { first: true }, Mode.LIVE, [{ type: "greet", how: "listening", first: true }]],
    [fresh({ mode: Mode.LIVE }), { resumed: true }, Mode.LIVE, [{ type: "greet", how: "reconnected", first: false }]],
    [fresh({ mode: Mode.LIVE, resync: true }), { resumed: true }, Mode.LIVE, []],
    [fresh({ mode: Mode.TIME_STOP }), {}, Mode.TIME_STOP, []],
    [fresh({ mode: Mode.FINISHED }), {}, Mode.FINISHED, []],
  ];
  for (const [state, input, mode, commands] of cases) {
    test(`${state.mode}${state.resync ? " (resync)" : ""} ${JSON.stringify(input)} → ${mode}`, () => {
      const next = step(state, { type: "ready", ...input });
      assert.equal(next.state.mode, mode);
      assert.equal(next.state.resync, false);
      assert.deepEqual(next.commands, commands);
    });
  }
});

describe("fallback from live mode", () => {
  const cases = [
    // [reason, server error code, cause, commands]
    ["network", undefined, Cause.NETWORK, ["keepAnswer", "scheduleLiveTry"]],
    ["server", "asr_unavailable", Cause.ASR, ["keepAnswer"]],
    ["server", "streaming_unavailable", Cause.OFF, ["keepAnswer"]],
  ];
  for (const from of [Mode.LIVE, Mode.RESUMING]) {
    for (const [reason, code, cause, commands] of cases) {
      test(`${from}, ${reason} ${code ?? ""} → fallback (${cause})`, () => {
        const next = step(fresh({ mode: from, resync: true }), { type: "fallback", reason, code });
        assert.equal(next.state.mode, Mode.FALLBACK);
        assert.equal(next.state.cause, cause);
        assert.equal(next.state.fellBack, true);
        assert.equal(next.state.resync, false);
        assert.deepEqual(types(next.commands), commands);
        assert.deepEqual(next.commands[0], { type: "keepAnswer", cause });
      });
    }
  }

  test("a chosen time-stop game has no stream to fall back from", () => {
    const state = fresh({ mode: Mode.TIME_STOP });
    assert.deepEqual(step(state, { type: "fallback", reason: "network" }), { state, commands: [] });
  });
});

describe("live mode coming back", () => {
  const paused = (cause, fields = {}) => fresh({ mode: Mode.FALLBACK, cause, fellBack: true, ...fields });

  const dueCases = [
    // [cause, judged (else the timer), try under way, streaming allowed, commands]
    [Cause.NETWORK, false, false, true, ["tryLive"]],
    [Cause.NETWORK, true, false, true, ["tryLive"]],
    [Cause.ASR, true, false, true, ["tryLive"]],
    [Cause.ASR, false, false, true, ["tryLive"]],
    [Cause.OFF, true, false, true, []], // switched off: a judged answer says nothing about it
    [Cause.OFF, false, false, true, ["tryLive"]], // a retryable refusal scheduled the timer
    [Cause.NETWORK, false, true, true, []], // one try at a time
    [Cause.ASR, true, false, false, []],
  ];
  for (const [cause, judged, tryUnderWay, streamingAllowed, commands] of dueCases) {
    test(`liveDue: ${cause}, judged ${judged}, under way ${tryUnderWay}, allowed ${streamingAllowed}`, () => {
      const state = paused(cause, { streamingAllowed });
      const next = step(state, { type: "liveDue", judged, tryUnderWay });
      assert.equal(next.state.mode, Mode.FALLBACK);
      assert.deepEqual(types(next.commands), commands);
    });
  }

  test("liveDue outside the fallback does nothing", () => {
    for (const mode of Object.values(Mode).filter((mode) => mode !== Mode.FALLBACK)) {
      assert.deepEqual(step(fresh({ mode }), { type: "liveDue", judged: true }).commands, []);
    }
  });

  test("ready with nothing in flight: live again, counted, tries reset", () => {
    const next = step(paused(Cause.NETWORK, { liveTries: 3, liveReturns: 1 }), { type: "ready", answerInFlight: false });
    assert.equal(next.state.mode, Mode.LIVE);
    assert.equal(next.state.cause, null);
    assert.equal(next.state.liveTries, 0);
    assert.equal(next.state.liveReturns, 2);
    assert.equal(next.state.fellBack, true);
    assert.deepEqual(next.commands, [{ type: "liveBack" }]);
  });

  test("ready while an answer goes over time-stop: deferred, tried again later", () => {
    const next = step(paused(Cause.ASR, { liveTries: 1 }), { type: "ready", answerInFlight: true });
    assert.equal(next.state.mode, Mode.FALLBACK);
    assert.equal(next.state.liveTries, 2);
    assert.deepEqual(next.commands, [{ type: "deferLive" }, { type: "scheduleLiveTry", delayMs: 20000 }]);
  });

  const failCases = [
    // [reason, retryable, commands]
    ["network", false, ["dropStream", "scheduleLiveTry"]],
    ["server", true, ["dropStream", "scheduleLiveTry"]],
    ["server", false, ["dropStream"]],
  ];
  for (const [reason, retryable, commands] of failCases) {
    test(`a try that fails (${reason}, retryable ${retryable}) stays paused`, () => {
      const state = paused(Cause.ASR);
      const next = step(state, { type: "fallback", reason, retryable, code: "asr_unavailable" });
      assert.equal(next.state.mode, Mode.FALLBACK);
      assert.equal(next.state.cause, Cause.ASR);
      assert.deepEqual(types(next.commands), commands);
    });
  }
});

describe("the backoff of tries at live mode", () => {
  test("10 s, doubling, at most 60 s", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 10].map(liveTryDelay), [10000, 20000, 40000, 60000, 60000, 60000]);
  });

  test("each scheduled try waits longer; a return starts over", () => {
    const network = { type: "fallback", reason: "network" };
    const { state, commands } = walk(fresh({ mode: Mode.LIVE }), [
      network, // live → fallback: try 0
      { type: "liveDue", tryUnderWay: false },
      network, // that try failed: try 1
      { type: "liveDue", tryUnderWay: false },
      { type: "ready", answerInFlight: true }, // deferred: try 2
      { type: "liveDue", tryUnderWay: false },
      { type: "ready", answerInFlight: false },
    ]);
    const delays = commands.filter((c) => c.type === "scheduleLiveTry").map((c) => c.delayMs);
    assert.deepEqual(delays, [10000, 20000, 40000]);
    assert.equal(state.mode, Mode.LIVE);
    assert.equal(state.liveTries, 0);
    assert.equal(state.liveReturns, 1);

    const again = step(state, network);
    assert.deepEqual(again.commands.at(-1), { type: "scheduleLiveTry", delayMs: 10000 });
  });
});

describe("typed answers in live mode", () => {
  for (const mode of [Mode.LIVE, Mode.RESUMING]) {
    test(`${mode}: resync, and the next ready is quiet`, () => {
      const { state, commands } = walk(fresh({ mode }), [{ type: "typedJudged" }, { type: "ready", resumed: true }]);
      assert.deepEqual(commands, [{ type: "resync" }]);
      assert.equal(state.mode, Mode.LIVE);
      assert.equal(state.resync, false);
    });
  }

  test("time-stop modes have no stream to resync", () => {
    for (const mode of [Mode.TIME_STOP, Mode.FALLBACK, Mode.FINISHED]) {
      assert.deepEqual(step(fresh({ mode }), { type: "typedJudged" }).commands, []);
    }
  });
});

describe("finished", () => {
  test("every playing mode finishes", () => {
    for (const mode of [Mode.LIVE, Mode.RESUMING, Mode.TIME_STOP, Mode.FALLBACK]) {
      const next = step(fresh({ mode }), { type: "finish" });
      assert.equal(next.state.mode, Mode.FINISHED);
      assert.deepEqual(next.commands, []);
    }
  });

  test("nothing leaves it", () => {
    const done = fresh({ mode: Mode.FINISHED });
    assert.deepEqual(TRANSITIONS[Mode.FINISHED], {});
    for (const type of ["start", "ready", "fallback", "liveDue", "typedJudged", "finish"]) {
      assert.deepEqual(step(done, { type, live: true, reason: "network" }), { state: done, commands: [] });
    }
  });
});

describe("the machine itself", () => {
  test("every mode has a row of transitions", () => {
    assert.deepEqual(Object.keys(TRANSITIONS).sort(), Object.values(Mode).sort());
  });

  test("an unknown input changes nothing", () => {
    const state = fresh({ mode: Mode.LIVE });
    assert.deepEqual(step(state, { type: "nonsense" }), { state, commands: [] });
  });

  test("states are frozen and never changed in place", () => {
    const before = fresh({ mode: Mode.LIVE });
    const copy = { ...before };
    const { state } = step(before, { type: "fallback", reason: "network" });
    assert.deepEqual(before, copy);
    assert.ok(Object.isFrozen(state));
    assert.throws(() => {
      state.mode = Mode.LIVE;
    }, TypeError);
  });

  test("where the audio goes, and the badge, per mode", () => {
    const rows = [
      [Mode.IDLE, false, false, ""],
      [Mode.RESUMING, true, false, "Live"],
      [Mode.LIVE, true, false, "Live"],
      [Mode.TIME_STOP, false, true, "Time-stop"],
      [Mode.FALLBACK, false, true, "Time-stop (live mode paused)"],
      [Mode.FINISHED, false, false, ""],
    ];
    for (const [mode, streamed, recorded, label] of rows) {
      const state = fresh({ mode });
      assert.deepEqual([streams(state), recordsTakes(state), modeLabel(state)], [streamed, recorded, label], mode);
    }
  });

  test("the cause of a fallback", () => {
    assert.equal(causeOf("network", undefined), Cause.NETWORK);
    assert.equal(causeOf("network", "streaming_unavailable"), Cause.NETWORK);
    assert.equal(causeOf("server", "streaming_unavailable"), Cause.OFF);
    assert.equal(causeOf("server", "asr_unavailable"), Cause.ASR);
    assert.equal(causeOf("server", undefined), Cause.ASR);
  });
});
