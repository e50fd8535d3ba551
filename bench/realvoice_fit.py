"""Fit the judge on the real-voice bench's fitting part, and report every part.

`fit`: a multinomial logistic regression (numpy, L2) over `interaction.judge_features`,
classes correct / incorrect_answer / wrong_language, fitted on the `fit` split only; its
probability floors (one per tier) are chosen on out-of-fold predictions of that same split
(5 folds by speaker, or by prompt for single-speaker sources) to minimise the written-down
costs under the harm limits (COSTS, LIMITS). Writes interaction/judge_model.json.

`report`: today's judge (bench/judge_before.py: the hand-tuned rule of the last commit that
had it) and the fitted judge on every case, per split and source, in one table
(bench/results/realvoice_report.md and .json). Nothing in `heldout` or `outside` is read by
`fit`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.common import REPO, RESULTS
from bench.realvoice import Case, Clip, case_payloads, stable_hash

MODEL_FILE = REPO / "interaction" / "judge_model.json"
REPORT = RESULTS / "realvoice_report.md"
REPORT_JSON = RESULTS / "realvoice_report.json"
CLASSES = (
    "correct",
    "near_miss",
    "another_sentence",
    "wrong_language",
    "translated",
    "garbled",
)
OUTCOME_OF = {
    "correct": "correct",
    "near_miss": "incorrect_answer",
    "another_sentence": "incorrect_answer",
    "wrong_language": "wrong_language",
    "translated": "wrong_language",
    "garbled": "unclear",  # speech no one can make out: a class of its own, never a tier
}
OUTCOMES = ("correct", "incorrect_answer", "wrong_language")
PENALTIES = ("incorrect_answer", "wrong_language")
L2 = 0.001
"""Ridge on the weights of the mean loss (features are standardised, some collinear)."""
FOLDS = 5
COSTS = {
    "heart_on_correct": 20.0,  # the worst: a learner who said it right loses a heart
    "heart_on_doubt": 10.0,  # a heart lost on speech no one could make out
    "points_on_wrong": 8.0,  # a wrong answer earns points: the game stops teaching
    "wrong_penalty_kind": 0.5,  # a wrong answer penalised, but as the other penalty
    "unclear": 1.0,  # "say it again": annoying, harmless
}
LIMITS = {"heart_on_correct": 0.01, "points_on_wrong": 0.005, "heart_on_doubt": 0.05}
"""Harm allowed on the out-of-fold fitting predictions: half the goals (2 % and 1 %), so
that new speech, which always does a little worse, still meets them."""
FLOOR_GRID = tuple(
    round(x, 3) for x in np.concatenate([np.arange(0.3, 0.9, 0.02), np.arange(0.9, 0.995, 0.005)])
)


@dataclass
class Row:
    case: Case
    features: dict[str, float]
    payload: dict[str, Any]


def rows_of(clips: Sequence[Clip], cases: Sequence[Case]) -> list[Row]:
    from interaction.audio_evidence import AudioEvidence
    from interaction.judge_features import answer_features

    rows = []
    for case, payload in case_payloads(clips, cases):
        evidence = AudioEvidence.from_payload(payload)
        features = answer_features(evidence, case.answers, target=case.target, others=case.others)
        rows.append(Row(case, features, payload))
    return rows


def speech_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows a tier can be learnt from: speech the VAD kept (no-speech is a rule)."""
    return [r for r in rows if r.case.kind in CLASSES and not r.payload.get("no_speech")]


