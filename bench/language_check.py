"""Language check and answer match on labelled espeak-ng clips, through the real path.

    python -m bench.language_check                      # initial_prompt (the default mode)
    python -m bench.language_check --bias-modes all     # + none and hotwords (bias effect)
    python -m bench.language_check --analyse-only       # tables from stored raw results

Each clip (bench/clipset.py) is decoded by `interaction.asr.audio.decode_upload` (the
upload path), recognised by `WhisperLiveProvider.transcribe` against a live
`manage.py run_asr_server` with the scenario's language and the turn's accepted answers as
bias, then judged by `interaction.judging.judge` with the Policy `interaction.services`
builds for an audio answer (effective rules of the scenario and turn; the learner's other
language as suspect). Bias modes are interleaved per clip, so their timings are side by side.

Raw recognition results go to bench/results/language_check_raw.json (reused: a rerun only
recognises what is missing; --fresh starts over); verdicts to language_check_verdicts.csv;
generated tables to language_check_report.md. Threshold sweeps re-judge the stored results.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS,
    django_setup,
    fmt,
    md_table,
    median,
    memory_mb,
    pct,
    recognise_wav,
    whisperlive_provider,
)

BIAS_MODES = ("none", "initial_prompt", "hotwords")
OUTCOMES = ("correct", "wrong_language", "incorrect_answer", "no_speech")
LANGUAGES = ("fr", "es", "de", "en")
DEFAULT_MODE = "initial_prompt"  # settings.ASR_BIAS_MODE's default
RAW = RESULTS / "language_check_raw.json"
WL_SWEEP = [round(0.40 + 0.05 * i, 2) for i in range(11)]
SIM_SWEEP = [80.0, 82.5, 85.0, 87.5, 90.0, 92.5, 95.0]


# --------------------------------------------------------------------------- recognition


def clip_modes(clip: Any, modes: list[str], bias_clips: str) -> list[str]:
    """The modes a clip is recognised in: the default mode always; the others on every clip
    (bias_clips="all") or on the first rendering of each phrase and the noise clips ("first")."""
    if bias_clips == "all" or clip.rendering == 0:
        return modes
    return [m for m in modes if m == DEFAULT_MODE]


async def recognise(
    clips: list[Any],
    modes: list[str],
    url: str,
    done: dict[tuple[str, str], dict[str, Any]],
    bias_clips: str = "first",
) -> None:
    from bench.clipset import turn_answers

    turns = turn_answers()
    provider = whisperlive_provider(url)
    todo = [
        (c, m) for c in clips for m in clip_modes(c, modes, bias_clips) if (c.id, m) not in done
    ]
    started = time.perf_counter()
    for number, clip in enumerate(clips):
        # rotate the order of modes per clip so none always runs first (timing fairness)
        own = clip_modes(clip, modes, bias_clips)
        rotated = own[number % len(own) :] + own[: number % len(own)]
        for mode in rotated:
            if (clip.id, mode) in done:
                continue
            answers = turns[(clip.scenario, clip.turn)].answers
            record: dict[str, Any] = {"clip": clip.id, "mode": mode}
            record.update(await recognise_wav(provider, clip.wav, clip.target, answers, mode))
            done[(clip.id, mode)] = record
        if number % 20 == 19:
            left = sum(1 for c, m in todo if (c.id, m) not in done)
            print(
                f"  {number + 1}/{len(clips)} clips, {time.perf_counter() - started:.0f} s, "
                f"{left} recognitions left",
                flush=True,
            )


# --------------------------------------------------------------------------- judging


def build_policies() -> dict[tuple[str, int], Any]:
    """(scenario, turn) -> Policy exactly as `services.answer_policy_get` builds it for audio."""
    from bench.common import demo_turn_rules
    from interaction.services import answer_policy_get
    from interaction.vocabulary import Source

    return {
        (turn.slug, turn.index): answer_policy_get(
            source=Source.AUDIO,
            target_language=turn.language,
            rules=turn.rules,
            other_languages=turn.other_languages,
        )
        for turn in demo_turn_rules()
    }


def verdict(record: Mapping[str, Any], answers: Iterable[str], policy: Any) -> Any:
    """`judge` on one stored result, as `attempt_record` builds the Evidence."""
    from interaction.judging import Evidence, judge

    return judge(
        Evidence(
            transcript=record.get("transcript", ""),
            language_probabilities=record.get("language_probabilities", {}),
            no_speech=record.get("no_speech", False),
        ),
        answers,
        policy,
    )


# --------------------------------------------------------------------------- analysis


def quantile(values: list[float], fraction: float) -> float:
    """The value at `fraction` of sorted `values` (nearest rank)."""
    return values[min(len(values) - 1, int(fraction * len(values)))]


def outcome_rate(
    rows: list[tuple[Any, Any, Any]],
    label: str,
    outcome: str,
    lang: str | None = None,
    kind: str | None = None,
) -> str:
    """ "P% (k/n)": how many clips spoken as `label` were judged `outcome`."""
    sel = [
        v
        for c, _, v in rows
        if c.label == label
        and (lang is None or c.target == lang)
        and (kind is None or c.kind == kind)
    ]
    hits = sum(v.outcome == outcome for v in sel)
    return f"{pct(hits, len(sel))} ({hits}/{len(sel)})"


def wilson(successes: int, total: int, z: float = 1.96) -> str:
    """95% Wilson score interval of a proportion, as "[lo–hi%]"."""
    if not total:
        return ""
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * ((p * (1 - p) / total + z * z / (4 * total * total)) ** 0.5) / (1 + z * z / total)
    return f"[{100 * max(0.0, centre - half):.0f}–{100 * min(1.0, centre + half):.0f}%]"


def precision_recall(rows: list[tuple[str, str]], outcome: str) -> tuple[str, str, int, int]:
    """(precision, recall, support, predicted) of `outcome` over (label, predicted) pairs."""
    tp = sum(1 for label, got in rows if label == outcome and got == outcome)
    predicted = sum(1 for _, got in rows if got == outcome)
    support = sum(1 for label, _ in rows if label == outcome)
    return pct(tp, predicted), pct(tp, support), support, predicted


def confusion(rows: list[tuple[str, str]]) -> str:
    counts = Counter(rows)
    table = []
    for label in OUTCOMES:
        total = sum(counts[(label, o)] for o in OUTCOMES)
        table.append([f"**{label}** ({total})", *(counts[(label, o)] or "·" for o in OUTCOMES)])
    return md_table(["spoken ↓ / judged →", *OUTCOMES], table)


def analyse(clips: list[Any], done: Mapping[tuple[str, str], Mapping[str, Any]]) -> str:
    from bench.clipset import turn_answers

    turns = turn_answers()
    policies = build_policies()
    by_id = {c.id: c for c in clips}
    modes = [m for m in BIAS_MODES if any((c.id, m) in done for c in clips)]
    main_mode = "initial_prompt" if "initial_prompt" in modes else modes[0]
    out: list[str] = []

    def judged(
        mode: str, *, wl: float | None = None, sim: float | None = None
    ) -> list[tuple[Any, Mapping[str, Any], Any]]:
        rows: list[tuple[Any, Mapping[str, Any], Any]] = []
        for clip in clips:
            record = done.get((clip.id, mode))
            if record is None or "error" in record:
                continue
            policy = policies[(clip.scenario, clip.turn)]
            if wl is not None:
                policy = replace(policy, wrong_language_probability=wl)
            if sim is not None:
                policy = replace(policy, answer_similarity=sim)
            rows.append(
                (clip, record, verdict(record, turns[(clip.scenario, clip.turn)].answers, policy))
            )
        return rows

    errors = [r for r in done.values() if "error" in r and r["clip"] in by_id]
    base = judged(main_mode)
    policy_note = policies[("cafe-paris", 0)]
    out.append(
        f"Clips: {len(clips)} ({Counter(c.label for c in clips)}); recognitions per mode: "
        + ", ".join(f"{m} {sum(1 for c in clips if (c.id, m) in done)}" for m in modes)
        + f"; errors: {len(errors)}."
    )
    out.append(
        f"Policy (default rules): wrong_language_probability "
        f"{policy_note.wrong_language_probability}, answer_similarity "
        f"{policy_note.answer_similarity}, suspects {policy_note.suspect_languages} "
        f"(English scenario: ('fr',))."
    )
    for error in errors[:10]:
        out.append(f"- error {error['clip']} [{error['mode']}]: {error['error']}")

    # confusion matrices and precision/recall, main mode
    out.append(f"\n## Confusion matrices ({main_mode})\n")
    for language in (*LANGUAGES, "all"):
        rows = [
            (c.label, v.outcome) for c, _, v in base if language == "all" or c.target == language
        ]
        out.append(f"\n### {language}\n\n" + confusion(rows))
    out.append(f"\n## Precision / recall per outcome ({main_mode})\n")
    table = []
    for outcome in OUTCOMES:
        row: list[object] = [outcome]
        for language in (*LANGUAGES, "all"):
            rows = [
                (c.label, v.outcome)
                for c, _, v in base
                if language == "all" or c.target == language
            ]
            p, r, support, _ = precision_recall(rows, outcome)
            row.append(f"{p} / {r} (n={support})")
        table.append(row)
    out.append(md_table(["outcome", *LANGUAGES, "all"], table))
    pairs = [(c.label, v.outcome) for c, _, v in base]
    intervals = []
    for outcome in OUTCOMES:
        tp = sum(1 for label, got in pairs if label == outcome == got)
        predicted = sum(1 for _, got in pairs if got == outcome)
        support = sum(1 for label, _ in pairs if label == outcome)
        intervals.append(
            [
                outcome,
                f"{tp}/{predicted} {wilson(tp, predicted)}",
                f"{tp}/{support} {wilson(tp, support)}",
            ]
        )
    out.append("\nAll languages, with 95% Wilson intervals:\n")
    out.append(md_table(["outcome", "precision", "recall"], intervals))

    # harm view: answers that should cost nothing but did
    harm = []
    for language in (*LANGUAGES, "all"):
        sel = [(c, v) for c, _, v in base if language == "all" or c.target == language]
        correct = [v for c, v in sel if c.label == "correct"]
        silent = [v for c, v in sel if c.label == "no_speech"]
        wrong = [v for c, v in sel if c.label in ("wrong_language", "incorrect_answer")]
        harm.append(
            [
                language,
                pct(
                    sum(v.outcome in ("wrong_language", "incorrect_answer") for v in correct),
                    len(correct),
                ),
                pct(sum(v.outcome == "wrong_language" for v in correct), len(correct)),
                pct(sum(v.outcome != "no_speech" for v in silent), len(silent)),
                pct(sum(v.outcome == "correct" for v in wrong), len(wrong)),
            ]
        )
    out.append(f"\n## What it costs learners ({main_mode})\n")
    out.append(
        md_table(
            [
                "target",
                "correct answers penalised",
                "…as wrong language",
                "no-speech clips not no_speech",
                "wrong/incorrect answers accepted",
            ],
            harm,
        )
    )

    # language ID evidence
    out.append("\n## Audio language ID (unbiased pass), by what was spoken\n")
    lid = []
    for language in LANGUAGES:
        for label in ("correct", "incorrect_answer", "wrong_language"):
            sel = [(c, r) for c, r, _ in base if c.target == language and c.label == label]
            if not sel:
                continue
            suspect = policies[(sel[0][0].scenario, sel[0][0].turn)].suspect_languages[0]
            target_p = [r["language_probabilities"].get(language, 0.0) for _, r in sel]
            suspect_p = [r["language_probabilities"].get(suspect, 0.0) for _, r in sel]
            top = Counter(
                max(r["language_probabilities"], key=r["language_probabilities"].get)
                for _, r in sel
                if r["language_probabilities"]
            )
            lid.append(
                [
                    language,
                    label,
                    len(sel),
                    f"{fmt(min(target_p))} / {fmt(median(target_p))} / {fmt(max(target_p))}",
                    f"{suspect}: {fmt(min(suspect_p))} / {fmt(median(suspect_p))} / "
                    f"{fmt(max(suspect_p))}",
                    ", ".join(f"{k} {n}" for k, n in top.most_common(4)),
                ]
            )
    out.append(
        md_table(
            [
                "target",
                "spoken",
                "n",
                "P(target) min/med/max",
                "P(suspect) min/med/max",
                "top language",
            ],
            lid,
        )
    )

    # sweeps
    out.append(f"\n## Sweep: wrong_language_probability ({main_mode}, similarity as configured)\n")
    sweep = []
    for threshold in WL_SWEEP:
        judged_rows = judged(main_mode, wl=threshold)
        sweep_row: list[object] = [f"{threshold:.2f}"]
        for language in (*LANGUAGES, "all"):
            pairs = [
                (c.label, v.outcome)
                for c, _, v in judged_rows
                if language == "all" or c.target == language
            ]
            p, r, _, _ = precision_recall(pairs, "wrong_language")
            false_wl = sum(
                1
                for c, _, v in judged_rows
                if (language == "all" or c.target == language)
                and c.label == "correct"
                and v.outcome == "wrong_language"
            )
            sweep_row.append(f"{p} / {r} · {false_wl}")
        sweep.append(sweep_row)
    out.append(
        "Cells: wrong_language precision / recall · correct answers judged wrong_language.\n\n"
        + md_table(["threshold", *LANGUAGES, "all"], sweep)
    )

    out.append(f"\n## Sweep: answer_similarity ({main_mode})\n")
    sweep = []
    for threshold in SIM_SWEEP:
        judged_rows = judged(main_mode, sim=threshold)
        pairs = [(c.label, v.outcome) for c, _, v in judged_rows]
        correct = [v for c, _, v in judged_rows if c.label == "correct"]
        incorrect = [(c, v) for c, _, v in judged_rows if c.label == "incorrect_answer"]
        near = [v for c, v in incorrect if c.kind == "near"]
        p, r, _, _ = precision_recall(pairs, "incorrect_answer")
        per_language = " · ".join(
            pct(
                sum(
                    v.outcome == "correct"
                    for c, _, v in judged_rows
                    if c.label == "correct" and c.target == lang
                ),
                sum(1 for c, _, v in judged_rows if c.label == "correct" and c.target == lang),
            )
            for lang in LANGUAGES
        )
        sweep.append(
            [
                f"{threshold:g}",
                pct(sum(v.outcome == "correct" for v in correct), len(correct)),
                per_language,
                pct(sum(v.outcome == "correct" for _, v in incorrect), len(incorrect)),
                pct(sum(v.outcome == "correct" for v in near), len(near)),
                f"{p} / {r}",
            ]
        )
    out.append(
        md_table(
            [
                "similarity",
                "correct accepted",
                "fr · es · de · en",
                "incorrect accepted",
                "near misses accepted",
                "incorrect_answer P / R",
            ],
            sweep,
        )
    )

    # similarity distribution for correct vs incorrect
    out.append(f"\n## Similarity of the transcript to the closest answer ({main_mode})\n")
    sims = []
    for label, kind in (("correct", ""), ("incorrect_answer", "near"), ("incorrect_answer", "far")):
        values = sorted(
            v.similarity
            for c, _, v in base
            if c.label == label
            and c.kind == kind
            and v.similarity is not None
            and v.outcome != "wrong_language"
        )
        if values:
            sims.append(
                [
                    f"{label} {kind}".strip(),
                    len(values),
                    fmt(values[0], 1),
                    fmt(quantile(values, 0.1), 1),
                    fmt(quantile(values, 0.5), 1),
                    fmt(quantile(values, 0.9), 1),
                    fmt(values[-1], 1),
                ]
            )
    out.append(md_table(["spoken", "n", "min", "p10", "median", "p90", "max"], sims))

    # bias effect
    if len(modes) > 1:
        out.append("\n## Bias effect (same clips, default thresholds)\n")
        ref_ms = {
            c.id: done[(c.id, "none")].get("asr_ms")
            for c in clips
            if (c.id, "none") in done and c.label != "no_speech"
        }
        common = {c.id for c in clips if all((c.id, m) in done for m in modes)}
        out.append(
            f"On the {sum(1 for c in clips if c.id in common and c.label != 'no_speech')} speech "
            f"clips and {sum(1 for c in clips if c.id in common and c.label == 'no_speech')} "
            "no-speech clips recognised in every mode.\n"
        )
        table = []
        for mode in modes:
            mode_rows = [row for row in judged(mode) if row[0].id in common]
            rate = functools.partial(outcome_rate, mode_rows)

            wrong_match = [
                (c, v)
                for c, _, v in mode_rows
                if c.label == "wrong_language"
                and v.similarity is not None
                and v.similarity >= policies[(c.scenario, c.turn)].answer_similarity
            ]
            n_wrong = sum(1 for c, _, _ in mode_rows if c.label == "wrong_language")
            speed = [
                done[(c.id, mode)]["asr_ms"] / ref_ms[c.id]
                for c, r, _ in mode_rows
                if c.id in ref_ms and ref_ms[c.id] and "asr_ms" in r
            ]
            table.append(
                [
                    mode,
                    rate("correct", "correct"),
                    " · ".join(
                        rate("correct", "correct", lang).split(" ")[0] for lang in LANGUAGES
                    ),
                    rate("incorrect_answer", "correct"),
                    rate("incorrect_answer", "correct", kind="near"),
                    rate("wrong_language", "correct"),
                    f"{pct(len(wrong_match), n_wrong)} ({len(wrong_match)}/{n_wrong})",
                    fmt(median(speed)),
                ]
            )
        out.append(
            md_table(
                [
                    "bias mode",
                    "correct accepted",
                    "fr · es · de · en",
                    "incorrect accepted",
                    "near misses accepted",
                    "wrong-language accepted",
                    "wrong-language transcript matches an answer",
                    "time vs none (median ratio)",
                ],
                table,
            )
        )
        # which clips change
        changes = []
        for clip in clips:
            if clip.label == "no_speech":
                continue
            outcomes = {}
            for mode in modes:
                rec = done.get((clip.id, mode))
                if rec and "error" not in rec:
                    outcomes[mode] = (
                        verdict(
                            rec,
                            turns[(clip.scenario, clip.turn)].answers,
                            policies[(clip.scenario, clip.turn)],
                        ).outcome,
                        rec.get("transcript", ""),
                    )
            if len({o for o, _ in outcomes.values()}) > 1:
                changes.append(
                    [
                        clip.target,
                        clip.label + (f" ({clip.kind})" if clip.kind else ""),
                        f"{clip.text} [{clip.voice} {clip.speed}]",
                    ]
                    + [
                        f"{outcomes[m][0]}: {outcomes[m][1]}" if m in outcomes else "–"
                        for m in modes
                    ]
                )
        out.append(f"\nClips whose verdict depends on the bias mode ({len(changes)}):\n")
        out.append(md_table(["target", "spoken", "text [voice speed]", *modes], changes))

    # two-pass agreement: a biased match must also be loosely supported by the unbiased pass
    if "none" in modes and DEFAULT_MODE in modes:
        from interaction.judging import answer_match

        both = [
            c
            for c in clips
            if c.label != "no_speech"
            and all(
                k in done and "error" not in done[k] for k in ((c.id, "none"), (c.id, DEFAULT_MODE))
            )
        ]
        out.append(
            f"\n## Alternative: two-pass agreement ({len(both)} speech clips with both passes)\n"
        )
        out.append(
            f"Judge the {DEFAULT_MODE} transcript as now, but accept it only when the unbiased "
            "(`none`) transcript is at least X similar to the matched answer; otherwise "
            "incorrect_answer.\n"
        )
        table = []
        for floor in (0, 20, 30, 40, 50, 60, 70, 80):
            counts: Counter[str] = Counter()
            totals: Counter[str] = Counter()
            for clip in both:
                key = (clip.scenario, clip.turn)
                v = verdict(done[(clip.id, DEFAULT_MODE)], turns[key].answers, policies[key])
                unbiased = answer_match(
                    done[(clip.id, "none")].get("transcript", ""),
                    turns[key].answers,
                    language=clip.target,
                    ignore_accents=policies[key].ignore_accents,
                )
                totals[clip.label] += 1
                if v.outcome == "correct" and unbiased.similarity >= floor:
                    counts[clip.label] += 1
            table.append(
                [floor]
                + [
                    f"{pct(counts[label], totals[label])} ({counts[label]}/{totals[label]})"
                    for label in ("correct", "incorrect_answer", "wrong_language")
                ]
            )
        out.append(
            md_table(
                ["X", "correct accepted", "incorrect accepted", "wrong-language accepted"], table
            )
        )

    # failures at the main mode
    out.append(f"\n## Misjudged clips ({main_mode})\n")
    fails = [
        [
            c.target,
            c.label + (f" ({c.kind})" if c.kind else ""),
            f"{c.text} [{c.voice} {c.speed}]",
            v.outcome,
            r.get("transcript", ""),
            fmt(v.similarity, 0),
            ", ".join(f"{k} {p:.2f}" for k, p in list(r["language_probabilities"].items())[:3]),
        ]
        for c, r, v in base
        if v.outcome != c.label
    ]
    out.append(
        md_table(
            [
                "target",
                "spoken",
                "text [voice speed]",
                "judged",
                "transcript",
                "sim",
                "language ID",
            ],
            fails,
        )
    )

    # timing (server-side work, per mode)
    out.append("\n## Timing (transcribe() wall time, speech clips)\n")
    table = []
    for mode in modes:
        ms = [
            done[(c.id, mode)].get("asr_ms")
            for c in clips
            if c.label != "no_speech" and (c.id, mode) in done
        ]
        audio = [
            done[(c.id, mode)].get("audio_ms")
            for c in clips
            if c.label != "no_speech" and (c.id, mode) in done
        ]
        rtf = [m / a for m, a in zip(ms, audio, strict=True) if m and a]
        silent = [
            done[(c.id, mode)].get("asr_ms")
            for c in clips
            if c.label == "no_speech" and (c.id, mode) in done
        ]
        table.append([mode, fmt(median(ms), 0), fmt(median(rtf)), fmt(median(silent), 0)])
    out.append(
        md_table(["mode", "median ms", "median ms / audio ms", "no-speech clips median ms"], table)
    )
    return "\n".join(out) + "\n"


def write_verdicts(
    clips: list[Any], done: Mapping[tuple[str, str], Mapping[str, Any]], path: Path
) -> None:
    from bench.clipset import turn_answers

    turns = turn_answers()
    policies = build_policies()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "clip",
                "target",
                "label",
                "kind",
                "voice",
                "speed",
                "text",
                "bias_mode",
                "outcome",
                "similarity",
                "transcript",
                "p_target",
                "p_suspect",
                "top_language",
                "top_p",
                "confidence",
                "asr_ms",
                "audio_ms",
            ]
        )
        for clip in clips:
            for mode in BIAS_MODES:
                record = done.get((clip.id, mode))
                if record is None:
                    continue
                policy = policies[(clip.scenario, clip.turn)]
                if "error" in record:
                    writer.writerow(
                        [
                            clip.id,
                            clip.target,
                            clip.label,
                            clip.kind,
                            clip.voice,
                            clip.speed,
                            clip.text,
                            mode,
                            "error",
                        ]
                    )
                    continue
                v = verdict(record, turns[(clip.scenario, clip.turn)].answers, policy)
                probs = record["language_probabilities"]
                writer.writerow(
                    [
                        clip.id,
                        clip.target,
                        clip.label,
                        clip.kind,
                        clip.voice,
                        clip.speed,
                        clip.text,
                        mode,
                        v.outcome,
                        v.similarity,
                        record.get("transcript", ""),
                        probs.get(clip.target, 0.0),
                        probs.get(policy.suspect_languages[0], 0.0),
                        v.language or "",
                        v.language_probability or "",
                        record.get("confidence"),
                        record.get("asr_ms"),
                        record.get("audio_ms"),
                    ]
                )


# --------------------------------------------------------------------------- main


def load_raw(path: Path) -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, Any]]]:
    if not path.is_file():
        return {}, {}
    data = json.loads(path.read_text())
    return data.get("meta", {}), {(r["clip"], r["mode"]): r for r in data["results"]}


def save_raw(
    path: Path, meta: Mapping[str, Any], clips: list[Any], done: Mapping[tuple[str, str], Any]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = {c.id for c in clips}
    data = {
        "meta": dict(meta),
        "clips": [
            {k: v for k, v in c.to_dict().items() if k not in ("path",)}
            | {"wav": Path(c.path).name}
            for c in clips
        ],
        "results": [r for key, r in sorted(done.items()) if key[0] in ids],
    }
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":"), indent=None) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.language_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--bias-modes",
        default="initial_prompt",
        help="comma list of none,initial_prompt,hotwords, or 'all'",
    )
    parser.add_argument(
        "--renderings", type=int, default=2, help="voice/speed renderings per phrase"
    )
    parser.add_argument("--server", help="use a running server (ws://…) instead of starting one")
    parser.add_argument("--analyse-only", action="store_true", help="no recognition: tables only")
    parser.add_argument("--fresh", action="store_true", help="ignore stored raw results")
    parser.add_argument(
        "--bias-clips",
        choices=("first", "all"),
        default="first",
        help="clips recognised in the non-default modes: the first rendering "
        "of each phrase plus noise (default), or all",
    )
    parser.add_argument("--limit", type=int, default=0, help="first N clips only (smoke test)")
    args = parser.parse_args(argv)
    modes = list(BIAS_MODES) if args.bias_modes == "all" else args.bias_modes.split(",")
    if unknown := set(modes) - set(BIAS_MODES):
        parser.error(f"unknown bias modes {unknown}")

    django_setup()
    from bench.clipset import build_clips

    clips = build_clips(args.renderings)
    if args.limit:
        clips = clips[: args.limit]
    meta, done = ({}, {}) if args.fresh else load_raw(RAW)
    missing = [
        (c.id, m)
        for c in clips
        for m in clip_modes(c, modes, args.bias_clips)
        if (c.id, m) not in done
    ]
    if missing and not args.analyse_only:
        print(f"recognising {len(missing)} clip × mode pairs …", flush=True)
        started = time.perf_counter()
        if args.server:
            asyncio.run(recognise(clips, modes, args.server, done, args.bias_clips))
        else:
            from bench.today_path import today_server

            # the prompted pass this bench measures lives in TODAY_COMMIT's server
            with today_server() as server:
                print(f"  {server.ready_line} (ready in {server.ready_s:.1f} s)", flush=True)
                asyncio.run(recognise(clips, modes, server.url, done, args.bias_clips))
                meta["server_memory_mb"] = memory_mb(server.pid)
                meta["server"] = (
                    server.ready_line.split(" ws://")[0]
                    + " "
                    + " ".join(server.ready_line.split()[3:])
                )
        meta["recognition_s"] = round(time.perf_counter() - started, 1)
        print(f"  done in {meta['recognition_s']} s", flush=True)
        save_raw(RAW, meta, clips, done)
    report = analyse(clips, done)
    (RESULTS / "language_check_report.md").write_text(
        "# Language check: generated tables\n\n" + report
    )
    write_verdicts(clips, done, RESULTS / "language_check_verdicts.csv")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
