// The play page's heads-up display: score, hearts, turn, prompt, what was heard, feedback.
// Both modes render through it, from the same field names (score, lives_remaining,
// lives_total, scoreDelta, livesDelta, turn, status).

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
      confidence: $("confidence"),
      confidenceValue: $("confidence-value"),
      record: $("record"),
      micLevel: $("mic-level"),
      feedback: $("feedback"),
      live: $("live"),
      intro: $("intro"),
      stage: $("stage"),
      end: $("end"),
      endTitle: $("end-title"),
      endSummary: $("end-summary"),
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
    if (changed) this.clearHeard();
  }

  flashDelta(delta) {
    const badge = this.el.scoreDelta;
    badge.textContent = delta > 0 ? `+${delta}` : String(delta);
    badge.className = `delta ${delta > 0 ? "up" : "down"}`;
    clearTimeout(this.deltaTimer);
    this.deltaTimer = setTimeout(() => (badge.textContent = ""), 2500);
  }

  heard(transcript, confidence) {
    this.el.partial.textContent = transcript || "…";
    const known = typeof confidence === "number";
    this.el.confidence.value = known ? confidence : 0;
    this.el.confidenceValue.textContent = known ? `${Math.round(confidence * 100)}%` : "–";
    if (transcript && transcript !== this.lastAnnounced) {
      this.lastAnnounced = transcript;
      this.el.live.textContent = `Heard: ${transcript}`;
    }
  }

  clearHeard() {
    this.heard("", null);
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

  ended({ completed, score, reviewUrl }) {
    const lastAnswer = this.el.feedback.textContent;
    this.el.endTitle.textContent = completed ? "Scenario complete!" : "Game over";
    this.el.endSummary.textContent = completed
      ? `Well done — you finished with ${score} points.`
      : `${lastAnswer} You ran out of lives with ${score} points. Review your answers and try again.`;
    this.el.reviewLink.href = reviewUrl;
    this.setPhase("ended");
    this.el.endTitle.tabIndex = -1;
    this.el.endTitle.focus();
  }

  debug(values) {
    this.el.debug.hidden = false;
    for (const [key, value] of Object.entries(values)) {
      const cell = document.getElementById(`debug-${key}`);
      if (cell) cell.textContent = value;
    }
  }
}
