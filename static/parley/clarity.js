// How well an answer was heard, written the same way on the play page and in the review
// (interaction/pages.py has the same rules and numbers): words joined as the language writes
// them ("s'il", "j'ai"), a word below WEAK_WORD_PROBABILITY is weak, and an answer is heard
// "clear" (no weak word), "partly" (some) or "unclear" (half or more, or the judge said so).

export const WEAK_WORD_PROBABILITY = 0.2;
const ELIDED = /(^|\s)(\p{L}{1,2}|\p{L}*qu)(['’])\s+/giu;
const DETACHED = /(\p{L})\s+(['’])(?=\p{L})/gu;
const APOSTROPHES = "'’";

export const CLARITY_LABELS = { clear: "heard clearly", partly: "partly clear", unclear: "unclear" };

// "s 'il vous plaît" → "s'il vous plaît"; "j' ai" → "j'ai".
export function tidyTranscript(text) {
  return (text || "").replace(ELIDED, "$1$2$3").replace(DETACHED, "$1$2").trim();
}

// [{word, probability}] (Whisper's, with leading spaces) → [{word, p, weak}] joined.
export function joinedWords(words) {
  const joined = [];
  for (const word of words || []) {
    const raw = String(word.word ?? "");
    const text = raw.trim();
    if (!text) continue;
    const p = typeof word.probability === "number" ? Math.max(0, Math.min(1, word.probability)) : null;
    const previous = joined[joined.length - 1];
    const continues =
      previous &&
      (!/^\s/.test(raw) ||
        APOSTROPHES.includes(text[0]) ||
        (APOSTROPHES.includes(previous.word.slice(-1)) && /^(\p{L}{1,2}|\p{L}*qu)['’]$/iu.test(previous.word)));
    if (continues) {
      previous.word += text;
      if (p !== null) previous.p = previous.p === null ? p : Math.min(previous.p, p);
    } else {
      joined.push({ word: text, p });
    }
  }
  for (const word of joined) word.weak = word.p !== null && word.p < WEAK_WORD_PROBABILITY;
  return joined;
}

// "clear", "partly", "unclear" or null (nothing to tell by: typed, nothing heard, another language).
export function clarityOf(words, outcome) {
  if (outcome === "unclear") return "unclear";
  if (!words.length || outcome === "wrong_language" || outcome === "no_speech") return null;
  const weak = words.filter((word) => word.weak).length;
  if (weak === 0) return "clear";
  return weak * 2 >= words.length ? "unclear" : "partly";
}
