"""Is a Russian reply grammar, or real words strung together? Checks with pymorphy3's morphology.

The bundled SmolLM2-135M writes Russian "word salad" made of real words ("Повтори дословно в сразу и
мог наполним как её. С чем ты занимать?"), which a real-word share cannot see. These checks look for
what Russian grammar never allows, word by word, with the dictionary's tags (case, number, person):

- a preposition without its noun, or with a noun in a case it doesn't govern: "в сразу", "в на",
  "в настроить", "по набережная", "маленькая для.";
- a subject pronoun whose clause has no verb agreeing with it: "мы шахматы будет", "ты есть говорят",
  and two finite verbs side by side that can't share a subject: "мог наполним";
- a subject pronoun (or "который") with an infinitive and no finite verb, modal or predicative word to
  carry it: "ты занимать", "я читать книги", "который говорить";
- a modal predicative with a "how/what to" clause in place of its infinitive: "Нужно, как остановить";
- an adjective next to a noun it can't agree with in any reading ("красивая дом");
- weaker signs, counted only together: the reply starts with a small letter, and a sentence of four or
  more words has no verb or predicative at all ("что нам ну, пряжа образцов.").

Homonyms are everywhere in Russian ("правила" is a noun and a verb, "есть" is "to eat" and "is"), so a
word counts as a verb, a preposition or a pronoun only in the readings the dictionary rates likely,
and every rule needs *no* reading that would make the phrase grammatical. Limits: word order and
meaning are not checked — a grammatical sentence that means nothing ("Любимая книга моя это, когда
Стругацких пикник и обочина были") passes. Cost: a few pymorphy3 parses a word (≈ 30 µs), only for
Russian replies in the gate's full mode.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from typing import Any

from personality.evaluation.lexicon import DICTIONARIES

_TOKEN = re.compile(r"[А-Яа-яЁё]+(?:-[А-Яа-яЁё]+)*|[A-Za-z0-9][\w.+#'-]*|[,.;:!?…—–()«»\"“”„]|\n")
_CLAUSE_BREAK = frozenset(',.;:!?…—–()«»"“”„\n')
_SENTENCE_END = frozenset(".!?…\n")
LIKELY = 0.1  # a reading rated below this by the dictionary is ignored

# Pure prepositions (no other likely reading) and the cases they govern (pymorphy3's tags).
_GOVERNS = {
    **dict.fromkeys(("в", "во", "на"), frozenset({"accs", "loct", "loc2", "acc2"})),
    **dict.fromkeys(("с", "со"), frozenset({"gent", "gen2", "ablt", "accs"})),
    **dict.fromkeys(("к", "ко"), frozenset({"datv"})),
    "по": frozenset({"datv", "loct", "accs"}),
    **dict.fromkeys(("о", "об", "обо"), frozenset({"loct", "accs"})),
    **dict.fromkeys(
        ("у", "из", "от", "до", "для", "без", "из-за", "из-под", "изо", "ото"), frozenset({"gent", "gen2"})
    ),
    **dict.fromkeys(("про", "через", "сквозь"), frozenset({"accs"})),
    "при": frozenset({"loct"}),
    **dict.fromkeys(("за", "под", "над", "перед", "подо", "надо", "передо"), frozenset({"accs", "ablt"})),
}
# "на сегодня", "до завтра", "на потом", "с тех пор": adverbs of time a preposition may take.
_PREP_ADVERBS = frozenset(["сегодня", "завтра", "вчера", "потом", "сейчас", "послезавтра", "позавчера", "вечно"])
# Fixed phrases: "на ты", "на вы" (how people address each other); possessive его/её/их don't inflect.
_PREP_FIXED = frozenset([("на", "ты"), ("на", "вы")])
_INDECLINABLE_POSSESSIVES = frozenset(["его", "её", "ее", "их"])
_NOMINAL = frozenset(["NOUN", "NPRO", "ADJF", "PRTF", "NUMR"])

_PRONOUNS = {  # nominative personal pronoun: (person, number, gender or None)
    "я": ("1per", "sing", None),
    "ты": ("2per", "sing", None),
    "он": ("3per", "sing", "masc"),
    "она": ("3per", "sing", "femn"),
    "оно": ("3per", "sing", "neut"),
    "мы": ("1per", "plur", None),
    "вы": ("2per", "plur", None),
    "они": ("3per", "plur", None),
}
_HOW_TO = frozenset(["как", "что", "где", "куда", "когда", "зачем", "чем"])
_WEAK_NEEDED = 2
WEAK_SENTENCE_WORDS = 4


@dataclass(frozen=True)
class _Word:
    text: str  # lower case, ё kept (the dictionary knows both)
    parses: tuple[Any, ...]  # likely readings: what the word is taken for (a verb, a preposition)
    every: tuple[Any, ...] = ()  # every reading: what the word could be (a rule needs none to fit)

    def pos(self) -> set[str]:
        return {str(p.tag.POS) for p in self.parses}

    def only(self, *pos: str) -> bool:
        return bool(self.parses) and self.pos() <= set(pos)

    def has(self, pos: str) -> bool:
        return pos in self.pos()


@functools.lru_cache(maxsize=4096)  # ≈ 4 MB when full; function words repeat in every reply
def _parse(word: str) -> _Word:
    morph = DICTIONARIES.ru()
    lowered = word.lower()
    every = morph.parse(lowered) if morph.word_is_known(lowered) else []
    return _Word(lowered, tuple(p for p in every if p.score >= LIKELY), tuple(every))


def _sentences(text: str) -> list[list[str]]:
    """Sentences as token lists: Cyrillic words, punctuation (a clause break), and "#" for a Latin or
    digit token (a borrowed term or a number: a noun to the grammar, never judged)."""
    sentences: list[list[str]] = [[]]
    for token in _TOKEN.findall(text):
        if re.match(r"[А-Яа-яЁё]", token) or token in _CLAUSE_BREAK:
            sentences[-1].append(token)
        else:
            sentences[-1].append("#")
        if token in _SENTENCE_END:
            sentences.append([])
    return [s for s in sentences if any(t not in _CLAUSE_BREAK for t in s)]


def _split(sentence: list[str]) -> list[list[str]]:
    clauses: list[list[str]] = [[]]
    for token in sentence:
        if token in _CLAUSE_BREAK:
            clauses.append([])
        else:
            clauses[-1].append(token)
    return [c for c in clauses if c]


def _agrees(verb: Any, person: str, number: str, gender: str | None) -> bool:
    tag = verb.tag
    if tag.mood == "impr":
        return True  # "ты иди", "давай": imperatives are not checked
    if tag.tense == "past":
        if tag.number != number:
            return False
        return gender is None or tag.number == "plur" or tag.gender in (None, gender)
    return tag.person == person and tag.number == number


def _finite(word: _Word) -> list[Any]:
    return [p for p in word.parses if p.tag.POS == "VERB" and p.score >= 0.3]


class _Check:
    def __init__(self) -> None:
        self.strong: list[str] = []
        self.weak: list[str] = []


def _prepositions(words: list[str], parsed: list[_Word | None], check: _Check) -> None:
    for i, text in enumerate(words):
        lowered = text.lower()
        governs = _GOVERNS.get(lowered)
        own = parsed[i]
        if governs is None or own is None or (lowered == "надо" and own.has("PRED")):
            continue  # "надо" is far more often "must" than "over"
        j = i + 1
        # an adverb or particle may stand between: "в очень маленькой команде", "с ещё одним"
        while j < len(words) and words[j] != "#" and (w := parsed[j]) is not None and w.only("ADVB", "PRCL"):
            if w.text in _PREP_ADVERBS and j == i + 1:
                break
            j += 1
        if j >= len(words):
            if lowered not in ("о", "у", "с"):  # "о", "у" are also interjections
                check.strong.append(f"'{text}' with no noun after it")
            continue
        nxt = words[j]
        w = parsed[j]
        if nxt == "#" or w is None or not w.parses or (lowered, w.text) in _PREP_FIXED:
            continue  # a number, a Latin term or an unknown word: not for the grammar to judge
        if w.text in _INDECLINABLE_POSSESSIVES:
            continue
        if j == i + 1 and w.text in _PREP_ADVERBS:
            continue
        phrase = " ".join(words[i : j + 1])
        if lowered == "под" and w.has("PREP"):
            continue  # "под" is also a Kubernetes pod: "перезапусти под в кластере"
        if not any(str(p.tag.POS) in _NOMINAL for p in w.parses):  # likely readings: is it a noun at all?
            check.strong.append(f"'{phrase}' (a preposition without its noun)")
        elif not any(  # every reading: could it be in a case the preposition takes?
            str(p.tag.POS) in _NOMINAL and ("Fixd" in p.tag or p.tag.case in governs) for p in w.every
        ):
            check.strong.append(f"'{phrase}' (a case '{text}' never takes)")


def _subjects(clause: list[str], parsed: list[_Word | None], check: _Check) -> None:
    pronouns = [(i, _PRONOUNS[w.lower()]) for i, w in enumerate(clause) if w.lower() in _PRONOUNS]
    finite = [(i, _finite(p)) for i, p in enumerate(parsed) if p is not None and _finite(p)]
    carriers = any(
        p is not None and (p.has("PRED") or p.has("ADJS") or p.has("PRTS") or p.text == "бы") for p in parsed
    )
    infinitive = [i for i, p in enumerate(parsed) if p is not None and p.parses and p.parses[0].tag.POS == "INFN"]
    if len(pronouns) == 1:
        index, (person, number, gender) = pronouns[0]
        if finite and not any(_agrees(v, person, number, gender) for _, readings in finite for v in readings):
            verbs = " ".join(clause[i] for i, _ in finite)
            check.strong.append(f"'{clause[index]} … {verbs}' (no verb agrees with its subject)")
        elif not finite and not carriers and infinitive:
            check.strong.append(f"'{clause[index]} … {clause[infinitive[0]]}' (an infinitive with no verb to carry it)")
    if not pronouns and not finite and not carriers and infinitive:
        relative = next((w for w in clause if w.lower() in ("который", "которая", "которое", "которые")), None)
        if relative:
            check.strong.append(f"'{relative} … {clause[infinitive[0]]}' (an infinitive with no verb to carry it)")
    # two finite verbs side by side that cannot share a subject: "мог наполним"
    for (i, first), (j, second) in itertools.pairwise(finite):
        if j != i + 1:
            continue
        a, b = parsed[i], parsed[j]
        if a is None or b is None or not a.only("VERB") or not b.only("VERB"):
            continue
        if not any(_compatible(x, y) for x in first for y in second):
            check.strong.append(f"'{clause[i]} {clause[j]}' (two verbs that can't share a subject)")


def _compatible(x: Any, y: Any) -> bool:
    if "impr" in (x.tag.mood, y.tag.mood):
        return True
    if x.tag.number != y.tag.number:
        return False
    if x.tag.tense != "past" and y.tag.tense != "past":
        return x.tag.person == y.tag.person
    return True


def _adjective_noun(clause: list[str], parsed: list[_Word | None], check: _Check) -> None:
    for i in range(len(clause) - 1):
        a, n = parsed[i], parsed[i + 1]
        if a is None or n is None or not a.only("ADJF") or not n.only("NOUN"):
            continue  # participles govern nouns ("созданная компанией"), so only adjectives
        if any(p.tag.case in ("gent", "gen2", "datv", "ablt") for p in n.every):
            continue  # "полный воды", "похожий на", "довольный результатом": adjectives govern these
        if any("Apro" in p.tag or "Fixd" in p.tag for p in a.parses) or any(
            "Fixd" in p.tag or "Name" in p.tag or "Surn" in p.tag or "Patr" in p.tag or "Geox" in p.tag
            for p in n.parses
        ):
            continue
        before = parsed[i - 1] if i else None
        if before is not None and (before.has("NUMR") or clause[i - 1] == "#"):
            continue  # "два больших дома", "3 новых сервиса"
        if not any(_adjective_agrees(x.tag, y.tag) for x in a.every for y in n.every):
            check.strong.append(f"'{clause[i]} {clause[i + 1]}' (an adjective that can't agree with its noun)")


def _adjective_agrees(adjective: Any, noun: Any) -> bool:
    if adjective.case != noun.case or adjective.number != noun.number:
        return False
    if noun.number == "plur" or adjective.gender is None or noun.gender is None or "ms-f" in noun:
        return True
    return bool(adjective.gender == noun.gender)


def _how_to(sentence: list[str], check: _Check) -> None:
    """A modal predicative, a comma, and "как/что + infinitive" in place of its infinitive."""
    for i, token in enumerate(sentence[:-3]):
        if token in _CLAUSE_BREAK or token == "#" or sentence[i + 1] != ",":
            continue
        conj, infinitive = sentence[i + 2], sentence[i + 3]
        if conj.lower() not in _HOW_TO or not _parse(token).has("PRED"):
            continue
        before = sentence[i - 1] if i else ","
        if before not in _CLAUSE_BREAK and before != "#" and _finite(_parse(before)):
            continue
        follow = _parse(infinitive) if infinitive not in _CLAUSE_BREAK and infinitive != "#" else None
        if follow is not None and follow.parses and follow.parses[0].tag.POS == "INFN":
            check.strong.append(f"'{token}, {conj} {infinitive}' (a modal word with no infinitive of its own)")


def russian_grammar_problems(text: str) -> list[str]:
    """What in `text` breaks Russian grammar (empty when nothing does); each item names the words."""
    check = _Check()
    verbless_long = False
    for sentence in _sentences(text):
        words = [t for t in sentence if t not in _CLAUSE_BREAK]
        for clause in _split(sentence):
            parsed = [None if t == "#" else _parse(t) for t in clause]
            _prepositions(clause, parsed, check)
            _subjects(clause, parsed, check)
            _adjective_noun(clause, parsed, check)
        _how_to(sentence, check)
        predicate = any(
            t != "#" and (p := _parse(t)).parses and bool(p.pos() & {"VERB", "INFN", "PRED", "ADJS", "PRTS"})
            for t in words
        )
        # a question or a dash ("X — Y") needs no verb in Russian
        copula_or_question = "?" in sentence or "—" in sentence or "–" in sentence
        if len(words) >= WEAK_SENTENCE_WORDS and not predicate and "#" not in words and not copula_or_question:
            verbless_long = True
    stripped = text.lstrip(" \t\n\"«'(—-–")
    if stripped[:1].isalpha() and stripped[:1].islower() and re.match("[а-яё]", stripped[:1]):
        check.weak.append("starts with a small letter")
    if verbless_long:
        check.weak.append("a long sentence with no verb")
    problems = list(dict.fromkeys(check.strong))
    if len(check.weak) >= _WEAK_NEEDED:
        problems.append(" and ".join(check.weak))
    return problems


# English word salad from real words: two determiners in a row ("the my cat"), or a determiner before
# an auxiliary verb ("the is", "I do the do"). Patterns only, so cheap.
_ENGLISH_SALAD = re.compile(
    r"\b(?:the|a|an)\s+(?:the|a|an|my|your|his|her|our|their|its|i|you|we|they)\b"
    r"|\b(?:the|a|an)\s+(?:is|are|was|were|am|do|does|did|has|been)\b",
    re.IGNORECASE,
)


def english_grammar_problems(text: str) -> list[str]:
    """Word pairs English never has (empty when there are none)."""
    return [f"'{m.group(0)}' (not English word order)" for m in _ENGLISH_SALAD.finditer(text)]
