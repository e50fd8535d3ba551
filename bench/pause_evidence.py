"""Real prompts cut at their pauses: do `ws/pauses` rules tell an unfinished answer from a
complete one, on the evidence the recogniser gives at a pause?

Debian's French telephony prompts (`asterisk-core-sounds-fr-g722`, one real speaker; texts
from `asterisk-core-sounds-fr`, CC-BY-SA-3.0; fetched as bench/stream_pauses.py does),
every prompt of 4–12 words with 1.5–6 s of speech. For each, the evidence pass
(`interaction.asr.server.evidence.answer_evidence`, in-process, base int8 on the CPU, the
prompt's text as the one accepted answer) runs on what a turn would evaluate after 0.3 s of
silence:

- `prefix`: the prompt cut at its quietest 60 ms in each of three windows of its speech
  (20–40 %, 40–60 %, 60–80 %): *unfinished* when at least 0.3 s of speech is left after
  the cut (by Silero VAD), *complete* when none is; cuts with less are left out;
- `whole`: the whole prompt: *complete* (a correct answer, to be committed at once);
- `wrong_same` / `wrong_any`: another prompt spoken whole, one starting with the same
  word when there is one and one at random, against this prompt's text: *complete* (a
  wrong answer, whose penalty should come at once).

Each case is read two ways: the words alone (`pauses.pause_kind`, as a partial is) and the
words with the evidence (`pauses.read`, as a pause's evaluation is). Payloads are cached
(var/bench/pause_evidence.jsonl: a rerun only evaluates); the summary and one line per
case (no payloads) go to bench/results/pause_evidence.json.

    .venv/bin/python -m bench.pause_evidence [--limit N] [--output FILE.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.stream_fast import speech_bounds  # noqa: E402  (sets Django up)
from bench.stream_pauses import fetch, usable_prompts  # noqa: E402
from interaction.ws.pauses import Answers, Pause, pause_kind, read  # noqa: E402

RATE = 16_000
CACHE = REPO / "var/bench/pause_evidence.jsonl"
WINDOWS = ((0.2, 0.4), (0.4, 0.6), (0.6, 0.8))
REST_UNFINISHED_S = 0.3
GROUPS = ("prefix", "whole", "wrong_same", "wrong_any")


def quiet_at(samples: np.ndarray, first_s: float, last_s: float) -> int | None:
    """The sample at the quietest 60 ms between two times (s), None if there is no room."""
    hop = RATE // 100
    frames = samples[: samples.size // hop * hop].reshape(-1, hop)
    energy = np.convolve(np.sqrt(np.mean(frames**2, axis=1)), np.ones(6) / 6, mode="same")
    first, last = int(first_s * 100), int(last_s * 100)
    return None if last <= first else (first + int(np.argmin(energy[first:last]))) * hop


def prompts() -> list[tuple[str, str, np.ndarray, tuple[float, float]]]:
    return usable_prompts(*fetch())


def cases(chosen: list, index: int, rng: random.Random) -> list[tuple[str, np.ndarray]]:
    """(kind, audio) for one prompt: its cuts, itself, two other prompts."""
    _name, text, samples, (onset, end) = chosen[index]
    out = []
    for low, high in WINDOWS:
        at = quiet_at(samples, onset + low * (end - onset), onset + high * (end - onset))
        if at is not None:
            rest = speech_bounds(samples[at:])
            rest_s = 0.0 if rest is None else rest[1] - rest[0]
            out.append((f"prefix{low}:{rest_s:.2f}", samples[:at]))
    out.append(("whole", samples[: int((end + 0.05) * RATE)]))
    first = text.split()[0].lower().strip(",.")
    same = [
        j
        for j, other in enumerate(chosen)
        if j != index and other[1].split()[0].lower().strip(",.") == first
    ]
    others = [j for j in range(len(chosen)) if j != index]
    for j in ([rng.choice(same)] if same else []) + [rng.choice(others)]:
        other_name, _text, other, (_onset, other_end) = chosen[j]
        kind = "wrong_same" if j in same else "wrong_any"
        out.append((f"{kind}:{other_name}", other[: int((other_end + 0.05) * RATE)]))
    return out


def collect(limit: int) -> list[dict[str, Any]]:
    """Every case's evidence payload (cached)."""
    from bench.fair_judge import load_model, warm_up
    from interaction.asr.server.evidence import answer_evidence

    chosen = prompts()
    done = {}
    if CACHE.exists():
        done = {row["key"]: row for row in map(json.loads, CACHE.open(encoding="utf-8"))}
    rng = random.Random(7)
    model = None
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with CACHE.open("a", encoding="utf-8") as sink:
        for index, (name, text, _samples, bounds) in enumerate(chosen[:limit]):
            for kind, clip in cases(chosen, index, rng):
                key = f"{name}|{kind}"
                if key not in done:
                    if model is None:
                        warm_up()
                        model = load_model()
                    silence = np.zeros(int(0.3 * RATE), np.float32)  # the pause evaluated
                    payload = answer_evidence(
                        model,
                        np.concatenate([clip, silence]),
                        target_language="fr",
                        other_languages=("en",),
                        accepted_answers=[text],
                    )
                    done[key] = {"key": key, "name": name, "kind": kind, "answer": text}
                    done[key] |= {"speech": list(bounds), "evidence": payload}
                    sink.write(json.dumps(done[key], ensure_ascii=False) + "\n")
                    sink.flush()
                    print(key, "|", payload.get("transcript"), flush=True)
                rows.append(done[key])
    return rows


