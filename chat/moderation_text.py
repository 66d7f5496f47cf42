"""Text normalisation shared by the moderation layers (rules, classifier, prompt-leak check):
undo the cheap tricks people use to slip words past a filter, so every layer sees one form.
"""

from __future__ import annotations

import re
import unicodedata

_CONTRACTIONS = [
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    (re.compile(r"\b(\w+)'re\b"), r"\1 are"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"\b(\w+)'ll\b"), r"\1 will"),
    (re.compile(r"\b(\w+)'ve\b"), r"\1 have"),
    (re.compile(r"\b(you|i|he|she|we|they)'d\b"), r"\1 would"),
    (re.compile(r"\bur\b"), "your"),
    (re.compile(r"\byoure\b"), "you are"),
    (re.compile(r"\byour (a|an|such|so|the|just|really|not)\b"), r"you are \1"),  # "your an idiot"
]
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "“": '"', "”": '"', "«": '"', "»": '"'})
_DASHES = str.maketrans({"–": "—", "―": "—"})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LATIN_TO_CYRILLIC = str.maketrans(
    {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "k": "к", "m": "м", "t": "т", "h": "н"}
)
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_TOKEN = re.compile(r"\S+")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")
_LEET_CHARS = re.compile(r"[013457@$]")
_SPACES = re.compile(r"[ \t\u00a0]+")


def _fix_token(token: str) -> str:
    core = token.strip(".,!?;:()[]{}\"'")
    if len(core) < 3 or not _HAS_LETTER.search(core):
        return token
    fixed = core
    if _LEET_CHARS.search(core) and not core.replace(".", "").isdigit() and "://" not in core:
        fixed = fixed.translate(_LEET)
    if _CYRILLIC.search(fixed) and _LATIN.search(fixed):
        fixed = fixed.translate(_LATIN_TO_CYRILLIC)
    return token.replace(core, fixed) if fixed != core else token


# Letters spelt out one by one: "b o m b", "к.и.л.л", "б-о-м-б-у" (four or more single letters:
# "я и в" and the like are ordinary Russian).
_SPELT_OUT = re.compile(r"(?<!\S)(?:[^\W\d_][ .\-_*]){3,}[^\W\d_](?![^\W\d_])")
_SPELT_SEPARATORS = re.compile(r"[ .\-_*]")


def _invisible(codepoint: int) -> bool:
    """Zero-width and other format characters (U+200B, U+00AD, U+FEFF, ...) and control bytes."""
    category = unicodedata.category(chr(codepoint))
    return category == "Cf" or (category == "Cc" and chr(codepoint) not in "\n\t")


# Where format characters live (the BMP, the shorthand/musical controls and the tag block).
_INVISIBLE = {
    codepoint: None
    for block in (range(0x10000), range(0x1BCA0, 0x1BCA4), range(0x1D173, 0x1D17B), range(0xE0000, 0xE0080))
    for codepoint in block
    if _invisible(codepoint)
}


def normalise(text: str) -> str:
    """The form the rules and the classifier see (see rules.yaml for what each step undoes)."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.lower().replace("ё", "е")
    text = _SPELT_OUT.sub(lambda match: _SPELT_SEPARATORS.sub("", match.group(0)), text)
    text = text.translate(_QUOTES).translate(_DASHES)
    text = _REPEATS.sub(r"\1", text)
    text = " ".join(_fix_token(token) for token in _TOKEN.findall(text)) if text.strip() else ""
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text)