# --- the regression --------------------------------------------------------------------------


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    return mean, scale


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_softmax(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent (Adam), L2 on weights."""
    d = x.shape[1]
    k = len(CLASSES)
    w = np.zeros((d, k))
    b = np.zeros(k)
    onehot = np.eye(k)[y]
    m = [np.zeros_like(w), np.zeros_like(b)]
    v = [np.zeros_like(w), np.zeros_like(b)]
    total = weights.sum()
    for step in range(1, 3001):
        p = softmax(x @ w + b)
        error = (p - onehot) * weights[:, None] / total
        grads = [x.T @ error + L2 * w, error.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((w, b), grads, strict=True)):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad**2
            param -= 0.05 * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
    return w, b


def class_weights(y: np.ndarray) -> np.ndarray:
    """Each class weighs the same in total (the cases per class are uneven)."""
    counts = np.bincount(y, minlength=len(CLASSES)).astype(float)
    return (len(y) / (len(CLASSES) * np.maximum(counts, 1)))[y]


def matrix(rows: Sequence[Row], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[row.features.get(name, 0.0) for name in names] for row in rows])
    y = np.array([CLASSES.index(row.case.kind) for row in rows])
    return x, y


def outcome_probabilities(p: np.ndarray) -> np.ndarray:
    """Class probabilities summed into the outcomes' (OUTCOMES order)."""
    columns = [
        p[:, [i for i, name in enumerate(CLASSES) if OUTCOME_OF[name] == outcome]].sum(axis=1)
        for outcome in OUTCOMES
    ]
    return np.stack(columns, axis=1)


def group_of(row: Row) -> str:
    """Folds never split a speaker (or, for one-voice packages, a prompt)."""
    case = row.case
    return case.clip if case.source.startswith("asterisk") else case.clip.split("-")[1][:5]


def out_of_fold(rows: Sequence[Row], names: Sequence[str]) -> np.ndarray:
    x, y = matrix(rows, names)
    folds = np.array([int(stable_hash("fold", group_of(row)) * FOLDS) for row in rows])
    p = np.zeros((len(rows), len(CLASSES)))
    for fold in range(FOLDS):
        train, test = folds != fold, folds == fold
        mean, scale = standardise(x[train])
        w, b = fit_softmax((x[train] - mean) / scale, y[train], class_weights(y[train]))
        p[test] = softmax((x[test] - mean) / scale @ w + b)
    return outcome_probabilities(p)


# --- floors ----------------------------------------------------------------------------------


def decide(p: np.ndarray, floors: tuple[float, float, float]) -> np.ndarray:
    """Index per row: 0..2 a class, 3 unclear (the product's rule: interaction.judge_model)."""
    out = np.full(len(p), 3)
    penalty = np.where(p[:, 1] >= p[:, 2], 1, 2)
    penalty_p = p[np.arange(len(p)), penalty]
    penalty_floor = np.where(penalty == 1, floors[1], floors[2])
    out[penalty_p >= penalty_floor] = penalty[penalty_p >= penalty_floor]
    out[p[:, 0] >= floors[0]] = 0
    return out


DOUBT = 3
"""`y` of the rows where only `unclear` is fair (garbled speech, noise the VAD let through)."""


def label_of(row: Row) -> int:
    """The row's fair outcome as `decide` numbers them (DOUBT: only `unclear` is fair)."""
    outcome = OUTCOME_OF[row.case.kind]
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else DOUBT


def harms(decided: np.ndarray, y: np.ndarray) -> dict[str, tuple[int, int]]:
    """Each harm as (cases it happened to, cases it could happen to)."""
    correct, wrong, doubt = y == 0, np.isin(y, (1, 2)), y == DOUBT
    penalised = np.isin(decided, (1, 2))
    return {
        "heart_on_correct": (int(np.sum(penalised & correct)), int(np.sum(correct))),
        "points_on_wrong": (
            int(np.sum((decided == 0) & (wrong | doubt))),
            int(np.sum(wrong | doubt)),
        ),
        "heart_on_doubt": (int(np.sum(penalised & doubt)), int(np.sum(doubt))),
        "wrong_penalty_kind": (int(np.sum(penalised & wrong & (decided != y))), int(np.sum(wrong))),
        "unclear": (int(np.sum((decided == 3) & ~doubt)), int(np.sum(~doubt))),
    }


def rates_of(counts: dict[str, tuple[int, int]]) -> dict[str, float]:
    return {name: (n / of if of else 0.0) for name, (n, of) in counts.items()}


def choose_floors(
    p: np.ndarray, y: np.ndarray
) -> tuple[tuple[float, float, float], dict[str, float]]:
    """The floors of least cost within the limits: the limits are rates per kind of case,
    the cost is per case (COSTS: what one such verdict costs a learner)."""
    best: tuple[float, tuple[float, float, float], dict[str, float]] | None = None
    for fc in FLOOR_GRID:
        for fi in FLOOR_GRID:
            for fw in FLOOR_GRID:
                counts = harms(decide(p, (fc, fi, fw)), y)
                rates = rates_of(counts)
                if any(rates[k] > LIMITS[k] for k in LIMITS):
                    continue
                cost = sum(COSTS[k] * counts[k][0] for k in COSTS)
                if best is None or cost < best[0]:
                    best = (cost, (fc, fi, fw), rates)
    if best is None:
        raise SystemExit("no floors meet the harm limits")
    return best[1], best[2]


def fit(clips: Sequence[Clip], cases: Sequence[Case]) -> None:
    from interaction.judge_features import feature_names

    names = feature_names()
    every = [r for r in rows_of(clips, cases) if r.case.split == "fit"]
    rows = speech_rows(every)
    doubt = [r for r in every if r.case.expected == "no_speech" and not r.payload.get("no_speech")]
    print(f"fitting on {len(rows)} cases; {len(doubt)} noise clips the VAD let through")
    fitted = fitted_judge(rows, doubt, names)
    print("floors", fitted.floors, {k: round(v, 4) for k, v in fitted.rates.items()})
    model = {
        "version": 1,
        "fitted": dt.datetime.now(dt.UTC).date().isoformat(),
        "by": "python -m bench.realvoice fit",
        "data": f"{len(rows)} real-voice cases of the bench's fit split (bench/realvoice.py)",
        "classes": list(CLASSES),
        "outcomes": OUTCOME_OF,
        "features": list(names),
        "mean": [round(float(v), 6) for v in fitted.mean],
        "scale": [round(float(v), 6) for v in fitted.scale],
        "weights": [[round(float(v), 6) for v in row] for row in fitted.weights.T],
        "intercepts": [round(float(v), 6) for v in fitted.intercepts],
        "floors": {name: float(v) for name, v in zip(OUTCOMES, fitted.floors, strict=True)},
        "costs": COSTS,
        "limits": LIMITS,
        "out_of_fold": {k: round(v, 4) for k, v in fitted.rates.items()},
    }
    MODEL_FILE.write_text(json.dumps(model, indent=1) + "\n")
    print(f"wrote {MODEL_FILE.relative_to(REPO)}")


# --- report ----------------------------------------------------------------------------------


def verdicts(rows: Sequence[Row]) -> dict[str, dict[str, str]]:
    """Outcome per judge and case: today's hand-tuned rule and the fitted judge."""
    from bench import judge_before
    from interaction.audio_evidence import AudioEvidence
    from interaction.audio_judging import AudioJudgingPolicy, judge_audio

    out: dict[str, dict[str, str]] = {"today": {}, "fitted": {}}
    for row in rows:
        evidence = AudioEvidence.from_payload(row.payload)
        case = row.case
        before = judge_before.judge_audio(
            evidence,
            case.answers,
            judge_before.AudioJudgingPolicy(
                target_language=case.target, other_languages=case.others
            ),
        )
        after = judge_audio(
            evidence,
            case.answers,
            AudioJudgingPolicy(target_language=case.target, other_languages=case.others),
        )
        out["today"][case.id] = str(before.outcome)
        out["fitted"][case.id] = str(after.outcome)
    return out


def figures(pairs: Sequence[tuple[Case, str]]) -> dict[str, Any]:
    """The issue's measures over (case, outcome) pairs; rates 0..1 with their counts."""

    def rate(selected: list[bool]) -> tuple[float | None, int]:
        return (sum(selected) / len(selected) if selected else None, len(selected))

    correct = [o for c, o in pairs if c.expected == "correct"]
    wrong = [o for c, o in pairs if c.expected in PENALTIES]
    foreign = [o for c, o in pairs if c.expected == "wrong_language"]
    answers = [(c, o) for c, o in pairs if c.expected in OUTCOMES]
    return {
        "cases": len(pairs),
        "correct_accepted": rate([o == "correct" for o in correct]),
        "correct_penalised": rate([o in PENALTIES for o in correct]),
        "wrong_caught": rate([o in PENALTIES for o in wrong]),
        "wrong_rewarded": rate([o == "correct" for o in wrong]),
        "wrong_language_caught": rate([o == "wrong_language" for o in foreign]),
        "unclear": rate([o == "unclear" for _, o in answers]),
        "right": rate([o == c.expected for c, o in pairs]),
    }


COLUMNS = (
    ("correct_accepted", "correct accepted"),
    ("correct_penalised", "correct penalised"),
    ("wrong_caught", "wrong caught"),
    ("wrong_rewarded", "wrong rewarded"),
    ("wrong_language_caught", "wrong language caught"),
    ("unclear", "unclear (answers)"),
    ("right", "right verdicts"),
)


def _cell(value: tuple[float | None, int]) -> str:
    share, count = value
    return "—" if share is None else f"{100 * share:.1f} % ({round(share * count)}/{count})"


def report(clips: Sequence[Clip], cases: Sequence[Case]) -> None:
    rows = rows_of(clips, cases)
    judged = verdicts(rows)
    groups: dict[tuple[str, str], list[Case]] = defaultdict(list)
    for row in rows:
        case = row.case
        source = "learners" if case.source.startswith("speechocean") else "native"
        if case.source == "noise":
            source = "no speech"
        groups[(case.split, source)].append(case)
        groups[(case.split, "all")].append(case)
    table: dict[str, Any] = {}
    lines = [
        "# Real-voice bench: today's judge and the fitted judge",
        "",
        f"{len(rows)} cases from {len({r.case.clip for r in rows})} recordings "
        "(bench/realvoice.py says where each comes from). `fit`: what the judge was fitted "
        "on; `heldout`: speakers (prompts, for one-voice packages) it never saw; `outside`: "
        "sources never used for fitting or choosing.",
        "",
        "| split | voices | judge | cases | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---|---|---|---|" + "---|" * len(COLUMNS),
    ]
    for (split, source), members in sorted(
        groups.items(),
        key=lambda kv: (["fit", "heldout", "outside", "synthetic"].index(kv[0][0]), kv[0][1]),
    ):
        for judge in ("today", "fitted"):
            result = figures([(c, judged[judge][c.id]) for c in members])
            table[f"{split}/{source}/{judge}"] = result
            cells = " | ".join(_cell(result[key]) for key, _ in COLUMNS)
            lines.append(f"| {split} | {source} | {judge} | {result['cases']} | {cells} |")
    lines += ["", "## Misjudged held-out cases (fitted judge)", ""]
    for row in rows:
        case = row.case
        outcome = judged["fitted"][case.id]
        harmful = (case.expected == "correct" and outcome in PENALTIES) or (
            case.expected in PENALTIES and outcome == "correct"
        )
        if case.split != "fit" and harmful:
            lines.append(
                f"- {case.id} ({case.kind}, target {case.target}): said “{case.spoken}”, "
                f"heard “{row.payload.get('transcript', '')}”, "
                f"answers {list(case.answers)} → {outcome}"
            )
    REPORT.write_text("\n".join(lines) + "\n")
    REPORT_JSON.write_text(json.dumps(table, indent=1) + "\n")
    print("\n".join(lines[:60]))


# --- which evidence bought which gain ----------------------------------------------------------

SENTENCE_LEVEL = (
    "margin",
    "answer_logprob",
    "transcript_logprob",
    "similarity",
    "decode_logprob",
    "no_speech_prob",
    "looped",
    "log_speech_s",
    "filler",
    "unexplained_s",
    "behind_s",
)
LANGUAGE = (
    "target_probability",
    "other_probability",
    "other_log_odds",
    "other_fit",
    "other_logprob",
    "has_suspects",
)


@dataclass
class Fitted:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # features × classes
    intercepts: np.ndarray
    floors: tuple[float, float, float]
    rates: dict[str, float]  # out-of-fold harm and unclear at those floors

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(outcome) per row of raw features (OUTCOMES order)."""
        z = (x - self.mean) / self.scale
        return outcome_probabilities(softmax(z @ self.weights + self.intercepts))


def fitted_judge(rows: Sequence[Row], doubt: Sequence[Row], names: Sequence[str]) -> Fitted:
    """The regression fitted on `rows` and its floors chosen on their out-of-fold predictions
    and on `doubt` (rows where only `unclear` is fair)."""
    x, y = matrix(rows, names)
    mean, scale = standardise(x)
    w, b = fit_softmax((x - mean) / scale, y, class_weights(y))
    x_doubt = np.array(
        [[r.features.get(name, 0.0) for name in names] for r in doubt], dtype=float
    ).reshape(len(doubt), len(names))
    p = np.vstack(
        [
            out_of_fold(rows, names),
            outcome_probabilities(softmax((x_doubt - mean) / scale @ w + b)),
        ]
    )
    outcomes = [label_of(row) for row in rows]
    floors, rates = choose_floors(p, np.array(outcomes + [DOUBT] * len(doubt)))
    return Fitted(mean, scale, w, b, floors, rates)


def ablation(clips: Sequence[Clip], cases: Sequence[Case]) -> None:
    """Held-out figures of judges fitted on less evidence: sentence-level scores only; plus
    the miscue detector; plus language (everything)."""
    from interaction.judge_features import feature_names

    every = rows_of(clips, cases)
    fit_rows = [r for r in every if r.case.split == "fit"]
    train = speech_rows(fit_rows)
    doubt = [r for r in fit_rows if r.case.expected == "no_speech"]
    doubt = [r for r in doubt if not r.payload.get("no_speech")]
    test = [r for r in every if r.case.split == "heldout" and not r.payload.get("no_speech")]
    names = feature_names()
    variants = {
        "sentence scores only": SENTENCE_LEVEL,
        "+ language (learner's)": SENTENCE_LEVEL + LANGUAGE,
        "+ miscue detector (all)": names,
    }
    lines = ["| evidence | " + " | ".join(label for _, label in COLUMNS) + " |"]
    lines.append("|---|" + "---|" * len(COLUMNS))
    for label, subset in variants.items():
        fitted = fitted_judge(train, doubt, subset)
        x = np.array([[r.features.get(name, 0.0) for name in subset] for r in test])
        decided = decide(fitted.probabilities(x), fitted.floors)
        names_of = (*OUTCOMES, "unclear")
        result = figures([(r.case, names_of[d]) for r, d in zip(test, decided, strict=True)])
        lines.append(f"| {label} | " + " | ".join(_cell(result[k]) for k, _ in COLUMNS) + " |")
    # the same judge, but only the old global default (English) suspected
    from interaction.audio_evidence import AudioEvidence
    from interaction.judge_features import answer_features

    english = [
        [
            answer_features(
                AudioEvidence.from_payload(r.payload),
                r.case.answers,
                target=r.case.target,
                others=("en",) if r.case.target != "en" else (),
            ).get(name, 0.0)
            for name in names
        ]
        for r in test
    ]
    decided = decide(fitted.probabilities(np.array(english)), fitted.floors)
    result = figures(
        [(r.case, (*OUTCOMES, "unclear")[d]) for r, d in zip(test, decided, strict=True)]
    )
    label = "all, but English the only suspect"
    lines.append(f"| {label} | " + " | ".join(_cell(result[k]) for k, _ in COLUMNS) + " |")
    text = "\n".join(lines)
    (RESULTS / "realvoice_ablation.md").write_text(text + "\n")
    print(text)
