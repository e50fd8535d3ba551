// The play page's heads-up display: score, hearts, turn, prompt, what was heard, feedback.
// Both modes render through it, from the same field names (score, lives_remaining,
// lives_total, scoreDelta, livesDelta, turn, status).

import { CLARITY_LABELS, clarityOf, joinedWords, tidyTranscript } from "./clarity.js";

const $ = (id) => document.getElementById(id);

export class Hud {
  constructor() {
    this.el = {
      game: $("game"),
      score: $("score"),
      scoreDelta: $("score-delta"),
      hearts: $("hearts"),
      turnNumber: $("turn-number"),
      turnCount: $("turn-count"),
      mode: $("mode-badge"),
      prompt: $("prompt"),
      partial: $("partial"),
      clarity: $("clarity"),
      progress: $("progress"),
      progressText: $("progress-text"),
      reveal: $("reveal"),
      revealAnswer: $("reveal-answer"),
      record: $("record"),
      micLevel: $("mic-level"),
      feedback: $("feedback"),
      live: $("live"),
      intro: $("intro"),
      stage: $("stage"),
      end: $("end"),
      endTitle: $("end-title"),
      endSummary: $("end-summary"),
      endScore: $("end-score"),
      endHearts: $("end-hearts"),
      endReveal: $("end-reveal"),
      endRevealAnswer: $("end-reveal-answer"),
      turnSummary: $("turn-summary"),
      reviewLink: $("review-link"),
      debug: $("debug"),
    };
    this.lastAnnounced = "";
  }

  setPhase(phase) {
    this.el.game.dataset.phase = phase;
    this.el.intro.hidden = phase !== "intro";
    this.el.stage.hidden = phase !== "playing";
    this.el.end.hidden = phase !== "ended";
  }

  setMode(label) {
    this.el.mode.textContent = label;
  }

  // Score, lives and turn from any event or API response.
  standing({ score, lives_remaining: lives, lives_total: total, scoreDelta, livesDelta, turn }) {
    if (score !== undefined) this.el.score.textContent = String(score);
    if (scoreDelta) this.flashDelta(scoreDelta);
    if (lives !== undefined && total !== undefined) this.hearts(lives, total, -(livesDelta || 0));
    if (turn) this.turn(turn);
  }

  hearts(remaining, total, lostNow = 0) {
    const hearts = this.el.hearts;
    hearts.replaceChildren(
      ...Array.from({ length: total }, (_, i) => {
        const heart = document.createElement("span");
        const lost = i >= remaining;
        heart.className = lost ? "heart lost" : "heart";
        if (lost && i < remaining + lostNow) heart.classList.add("breaking");
        heart.textContent = lost ? "♡" : "♥";
        return heart;
      }),
    );
    hearts.dataset.remaining = String(remaining);
    hearts.dataset.total = String(total);
    hearts.setAttribute("aria-label", `${remaining} of ${total} lives left`);
  }

  turn({ index, count, prompt }) {
    const changed = this.el.prompt.textContent !== prompt;
    this.el.turnNumber.textContent = String(index + 1);
    this.el.turnCount.textContent = String(count);
    this.el.prompt.textContent = prompt;
    this.progress(index, count);
    if (changed) {
      this.clearHeard();
      this.reveal(null);
    }
    return changed;
  }

  // Turns done out of the scenario's turns (a <progress>, read as "1 of 3 turns done").
  progress(done, count) {
    this.el.progress.max = count;
    this.el.progress.value = done;
    this.el.progressText.textContent = `${done} of ${count} turn${count === 1 ? "" : "s"} done`;
  }

  // "You could say: …", once the server sends the answer (or null to hide it).
  reveal(answer) {
    this.el.reveal.hidden = !answer;
    this.el.revealAnswer.textContent = answer || "";
  }

  flashDelta(delta) {
    const badge = this.el.scoreDelta;
    badge.textContent = delta > 0 ? `+${delta}` : String(delta);
    badge.className = `delta ${delta > 0 ? "up" : "down"}`;
    clearTimeout(this.deltaTimer);
    this.deltaTimer = setTimeout(() => (badge.textContent = ""), 2500);
  }

  // What was heard: a partial (no clarity yet: it is still being recognised) or a judged
  // answer with its words (then "heard clearly / partly clear / unclear").
  heard(transcript, { words = null, outcome = null } = {}) {
    const text = tidyTranscript(transcript);
    this.el.partial.textContent = text || "…";
    const state = words ? clarityOf(joinedWords(words), outcome) : outcome === "unclear" ? "unclear" : null;
    this.el.clarity.textContent = state ? CLARITY_LABELS[state] : "";
    this.el.clarity.dataset.state = state || "";
    if (text && text !== this.lastAnnounced) {
      this.lastAnnounced = text;
      this.el.live.textContent = `Heard: ${text}`;
    }
  }

  clearHeard() {
    this.heard("");
  }

  // kind: "good", "bad" or "info". The element is role=alert: penalties are announced.
  feedback(message, kind = "info") {
    this.el.feedback.textContent = message;
    this.el.feedback.dataset.kind = kind;
  }

  recording(on, label) {
    this.el.record.setAttribute("aria-pressed", String(on));
    this.el.record.classList.toggle("on", on);
    this.el.record.textContent = label;
  }

  micLevel(rms) {
    // Speech sits around 0.02–0.3 RMS: a square root spreads it over the meter.
    this.el.micLevel.value = Math.min(1, Math.sqrt(rms * 4));
  }

  // The completion (or game-over) screen: score, hearts left, the answer that was missed,
  // and a line per turn (filled in by turnSummary when the session's attempts arrive).
  ended({ completed, score, lives, total, reviewUrl, answer }) {
    this.el.endTitle.textContent = completed ? "Scenario complete! 🎉" : "Game over";
    this.el.endSummary.textContent = completed
      ? "Well done — you made it through every turn."
      : "You ran out of lives. Here is what you could have said — then try again.";
    this.el.endScore.textContent = String(score);
    this.el.endHearts.textContent = `${"♥".repeat(lives)}${"♡".repeat(Math.max(0, total - lives))}`;
    this.el.endHearts.setAttribute("aria-label", `${lives} of ${total} lives left`);
    this.el.endReveal.hidden = !answer;
    this.el.endRevealAnswer.textContent = answer || "";
    this.el.reviewLink.href = reviewUrl;
    if (completed) this.progress(Number(this.el.turnCount.textContent), Number(this.el.turnCount.textContent));
    this.el.end.classList.toggle("won", completed);
    this.setPhase("ended");
    this.el.endTitle.tabIndex = -1;
    this.el.endTitle.focus();
  }

  // rows: [{prompt, tries, correct, points}] in turn order.
  turnSummary(rows) {
    this.el.turnSummary.replaceChildren(
      ...rows.map((row, index) => {
        const item = document.createElement("li");
        item.className = row.correct ? "done" : "missed";
        const tries = row.tries === 1 ? "first try" : `${row.tries} tries`;
        const result = row.correct ? `✓ ${tries}` : row.tries ? `✗ ${tries}` : "not reached";
        const points = row.points ? ` · ${row.points > 0 ? "+" : ""}${row.points} points` : "";
        item.textContent = `Turn ${index + 1}: ${row.prompt} — ${result}${points}`;
        return item;
      }),
    );
  }

  debug(values) {
    this.el.debug.hidden = false;
    for (const [key, value] of Object.entries(values)) {
      const cell = document.getElementById(`debug-${key}`);
      if (cell) cell.textContent = value;
    }
  }
}
