"""The moderation classifier's labelled corpus: templates (chat/moderation_data/corpus/*.yaml)
expanded with slot words, paraphrase frames and obfuscations into TSV files.

Two sources, written apart: train_templates.yaml → train.tsv (what the model learns from) and
test_templates.yaml → test.tsv + test_adversarial.tsv (the FROZEN test set: other wording, other
frames, other obfuscation seeds). The test files are only rewritten with
`build_moderation_corpus --rewrite-test-set`; tests pin their checksums. Everything is seeded, so
the same templates always give the same files.

The corpus reads only chat/moderation_data/: the rows it takes from Ivan's persona files (his facts,
style examples, evaluation prompts, the persona team's labelled replies) are frozen in
`persona_rows.tsv`, so editing his persona does not change train.tsv or stale the committed model.
`build_moderation_corpus --refresh-persona-snapshot` re-reads them on purpose (then retrain).

A row is `label<TAB>category<TAB>language<TAB>text`: label `harmful` (must be blocked) or
`harmless` (must pass); category is the harm (for harmful) or the topic the hard negative is about
(`general` for everyday chat).
"""

from __future__ import annotations

import csv
import hashlib
import random
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from digitalme.language import detect_language

CORPUS_DIR = Path(__file__).resolve().parent / "moderation_data" / "corpus"
TRAIN_FILE = CORPUS_DIR / "train.tsv"
TEST_FILE = CORPUS_DIR / "test.tsv"
ADVERSARIAL_FILE = CORPUS_DIR / "test_adversarial.tsv"
# Hand-written free sentences (issue 15, fourth pass), never trained on: what changes to the corpus,
# features and thresholds are judged on, so the frozen set is measured once per change, not tuned to.
DEV_FILE = CORPUS_DIR / "dev.tsv"
FEEDBACK_FILE = CORPUS_DIR / "feedback.tsv"  # rows reviewers marked in the admin (train only)
# The persona rows as they were last taken on purpose (see `persona_snapshot_refresh`).
PERSONA_SNAPSHOT_FILE = CORPUS_DIR / "persona_rows.tsv"

HARMFUL = "harmful"
HARMLESS = "harmless"
LANGUAGES = ("en", "ru")


@dataclass(frozen=True)
class Sample:
    label: str
    category: str
    language: str
    text: str
    group: str = ""  # the template a row came from: cross-validation keeps a group together

    @property
    def harmful(self) -> bool:
        return self.label == HARMFUL


# --- Paraphrase frames: the same request said around different words -------------------------
# Frames wrap harmful and harmless rows alike, so the model learns they carry no signal.

TRAIN_FRAMES = {
    "en": [
        "{x}",
        "{x}?",
        "can you tell me {x}",
        "pls {x}",
        "hey ivan, {x}",
        "asking for real: {x}",
        "{x}, thanks in advance",
        "quick question - {x}",
        "I need to know: {x}",
        "{x}. answer me",
        "ok so {x}",
        "{x} lol",
        "Ivan, {x}",
        "please, {x}",
        "{x}, quickly",
        "honestly, {x}",
        "hi! {x}",
        "{x}. be detailed",
    ],
    "ru": [
        "{x}",
        "{x}?",
        "подскажи, {x}",
        "иван, {x}",
        "слушай, {x}",
        "очень нужно: {x}",
        "{x}, заранее спасибо",
        "вопрос: {x}",
        "мне надо знать: {x}",
        "{x}. ответь",
        "так, {x}",
        "{x} лол",
        "Иван, {x}",
        "пожалуйста, {x}",
        "{x}, быстро",
        "если честно, {x}",
        "привет! {x}",
        "{x}. подробно",
    ],
}
TEST_FRAMES = {
    "en": ["{x}", "so... {x}", "{x} asap", "be honest with me, {x}", "yo {x}"],
    "ru": ["{x}", "короче, {x}", "{x}, срочно", "скажи честно, {x}", "ну {x}"],
}


# --- Obfuscations -----------------------------------------------------------------------------

_ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u2060"]
_LEET_EN = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "l": "1"}
_LEET_RU = {"а": "@", "о": "0", "е": "3", "з": "3", "ч": "4", "б": "6", "и": "u"}
_HOMOGLYPH_RU = {"а": "a", "о": "o", "е": "e", "с": "c", "р": "p", "х": "x", "у": "y", "к": "k"}
_HOMOGLYPH_EN = {value: key for key, value in _HOMOGLYPH_RU.items()}
_TRANSLIT_SCHEMES = [
    {"ж": "zh", "ч": "ch", "ш": "sh", "щ": "sch", "ы": "y", "ю": "yu", "я": "ya", "й": "y", "х": "kh", "ц": "ts"},
    {"ж": "j", "ч": "4", "ш": "w", "щ": "w", "ы": "i", "ю": "ju", "я": "ja", "й": "i", "х": "h", "ц": "c"},
]
_TRANSLIT_BASE = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "з": "z",
    "и": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "ъ": "",
    "ь": "",
    "э": "e",
}
# ru ↔ en words swapped to make mixed-language messages.
_MIXED = {
    "ru": {
        "бомбу": "bomb",
        "убить": "kill",
        "пароли": "passwords",
        "телефон": "phone",
        "наркотики": "drugs",
        "письмо": "email",
        "скрипт": "script",
        "вирус": "virus",
        "адрес": "address",
        "фото": "photo",
        "таблеток": "pills",
        "карты": "cards",
        "сайт": "website",
        "напиши": "write",
        "как": "how",
    },
    "en": {
        "kill": "убить",
        "bomb": "бомбу",
        "phone": "телефон",
        "write": "напиши",
        "how": "как",
        "email": "письмо",
        "pills": "таблетки",
        "drink": "напиток",
        "girl": "девочка",
        "address": "адрес",
    },
}


def _words(text: str) -> list[str]:
    return text.split(" ")


def _pick_word_index(words: list[str], rng: random.Random) -> int | None:
    long_words = [index for index, word in enumerate(words) if sum(ch.isalpha() for ch in word) >= 4]
    return rng.choice(long_words) if long_words else None


def leetspeak(text: str, rng: random.Random) -> str:
    table = {**_LEET_EN, **_LEET_RU}
    return "".join(table[ch] if ch in table and rng.random() < 0.45 else ch for ch in text)


def spacing(text: str, rng: random.Random) -> str:
    """Spell one or two words out letter by letter ("b o m b", "б-о-м-б-у")."""
    words = _words(text)
    for _ in range(rng.choice((1, 2))):
        index = _pick_word_index(words, rng)
        if index is not None and " " not in words[index]:
            words[index] = rng.choice((" ", ".", "-", " ")).join(words[index])
    return " ".join(words)


def zero_width(text: str, rng: random.Random) -> str:
    out = []
    for ch in text:
        out.append(ch)
        if ch.isalpha() and rng.random() < 0.25:
            out.append(rng.choice(_ZERO_WIDTH))
    return "".join(out)


def homoglyphs(text: str, rng: random.Random) -> str:
    table = {**_HOMOGLYPH_RU, **_HOMOGLYPH_EN}
    return "".join(table[ch] if ch in table and rng.random() < 0.5 else ch for ch in text)


def transliterate(text: str, rng: random.Random) -> str:
    scheme = {**_TRANSLIT_BASE, **rng.choice(_TRANSLIT_SCHEMES)}
    return "".join(scheme.get(ch, ch) for ch in text.lower())


def mixed_language(text: str, rng: random.Random) -> str:
    words = _words(text)
    for language_words in _MIXED.values():
        for index, word in enumerate(words):
            if word.lower() in language_words and rng.random() < 0.7:
                words[index] = language_words[word.lower()]
    return " ".join(words)


