// The other pure helpers of the play page: where speech ends, the reconnect backoff, and how
// clearly an answer was heard (the same rules as interaction/pages.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { clarityOf, joinedWords, tidyTranscript } from "../../static/parley/clarity.js";
import { SpeechEndDetector, VOICE_RMS, rmsOf } from "../../static/parley/speech-end.js";
import { backoffDelay } from "../../static/parley/stream.js";

test("speech ends after 0.3 s of voice, then 1.2 s of quiet", () => {
  const detector = new SpeechEndDetector();
  const quiet = Array(20).fill(0);
  assert.ok(!quiet.some((rms) => detector.push(rms)), "no voice, no end");
  assert.equal(detector.push(VOICE_RMS), false);
  assert.equal(detector.push(VOICE_RMS), false);
  assert.equal(detector.heardSpeech, false);
  assert.equal(detector.push(VOICE_RMS), false);
  assert.equal(detector.heardSpeech, true);
  const ends = Array(12).fill(0).map((rms) => detector.push(rms));
  assert.deepEqual(ends.indexOf(true), 11);
});

test("a word in a pause starts the quiet over", () => {
  const detector = new SpeechEndDetector();
  [1, 1, 1].forEach(() => detector.push(0.5));
  Array(11).fill(0).forEach((rms) => assert.equal(detector.push(rms), false));
  assert.equal(detector.push(0.5), false);
  Array(11).fill(0).forEach((rms) => assert.equal(detector.push(rms), false));
  assert.equal(detector.push(0), true);
});

test("rms of pcm_s16le", () => {
  assert.equal(rmsOf(new Int16Array([]).buffer), 0);
  assert.equal(rmsOf(new Int16Array([0, 0]).buffer), 0);
  assert.equal(rmsOf(new Int16Array([-0x8000, -0x8000]).buffer), 1);
  assert.ok(Math.abs(rmsOf(new Int16Array([0x4000, -0x4000]).buffer) - 0.5) < 1e-9);
});

test("reconnect backoff: doubling from 0.5 s to 8 s, half of it random", () => {
  const low = (attempt) => backoffDelay(attempt, () => 0);
  const high = (attempt) => backoffDelay(attempt, () => 1);
  assert.deepEqual([0, 1, 2, 3, 4, 9].map(low), [250, 500, 1000, 2000, 4000, 4000]);
  assert.deepEqual([0, 1, 2, 3, 4, 9].map(high), [500, 1000, 2000, 4000, 8000, 8000]);
});

test("transcripts are joined as the language writes them", () => {
  assert.equal(tidyTranscript("s 'il vous plaît"), "s'il vous plaît");
  assert.equal(tidyTranscript("j' ai faim"), "j'ai faim");
  assert.equal(tidyTranscript(null), "");
});

test("clarity: no weak word, some, half or more", () => {
  const words = (...ps) => joinedWords(ps.map((probability, i) => ({ word: ` w${i}`, probability })));
  assert.equal(clarityOf(words(0.9, 0.5), "correct"), "clear");
  assert.equal(clarityOf(words(0.9, 0.5, 0.1), "incorrect_answer"), "partly");
  assert.equal(clarityOf(words(0.9, 0.1), "correct"), "unclear");
  assert.equal(clarityOf(words(0.9), "unclear"), "unclear");
  assert.equal(clarityOf(words(0.9), "wrong_language"), null);
  assert.equal(clarityOf([], "correct"), null);
});

test("an elided word is one word, as weak as its weakest part", () => {
  const joined = joinedWords([
    { word: " s", probability: 0.9 },
    { word: "'il", probability: 0.1 },
    { word: " vous", probability: 0.8 },
  ]);
  assert.deepEqual(
    joined.map(({ word, weak }) => [word, weak]),
    [
      ["s'il", true],
      ["vous", false],
    ],
  );
});
