"""Text normalisation shared by the moderation layers (rules, classifier, prompt-leak check):
undo the cheap tricks people use to slip words past a filter, so every layer sees one form.
"""

from __future__ import annotations

import re
import unicodedata

# Each expansion with a literal its pattern can't match without: a message with no apostrophe
# skips nine of them (a cheap `in` instead of a regex pass over a long text).
_CONTRACTIONS = [
    ("won't", re.compile(r"\bwon't\b"), "will not"),
    ("can't", re.compile(r"\bcan't\b"), "can not"),
    ("cannot", re.compile(r"\bcannot\b"), "can not"),
    ("let's", re.compile(r"\blet's\b"), "let us"),
    ("n't", re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    ("'re", re.compile(r"\b(\w+)'re\b"), r"\1 are"),
    ("i'm", re.compile(r"\bi'm\b"), "i am"),
    ("'ll", re.compile(r"\b(\w+)'ll\b"), r"\1 will"),
    ("'ve", re.compile(r"\b(\w+)'ve\b"), r"\1 have"),
    ("'d", re.compile(r"\b(you|i|he|she|we|they)'d\b"), r"\1 would"),
    ("ur", re.compile(r"\bur\b"), "your"),
    ("youre", re.compile(r"\byoure\b"), "you are"),
    ("your ", re.compile(r"\byour (a|an|such|so|the|just|really|not)\b"), r"you are \1"),  # "your an idiot"
]
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "“": '"', "”": '"', "«": '"', "»": '"'})
_DASHES = str.maketrans({"–": "—", "―": "—"})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LATIN_TO_CYRILLIC = str.maketrans(
    {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "k": "к", "m": "м", "t": "т", "h": "н"}
)
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")
_LEET_CHARS = re.compile(r"[013457@$]")
_SPACES = re.compile(r"[ \t\u00a0]+")
# The characters the two translation tables change: found with one regex pass (str.translate with a
# dict costs a dict lookup per character of a long non-ASCII text, even when nothing changes).
_QUOTES_OR_DASHES = re.compile("[" + re.escape("’‘`´“”«»–―") + "]")


def _fix_token(token: str) -> str:
    """Undo leetspeak and Latin look-alikes inside one whitespace-free token."""
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
# What every spelt-out run of four or more letters contains (its second and third letters between
# separators), found by a pattern that starts with a character class — a fast scan in C — where
# _SPELT_OUT tries its lookbehind at every position (0.08 vs 0.18 ms on an 8 kB reply).
_MAY_BE_SPELT_OUT = re.compile(r"[ .\-_*][^\W\d_][ .\-_*][^\W\d_][ .\-_*]")


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


def _char_class(codepoints: list[int]) -> re.Pattern[str]:
    """A regex class matching exactly these code points (runs written as ranges)."""
    parts, start = [], None
    for index, codepoint in enumerate(codepoints):
        if start is None:
            start = codepoint
        if index + 1 == len(codepoints) or codepoints[index + 1] != codepoint + 1:
            parts.append(f"\\U{start:08x}" if start == codepoint else f"\\U{start:08x}-\\U{codepoint:08x}")
            start = None
    return re.compile("[" + "".join(parts) + "]")


_HAS_INVISIBLE = _char_class(sorted(_INVISIBLE))


# The contractions that read one token (all but the last, "your X", which reads two): none of
# their patterns can match whitespace, and a token's edges are word boundaries as the spaces around
# it are, so applying them token by token gives what a pass over the whole text gives.
_TOKEN_CONTRACTIONS = _CONTRACTIONS[:-1]
_TWO_WORD_CONTRACTIONS = _CONTRACTIONS[-1:]


def _token_form(token: str) -> str:
    """A whitespace-free token as normalisation leaves it: repeated letters collapsed, leetspeak and
    look-alikes undone, one-token contractions expanded (each step only looks inside the token)."""
    if len(token) > 2:
        token = _REPEATS.sub(r"\1", token)
    token = _fix_token(token)
    for literal, pattern, replacement in _TOKEN_CONTRACTIONS:
        if literal in token:
            token = pattern.sub(replacement, token)
    return token


# Words repeat across messages: a token's form is worked out once per process (a dict looked up
# for every token of a text in one C-level map). Long tokens (a URL, a 100 kB run of one letter)
# are not kept; the cache is emptied when full.
_FORMS: dict[str, str] = {}
_CACHED_TOKEN = 40
_FORMS_MAX = 65_536


def _token_forms(tokens: list[str]) -> list[str]:
    forms = list(map(_FORMS.get, tokens))
    if None in forms:
        new: dict[str, str] = {}  # a token new to the cache may repeat within the text
        for index, form in enumerate(forms):
            if form is None:
                token = tokens[index]
                form = new.get(token)
                if form is None:
                    form = new[token] = _token_form(token)
                forms[index] = form
        if len(new) <= _FORMS_MAX // 4:  # a huge text of distinct words is not kept
            if len(_FORMS) + len(new) > _FORMS_MAX:
                _FORMS.clear()
            _FORMS.update((token, form) for token, form in new.items() if len(token) <= _CACHED_TOKEN)
    return forms  # type: ignore[return-value]


def normalise(text: str) -> str:
    """The form the rules and the classifier see (see rules.yaml for what each step undoes).

    Linear in the text, each pass skipped when it can't change anything (a test checks this gives
    the straightforward sequence of passes' output on the corpus and on odd input)."""
    text = unicodedata.normalize("NFKC", text)
    # Format and control characters are never printable: a printable text (but for its newlines
    # and tabs, which are kept) needs no search for them.
    # Removed by the class's regex (the same code points as the table): `translate` with a dict
    # looks every character of the text up (≈ 0.4 ms per 8 kB), the regex scans in C.
    if not text.replace("\n", "").replace("\t", "").isprintable() and _HAS_INVISIBLE.search(text):
        text = _HAS_INVISIBLE.sub("", text)
    text = text.lower().replace("ё", "е")
    if _MAY_BE_SPELT_OUT.search(text):
        text = _SPELT_OUT.sub(lambda match: _SPELT_SEPARATORS.sub("", match.group(0)), text)
    if _QUOTES_OR_DASHES.search(text):
        text = text.translate(_QUOTES).translate(_DASHES)
    # str.split() and the regex \S+ split on the same characters (Py_UNICODE_ISSPACE); repeated
    # letters, leetspeak and one-token contractions never cross a space, so each token is done once.
    text = " ".join(_token_forms(text.split()))
    for literal, pattern, replacement in _TWO_WORD_CONTRACTIONS:
        if literal in text:
            text = pattern.sub(replacement, text)
    if "  " in text or "\t" in text or "\u00a0" in text:
        text = _SPACES.sub(" ", text)
    return text