def label(kind: str) -> str | None:
    """What the case should be: U(nfinished) or C(omplete); None: left out."""
    if not kind.startswith("prefix"):
        return "C"
    rest = float(kind.split(":")[1])
    return "U" if rest >= REST_UNFINISHED_S else ("C" if rest == 0 else None)


def judged(row: dict[str, Any]) -> dict[str, Any]:
    evidence = row["evidence"]
    text = evidence.get("transcript") or ""
    answers = Answers((row["answer"],), "fr")
    alone = pause_kind(text, answers.texts, language="fr") == Pause.UNFINISHED
    with_evidence = read(text, answers, evidence=evidence).unfinished
    return {
        "key": row["key"],
        "group": row["kind"].split(":")[0].rstrip("0.123456789").rstrip("."),
        "expected": label(row["kind"]),
        "transcript": text,
        "words_alone": "U" if alone else "C",
        "with_evidence": "U" if with_evidence else "C",
    }


def summary(lines: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for way in ("words_alone", "with_evidence"):
        for group in GROUPS:
            rows = [line for line in lines if line["group"] == group and line["expected"]]
            right = sum(1 for line in rows if line[way] == line["expected"])
            counts = collections.Counter(f"{line['expected']}->{line[way]}" for line in rows)
            out[f"{way} · {group}"] = {"cases": len(rows), "right": right, **counts}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10**6, help="prompts")
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/pause_evidence.json")
    args = parser.parse_args()
    lines = [judged(row) for row in collect(args.limit)]
    prompt_count = len({line["key"].split("|")[0] for line in lines})
    result: dict[str, Any] = {"summary": summary(lines), "cases": lines, "prompts": prompt_count}
    text = json.dumps({**result, "cases": []}, indent=1, ensure_ascii=False)
    cases = ",\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    args.output.write_text(text.replace('"cases": []', f'"cases": [\n{cases}\n]'))
    print("| way · cases | expected | right | unfinished → complete | complete → unfinished |")
    print("|---|---|---|---|---|")
    for key, cell in result["summary"].items():
        expected = "unfinished" if key.endswith("prefix") else "complete"
        print(
            f"| {key} | {expected} | {cell['right']} / {cell['cases']} "
            f"| {cell.get('U->C', 0)} | {cell.get('C->U', 0)} |"
        )


if __name__ == "__main__":
    main()
