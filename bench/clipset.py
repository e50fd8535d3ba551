"""The labelled clip set: espeak-ng speech for every turn of the demo scenarios.

For each turn of `scenarios/demo/*.yaml`:

- `correct`: accepted answers, spoken in the target language;
- `wrong_language`: the same answers translated into the learner's other language and spoken
  in it (English for fr/es/de; for the English scenario we assume a French-speaking learner,
  so the other language is French — with the default setting, English, an English scenario
  has no suspect language at all);
- `incorrect_answer`: plausible wrong answers in the target language, one *near miss* (one
  content word changed: "thé" for "café", "Hamburg" for "München") and one *far miss*;
- `no_speech`: digital silence and three kinds of noise (no speech at all).

Each phrase is rendered `renderings` times (default 2) with a different espeak-ng voice
variant and speed (130/160/190 words per minute), rotating so that every voice and speed is
used about equally. Clips are 16 kHz mono 16-bit WAVs (sox -D: no dither, identical on every
run), cached under var/bench/clips.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from bench.common import CACHE, REPO

VOICES = {
    "fr": ["fr", "fr+f3", "fr-be+m3", "fr-ch+f2"],
    "es": ["es", "es+f3", "es-419", "es-419+f2"],
    "de": ["de", "de+f3", "de+m3", "de+f2"],
    "en": ["en-us", "en-us+f3", "en-gb", "en-gb-scotland+f2"],
}
SPEEDS = [130, 160, 190]
OTHER_LANGUAGE = {"fr": "en", "es": "en", "de": "en", "en": "fr"}
"""The learner's other language per target (the product default is English; see above)."""

# Noise clips: (name, sox synth arguments). RMS in a 2 s clip: white 0.006, pink 0.06,
# brown 0.29 — hiss, a noisy room, a rumble/handling noise.
NOISES = [
    ("silence", []),
    ("white", ["synth", "2.0", "whitenoise", "vol", "0.02"]),
    ("pink", ["synth", "2.0", "pinknoise", "vol", "0.3"]),
    ("brown", ["synth", "2.0", "brownnoise", "vol", "0.5"]),
]

# (scenario slug, turn index) -> phrases per label. Correct phrases are accepted answers;
# wrong-language ones are their translations; incorrect ones: [near miss, far miss].
PHRASES: dict[tuple[str, int], dict[str, list[str]]] = {
    ("cafe-paris", 0): {
        "correct": ["Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît"],
        "wrong_language": ["I would like a coffee, please", "A coffee, please"],
        "incorrect_answer": ["Je voudrais un thé, s'il vous plaît", "Où sont les toilettes ?"],
    },
    ("cafe-paris", 1): {
        "correct": ["Sur place, s'il vous plaît", "À emporter"],
        "wrong_language": ["For here, please", "To take away"],
        "incorrect_answer": ["Sur la table, s'il vous plaît", "Je ne sais pas"],
    },
    ("cafe-paris", 2): {
        "correct": ["Voilà, merci beaucoup", "Merci beaucoup"],
        "wrong_language": ["Here you are, thank you very much", "Thank you very much"],
        "incorrect_answer": ["Voilà, bonne soirée", "C'est trop cher"],
    },
    ("hotel-lyon", 0): {
        "correct": ["Oui, j'ai une réservation", "Oui, au nom de Martin"],
        "wrong_language": ["Yes, I have a reservation", "Yes, in the name of Martin"],
        "incorrect_answer": ["Non, je n'ai pas de réservation", "Je voudrais un café"],
    },
    ("hotel-lyon", 1): {
        "correct": ["Pour deux nuits", "Deux nuits"],
        "wrong_language": ["For two nights", "Two nights"],
        "incorrect_answer": ["Pour trois nuits", "Une chambre avec vue sur la mer"],
    },
    ("hotel-lyon", 2): {
        "correct": ["Merci, bonne soirée", "Merci beaucoup"],
        "wrong_language": ["Thank you, good evening", "Thank you very much"],
        "incorrect_answer": ["Merci, bonne journée", "Où est l'ascenseur ?"],
    },
    ("tapas-madrid", 0): {
        "correct": ["Quiero una tortilla, por favor", "Una tortilla, por favor"],
        "wrong_language": ["I want a tortilla, please", "A tortilla, please"],
        "incorrect_answer": ["Quiero una cerveza, por favor", "¿Dónde está el baño?"],
    },
    ("tapas-madrid", 1): {
        "correct": ["Un agua, por favor", "Una cerveza, por favor"],
        "wrong_language": ["Water, please", "A beer, please"],
        "incorrect_answer": ["Un vino, por favor", "No tengo hambre"],
    },
    ("tapas-madrid", 2): {
        "correct": ["Aquí tiene, gracias", "Gracias"],
        "wrong_language": ["Here you are, thanks", "Thank you"],
        "incorrect_answer": ["No, gracias", "Es demasiado caro"],
    },
    ("bahnhof-berlin", 0): {
        "correct": ["Ich möchte nach München fahren", "Nach München, bitte"],
        "wrong_language": ["I would like to go to Munich", "To Munich, please"],
        "incorrect_answer": ["Ich möchte nach Hamburg fahren", "Wo ist die Toilette?"],
    },
    ("bahnhof-berlin", 1): {
        "correct": ["Hin und zurück, bitte", "Einfach, bitte"],
        "wrong_language": ["Return, please", "One way, please"],
        "incorrect_answer": ["Zweimal, bitte", "Ich weiß es nicht"],
    },
    ("bahnhof-berlin", 2): {
        "correct": ["Hier, bitte", "Vielen Dank"],
        "wrong_language": ["Here you are", "Thank you very much"],
        "incorrect_answer": ["Nein, danke", "Das ist zu teuer"],
    },
    ("directions-london", 0): {
        "correct": ["Where is the station, please?", "Excuse me, where is the station?"],
        "wrong_language": ["Où est la gare, s'il vous plaît ?", "Excusez-moi, où est la gare ?"],
        "incorrect_answer": ["Where is the museum, please?", "I would like a coffee"],
    },
    ("directions-london", 1): {
        "correct": ["Thank you very much", "Thanks a lot"],
        "wrong_language": ["Merci beaucoup", "Merci bien"],
        "incorrect_answer": ["No, thank you", "What time is it?"],
    },
}
LABELS = ("correct", "wrong_language", "incorrect_answer", "no_speech")