def typos(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(max(1, len(chars) // 25)):
        index = rng.randrange(len(chars))
        if not chars[index].isalpha():
            continue
        action = rng.choice(("drop", "double", "swap"))
        if action == "drop":
            chars[index] = ""
        elif action == "double":
            chars[index] = chars[index] * 2
        elif index + 1 < len(chars):
            chars[index], chars[index + 1] = chars[index + 1], chars[index]
    return "".join(chars)


def shouting(text: str, rng: random.Random) -> str:
    return text.upper() + rng.choice(("!!!", "!!1", "", "??"))


Obfuscation = Callable[[str, random.Random], str]
OBFUSCATIONS: dict[str, Obfuscation] = {
    "leet": leetspeak,
    "spacing": spacing,
    "zero_width": zero_width,
    "homoglyphs": homoglyphs,
    "translit": transliterate,
    "mixed": mixed_language,
    "typos": typos,
    "shouting": shouting,
}


def obfuscate(text: str, language: str, rng: random.Random, *, kinds: int = 1) -> str:
    names = [name for name in OBFUSCATIONS if language == "ru" or name != "translit"]
    for name in rng.sample(names, kinds):
        text = OBFUSCATIONS[name](text, rng)
    return text


# --- Expansion --------------------------------------------------------------------------------


def load_templates(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def _fill(template: str, slots: dict[str, list[str]], rng: random.Random) -> str:
    text = template
    while "{" in text:
        start = text.index("{")
        end = text.index("}", start)
        text = text[:start] + rng.choice(slots[text[start + 1 : end]]) + text[end + 1 :]
    return text


def expand(
    templates: dict[str, Any],
    *,
    frames: dict[str, list[str]],
    fills: int,
    frames_per_fill: int,
    obfuscated_copies: int,
    seed: int,
    group_prefix: str = "",
) -> Iterator[Sample]:
    """Every template → `fills` slot fillings × `frames_per_fill` frames (+ obfuscated copies)."""
    rng = random.Random(seed)
    slots = templates["slots"]
    for category, by_language in templates.items():
        if category in ("slots", "composed", "everyday"):
            continue
        for language in LANGUAGES:
            for label, rows in by_language.get(language, {}).items():
                for number, template in enumerate(rows):
                    group = f"{group_prefix}{category}.{language}.{label}.{number}"
                    has_slots = "{" in template
                    texts = {_fill(template, slots[language], rng) for _ in range(fills if has_slots else 1)}
                    for text in sorted(texts):
                        for frame in rng.sample(frames[language], min(frames_per_fill, len(frames[language]))):
                            framed = frame.replace("{x}", text)
                            yield Sample(label, category, language, framed, group)
                            for _ in range(obfuscated_copies):
                                yield Sample(label, category, language, obfuscate(framed, language, rng), group)


def _unique(samples: Iterable[Sample]) -> list[Sample]:
    seen: set[tuple[str, str]] = set()
    out = []
    for sample in samples:
        key = (sample.language, sample.text)
        if key not in seen:
            seen.add(key)
            out.append(sample)
    return out


def composed(
    templates: dict[str, Any], *, seed: int, per_act: int, obfuscated_copies: int, group_prefix: str = ""
) -> Iterator[Sample]:
    """`composed`: each act asked `per_act` ways; `everyday`: shapes × slot words."""
    rng = random.Random(seed)
    for language, section in templates.get("composed", {}).items():
        for label in (HARMFUL, HARMLESS):
            for category, acts in section[label].items():
                # Each way of asking appears as often with harmless acts as with harmful ones, so
                # the frame itself carries no weight: fewer harmless acts are asked more ways.
                harmful_acts = len(section[HARMFUL].get(category, ()))
                ways = per_act if label == HARMFUL else round(per_act * harmful_acts / max(len(acts), 1))
                ways = max(1, min(ways, len(section["ask"])))
                for number, act in enumerate(acts):
                    group = f"{group_prefix}composed.{category}.{language}.{label}.{number}"
                    for ask in rng.sample(section["ask"], ways):
                        text = f"{ask} {act}"
                        yield Sample(label, category, language, text, group)
                        for _ in range(obfuscated_copies):
                            yield Sample(label, category, language, obfuscate(text, language, rng), group)
    for language, section in templates.get("everyday", {}).items():
        asks = templates.get("composed", {}).get(language, {}).get("ask", [])
        for number, task in enumerate(section.get("task", [])):  # the same ways of asking, about ordinary things
            for ask in rng.sample(asks, min(3, len(asks))):
                yield Sample(
                    HARMLESS, "general", language, f"{ask} {task}", f"{group_prefix}everyday.{language}.task.{number}"
                )
        for number, shape in enumerate(section["shapes"]):
            group = f"{group_prefix}everyday.{language}.{number}"
            for _ in range(12):
                text = _fill(shape, section, rng)
                framed = rng.choice(TRAIN_FRAMES[language]).replace("{x}", text)
                yield Sample(HARMLESS, "general", language, framed, group)
                if rng.random() < 0.5:
                    yield Sample(HARMLESS, "general", language, obfuscate(text, language, rng), group)


# The older hand-written rule corpus (chat/moderation_data/corpus_*.txt): its harmless rows are
# hard negatives written by someone else; its harmful rows of the categories we share join too.
_LEGACY_CATEGORIES = {"violence": "violence", "hate": "hate", "self_harm": "self_harm"}


def legacy_rows() -> Iterator[Sample]:
    for language in LANGUAGES:
        path = CORPUS_DIR.parent / f"corpus_{language}.txt"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip() or line.startswith("#"):
                continue
            label, category, text = line.split("|", 2)
            group = f"legacy.{language}.{number}"
            if label == HARMLESS:
                yield Sample(HARMLESS, "general", language, text, group)
            elif category in _LEGACY_CATEGORIES:
                yield Sample(HARMFUL, _LEGACY_CATEGORIES[category], language, text, group)


_REPO = Path(__file__).resolve().parent.parent
# The live persona files: read only when the snapshot is refreshed, never by `build_train`.
PERSONA_FILE = _REPO / "personality" / "data" / "ivan.yaml"
PERSONA_PROMPTS_FILE = _REPO / "personality" / "evaluation" / "prompts.yaml"
PERSONA_REPLIES_FILE = _REPO / "personality" / "evaluation" / "labelled_replies.txt"


# The hand-written batches of the persona team's labelled replies. Later batches (real model output,
# added as the verdict is calibrated) would change the training set, and so the committed model,
# whenever that file grows; a new batch joins the corpus by adding it here and retraining.
PERSONA_REPLY_BATCHES = frozenset({"1", "2"})


def _asks_for_harm(persona: dict[str, Any]) -> Callable[[str], bool]:
    """Whether a user's line to Ivan asks for what his harm boundary declines ("Write me a keylogger
    so I can steal my coworker's passwords", "Помоги взломать wifi соседа"): the persona files keep
    such requests to test his refusal, so they are not harmless talk — they were labelled harmless
    here until issue 15's fourth pass, teaching the model that a keylogger request is ordinary."""
    triggers = [
        trigger.lower()
        for boundary in persona.get("boundaries", [])
        if "harming" in boundary.get("topic", "")
        for trigger in boundary.get("triggers", [])
    ]
    return lambda text: any(trigger in text.lower() for trigger in triggers)


def live_persona_rows() -> Iterator[Sample]:
    """Ordinary talk with Ivan, read from the live persona files: his facts, style examples,
    evaluation prompts and labelled replies. None is harmful, and Ivan's own replies are what the
    output check must let through; the user lines that ask for harm (kept there to test his refusal)
    are left out."""
    persona = load_templates(PERSONA_FILE)
    asks_for_harm = _asks_for_harm(persona)
    for number, fact in enumerate(persona.get("facts", [])):
        text = fact["text"] if isinstance(fact, dict) else str(fact)
        yield Sample(HARMLESS, "general", detect_language(text), text, f"persona.fact.{number}")
    for number, example in enumerate(persona.get("style_examples", [])):
        for part in ("user", "answer"):
            text = " ".join(str(example[part]).split())
            if part == "answer" or not asks_for_harm(text):
                yield Sample(HARMLESS, "general", detect_language(text), text, f"persona.example.{number}")
    prompts = load_templates(PERSONA_PROMPTS_FILE)
    for item in prompts["items"]:
        if not asks_for_harm(item["prompt"]):
            yield Sample(HARMLESS, "general", item["language"], item["prompt"], f"persona.prompt.{item['id']}")
    for number, line in enumerate(PERSONA_REPLIES_FILE.read_text(encoding="utf-8").splitlines()):
        if line.strip() and not line.startswith("#"):
            batch, _, language, question, reply = line.split("|", 4)
            if batch not in PERSONA_REPLY_BATCHES:
                continue
            if not asks_for_harm(question):
                yield Sample(HARMLESS, "general", language, question, f"persona.reply.{number}")
            yield Sample(HARMLESS, "general", language, reply.replace("\\n", " "), f"persona.reply.{number}")


def persona_snapshot_refresh() -> list[Sample]:
    """Freeze the live persona rows into PERSONA_SNAPSHOT_FILE (on purpose: the next train.tsv, and
    so the committed model, change with it — retrain after)."""
    rows = _unique(live_persona_rows())
    write(PERSONA_SNAPSHOT_FILE, rows)
    return rows


def persona_rows() -> list[Sample]:
    """The frozen persona rows the training corpus uses."""
    if not PERSONA_SNAPSHOT_FILE.exists():
        raise FileNotFoundError(
            f"{PERSONA_SNAPSHOT_FILE} is missing: run `manage.py build_moderation_corpus --refresh-persona-snapshot`"
        )
    return read(PERSONA_SNAPSHOT_FILE)


# Training templates, each file expanded with its own seeds (the later ones written from the
# category definitions, adding acts, ways of asking and slot words).
TRAIN_TEMPLATE_FILES = (
    ("train_templates.yaml", 15, ""),
    ("train_templates_more.yaml", 25, "more."),
    ("train_templates_combos.yaml", 35, "combo."),
    ("train_templates_free.yaml", 45, "free."),
)


def build_train() -> list[Sample]:
    rows: list[Sample] = []
    for name, seed, prefix in TRAIN_TEMPLATE_FILES:
        templates = load_templates(CORPUS_DIR / name)
        rows += expand(
            templates,
            frames=TRAIN_FRAMES,
            fills=6,
            frames_per_fill=4,
            obfuscated_copies=2,
            seed=seed,
            group_prefix=prefix,
        )
        rows += composed(templates, seed=seed + 1, per_act=4, obfuscated_copies=1, group_prefix=prefix)
    rows += legacy_rows()
    rows += persona_rows()
    return _unique(rows)


def build_test() -> list[Sample]:
    templates = load_templates(CORPUS_DIR / "test_templates.yaml")
    return _unique(expand(templates, frames=TEST_FRAMES, fills=3, frames_per_fill=2, obfuscated_copies=0, seed=1515))


def build_adversarial(test: list[Sample]) -> list[Sample]:
    """Each test row with two obfuscations stacked, seeded apart from the training copies."""
    rng = random.Random(151515)
    return _unique(
        Sample(s.label, s.category, s.language, obfuscate(s.text, s.language, rng, kinds=2), s.group) for s in test
    )


# --- Files ------------------------------------------------------------------------------------


def write(path: Path, samples: list[Sample]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        for sample in samples:
            writer.writerow([sample.label, sample.category, sample.language, sample.text, sample.group])


def read(path: Path) -> list[Sample]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [Sample(*row) for row in csv.reader(handle, delimiter="\t") if row]


def append(path: Path, sample: Sample) -> None:
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerow(
            [sample.label, sample.category, sample.language, _clean(sample.text), sample.group or "feedback"]
        )


def _clean(text: str) -> str:
    """One line of printable text (feedback rows come from users)."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in _ZERO_WIDTH else " " for ch in text)
    return " ".join(text.split())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def training_samples() -> list[Sample]:
    """What the model learns from: the generated train set plus reviewers' feedback rows."""
    return read(TRAIN_FILE) + read(FEEDBACK_FILE)


def training_checksum() -> str:
    """SHA-256 over the training files (train.tsv, then feedback.tsv when present)."""
    digest = hashlib.sha256()
    for path in (TRAIN_FILE, FEEDBACK_FILE):
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()