@dataclass(frozen=True)
class Turn:
    scenario: str
    index: int
    language: str
    answers: tuple[str, ...]
    prompt: str


@dataclass(frozen=True)
class Clip:
    id: str
    scenario: str
    turn: int
    target: str  # the scenario's language
    label: str  # expected outcome
    text: str  # what was spoken ("" for no_speech)
    spoken_language: str | None  # language of `text`
    voice: str
    speed: int | None
    kind: str  # "near"/"far" for incorrect answers, the noise name for no_speech, else ""
    path: str  # relative to the repository
    rendering: int = 0  # 0..renderings-1 (noise clips: 0)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def wav(self) -> Path:
        return REPO / self.path


def demo_turns() -> list[Turn]:
    """Every turn of the demo scenarios, validated by the product's own spec parser."""
    from scenarios.specs import spec_from_mapping

    turns: list[Turn] = []
    for path in sorted((REPO / "scenarios" / "demo").glob("*.yaml")):
        spec = spec_from_mapping(yaml.safe_load(path.read_text()))
        for index, turn in enumerate(spec.turns):
            turns.append(Turn(spec.slug, index, spec.language, tuple(turn.answers), turn.prompt))
    return turns


def build_clips(renderings: int = 2, cache: Path = CACHE / "clips") -> list[Clip]:
    """Synthesise (or reuse) every clip; deterministic order and voices."""
    clips: list[Clip] = []
    counters = {language: 0 for language in VOICES}
    for turn in demo_turns():
        phrases = PHRASES.get((turn.scenario, turn.index))
        if phrases is None:
            raise KeyError(f"no bench phrases for {turn.scenario} turn {turn.index}")
        for label in ("correct", "wrong_language", "incorrect_answer"):
            spoken = OTHER_LANGUAGE[turn.language] if label == "wrong_language" else turn.language
            for number, text in enumerate(phrases[label]):
                kind = ("near", "far")[number] if label == "incorrect_answer" else ""
                for rendering in range(renderings):
                    slot = counters[spoken]
                    counters[spoken] += 1
                    voice = VOICES[spoken][slot % len(VOICES[spoken])]
                    speed = SPEEDS[slot % len(SPEEDS)]
                    path = _speech(text, voice, speed, cache)
                    clips.append(
                        Clip(
                            id=f"{turn.scenario}/{turn.index}/{label}/{path.stem}",
                            scenario=turn.scenario,
                            turn=turn.index,
                            target=turn.language,
                            label=label,
                            text=text,
                            spoken_language=spoken,
                            voice=voice,
                            speed=speed,
                            kind=kind,
                            path=str(path.relative_to(REPO)),
                            rendering=rendering,
                        )
                    )
        for name, synth in NOISES:
            path = _noise(name, synth, cache)
            clips.append(
                Clip(
                    id=f"{turn.scenario}/{turn.index}/no_speech/{name}",
                    scenario=turn.scenario,
                    turn=turn.index,
                    target=turn.language,
                    label="no_speech",
                    text="",
                    spoken_language=None,
                    voice="",
                    speed=None,
                    kind=name,
                    path=str(path.relative_to(REPO)),
                )
            )
    return clips


def turn_answers() -> dict[tuple[str, int], Turn]:
    return {(turn.scenario, turn.index): turn for turn in demo_turns()}


def _speech(text: str, voice: str, speed: int, cache: Path) -> Path:
    from tests.speech import speak

    digest = hashlib.sha1(f"{voice}|{speed}|{text}".encode()).hexdigest()[:10]
    safe_voice = voice.replace("+", "_")
    return speak(text, voice, speed=speed, path=cache / f"{safe_voice}-{speed}-{digest}.wav")


def _noise(name: str, synth: list[str], cache: Path) -> Path:
    from tests.speech import silence

    path = cache / f"noise-{name}.wav"
    if not synth:
        return silence(2.0, path=path)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["sox", "-D", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), *synth],
            check=True,
            capture_output=True,
        )
    return path
