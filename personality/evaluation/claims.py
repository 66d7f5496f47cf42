"""Does a reply invent Ivan's life? First-person personal claims checked against his persona facts.

A fluent model answers "Are you married?" with "Yes, my wife Anna…" and "Do you have pets?" with "a
dog named Bayes": real words, good grammar, not him. What his facts (bio, description, facts and their
tags — the same texts as the prompt's) don't say about his family, pets, childhood, home, money,
places and tools, a reply must not claim as his. Each check finds a first-person claim of one kind
and asks the facts:

- family: "my wife", "I'm married", "у меня есть брат" — the relation must appear in his facts, and a
  named or described relative must match them ("my father's in the military" against "radio engineer");
- pets: "my dog", "I have a golden retriever", "у меня есть собака" — the kind of animal must be his;
- childhood: "I grew up in a village near Kazan", "я вырос в деревне" — where, as his facts say;
- money: a sum of money next to earning, salary or revenue ("I make $8,000 a month", "выручка 12
  миллионов") — his facts hold none (salary and revenue are under his NDA), so any figure is invented;
- home: a distance or size of his home ("my home is 300 meters from the office");
- places: a favourite place or a trip to a named place his facts don't name ("Brelinsk Park");
- products: "I'd recommend MongoDB", "I use Visual Studio Code", "I drive a Tesla" — a named product
  he never names, or one his facts are sceptical of (Kubernetes, Mongo);
- being something else: "I'm a virtual reality company", "I started my own business".

Patterns only (a few regular expressions per reply, microseconds), so the gate's cheap mode for hosted
models runs them too. Limits: claims are found in the common phrasings, in English and Russian; an
invented fact said another way ("we've got a retriever at home"), or an opinion turned around without
a product name ("microservices are great for small teams"), passes.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

from personality.evaluation.lexicon import fold as _lower

_CAP = r"[A-ZА-ЯЁ][\w-]*"


# relation -> (English words, Russian stems) — a relation is "his" when any of them appears in his facts
# relation -> (English words, Russian word forms as regex fragments, matched as whole words)
_RELATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "wife": (("wife", "wives"), ("жена", "жены", "жене", "жену", "женой", "женат", "супруга", "супруги", "супругу")),
    "husband": (("husband",), ("муж", "мужа", "мужу", "мужем", "замужем", "супруг", "супругом")),
    "partner": (
        ("girlfriend", "boyfriend", "partner", "fiancé", "fiancée", "fiance", "fiancee"),
        ("девушк[аиеуой]", "невест[аыеуой]", "парень", "парня"),
    ),
    "child": (
        ("son", "sons", "daughter", "daughters", "kid", "kids", "child", "children", "baby"),
        (
            "сын",
            "сына",
            "сыну",
            "сыном",
            "сыновья",
            "дочь",
            "дочери",
            "дочерью",
            "дочк[аиеуой]",
            "дети",
            "детей",
            "детям",
            "детьми",
            "ребенок",
            "ребёнок",
            "ребенка",
            "ребёнка",
        ),
    ),
    "brother": (("brother", "brothers"), ("брат", "брата", "брату", "братом", "братья", "братьев")),
    "sister": (("sister", "sisters"), ("сестр[аыеуой]", "сестёр", "сестер")),
    "father": (("father", "dad", "daddy", "papa"), ("отец", "отца", "отцу", "отцом", "пап[аыеуой]")),
    "mother": (("mother", "mum", "mom", "mommy", "mummy", "mama"), ("мать", "матери", "матерью", "мам[аыеуой]")),
    "grandparent": (
        ("grandmother", "grandma", "granny", "grandfather", "grandpa", "grandparents"),
        ("бабушк[аиеуой]", "дедушк[аиеуой]", "дед", "деда", "деду", "дедом"),
    ),
}
_EN_RELATION_WORD = {word: relation for relation, (en, _) in _RELATIONS.items() for word in en}
_EN_RELATIONS = "|".join(sorted(_EN_RELATION_WORD, key=len, reverse=True))
_FAMILY_EN = re.compile(
    rf"\b(?:my|our)\s+(?:\w+\s+)?(?P<rel>{_EN_RELATIONS})(?:'s?)?\b"
    rf"|\bi(?:'ve| have)(?: got)? (?:a |an |two |three |\d+ )?(?:\w+ )?(?P<rel2>{_EN_RELATIONS})\b"
    r"|\b(?P<married>i(?:'m| am) married|i(?:'ve| have) been married|i got married|married to)\b",
    re.IGNORECASE,
)
_RU_RELATION = {form: rel for rel, (_, ru) in _RELATIONS.items() for form in ru}
_RU_RELATIONS = "|".join(sorted(_RU_RELATION, key=len, reverse=True))
_FAMILY_RU = re.compile(
    rf"\b(?:мо[йяеёи]\w*|наш\w*|у меня(?: есть| был| была| были)?)\s+(?:[а-яё]+\s+)??(?P<word>{_RU_RELATIONS})\b"
    r"|\b(?P<married>я женат|я замужем|я женился|я вышла замуж)\b",
    re.IGNORECASE,
)
# "my father's in the military", "my sister is a doctor", "my brother Sergei", "брата зовут Сергей"
_RELATIVE_DESCRIBED = re.compile(
    rf"(?i:\bmy (?P<rel>{_EN_RELATIONS})(?: is|'s| was| works| worked)(?: still| now| also| currently)?"
    r"(?: as)? (?:a|an|in the|at the|in|at) )(?P<what>[a-z][\w-]+)"
    rf"|(?i:\bmy (?P<rel2>{_EN_RELATIONS}),? (?:called |named )?)(?P<name>[A-Z][a-z]+)\b"
)
_RELATIVE_NAMED_RU = re.compile(rf"(?i:\b(?P<word>{_RU_RELATIONS}) зовут )(?P<name>[А-ЯЁ][а-яё]+)")

_PETS_EN = (
    "dog",
    "dogs",
    "puppy",
    "puppies",
    "retriever",
    "labrador",
    "terrier",
    "poodle",
    "husky",
    "spaniel",
    "bulldog",
    "corgi",
    "pug",
    "beagle",
    "parrot",
    "parrots",
    "hamster",
    "hamsters",
    "rabbit",
    "rabbits",
    "turtle",
    "tortoise",
    "snake",
    "horse",
    "horses",
    "goldfish",
    "cat",
    "cats",
    "kitten",
    "kittens",
    "cows",
)
_PET_KIND = {  # a claimed animal -> words that make it his when his facts say them
    **dict.fromkeys(("cat", "cats", "kitten", "kittens"), ("cat", "кот", "кош")),
}
_PET_EN = "|".join(_PETS_EN)
_PETS = re.compile(
    rf"\b(?:my|our)\s+(?:\w+\s+)?(?P<a>{_PET_EN})\b"
    rf"|\b(?:i|we)(?:'ve| have| had| own| got)(?: got)? (?:a |an |two |three |\d+ )?(?:\w+ ){{0,2}}(?P<b>{_PET_EN})\b"
    rf"|\ba (?P<c>{_PET_EN}) (?:named|called)\b",
    re.IGNORECASE,
)
_PETS_RU = re.compile(
    r"\b(?:у меня(?: есть| был[аио]?| живет| живёт)?|мо[йяеи]\w*|наш\w*)\s+(?:\w+\s+)?"
    r"(?P<a>собак\w*|пс[аеуо]м?\b|пёс|пес\b|щен\w*|попуга\w*|хомяк\w*|кролик\w*|черепах\w*|лошад\w*|рыбк\w*|кот\w*|кошк\w*)",
    re.IGNORECASE,
)

_GREW_UP = re.compile(  # the place is what follows, up to the end of the clause
    r"\b(?:i grew up|i was raised|my childhood was spent|i spent my childhood)\s+(?:in|on|near|at)\s+(?P<en>[^.,;!?]+)"
    r"|\bя (?:вырос|выросла|провёл детство|провел детство)\s+(?:в|на|под|возле)\s+(?P<ru>[^.,;!?]+)",
    re.IGNORECASE,
)
_MONEY_CONTEXT = re.compile(
    r"\b(?:earn|earns|earning|make|makes|made|making|salary|salaries|paid|pay|revenue|income|profit|turnover|raise|bonus"
    r"|зарабатыва\w*|получаю|получает|зарплат\w*|зп|выручк\w*|доход\w*|прибыл\w*|оборот\w*|плат\w*)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$€£₽]\s?\d[\d,. ]*(?:\s?(?:k|m|bn|million|billion|thousand))?"
    r"|\b\d[\d,. ]*\s?(?:k\b|thousand|million|billion|тысяч\w*|тыс\.?|миллион\w*|млн\.?|миллиард\w*|млрд\.?)?\s?"
    r"(?:\$|€|£|₽|usd|eur|dollars?|euros?|pounds?|rubles?|roubles?|руб\w*|доллар\w*|евро)"
    r"|\b\d[\d,. ]*\s?(?:million|billion|миллион\w*|миллиард\w*|млн|млрд)\b",
    re.IGNORECASE,
)
_HOME_FIGURE = re.compile(
    r"\b(?:my (?:home|house|flat|apartment|place)|i live|we live|моя квартира|мой дом|я живу|живу)\b[^.!?]{0,100}?"
    r"\b(?P<n>\d[\d,.]*)(?:st|nd|rd|th|-?й|-?м)?\s?(?:m\b|meters?|metres?|km\b|kilomet\w+|miles?|minutes?|square|sq\b"
    r"|floor|м\b|метр\w*|км\b|минут\w*|квадрат\w*|этаж\w*)",
    re.IGNORECASE,
)
_PLACE_EN = re.compile(
    r"(?i:\bmy favou?rite (?:place|spot|park|cafe|café|bar|restaurant|street|city|town|country)\b[^.!?]{0,30}?\b(?:is|are)\s+"
    r"(?:the\s+|a\s+)?)(?P<a>[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)"
    r"|(?i:\bi (?:just |often |usually |sometimes )?(?:went|go|travel(?:l?ed)?|moved|got back|came back|returned|flew|drove"
    r"|visited|visit)\s+(?:to\s+|from\s+)?(?:the\s+)?)(?P<b>[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)",
)
# "I have a few favourites … it's called the Shops in Stavrynky": a favourite he names, in the same reply
_FAVOURITE = re.compile(r"\bfavou?rites?\b|\bлюбим\w*", re.IGNORECASE)
_CALLED = re.compile(
    r"(?i:\b(?:it's|it is|they're|they are|which is|that's)\s+(?:called|named)\s+(?:the\s+)?)(?P<a>[A-Z][\w-]*)"
    r"|(?i:\bназывается\s+)(?P<b>[А-ЯЁA-Z][\w-]*)"
)
_PLACE_RU = re.compile(
    r"(?i:\bмо[её] любимое место\b)[^.!?]{0,20}?(?:[—–-]|это|\s)\s*(?P<a>[А-ЯЁ][а-яё-]*(?:\s+[А-ЯЁ][а-яё-]*)*)"
    r"|(?i:\bя (?:ездил|ездила|езжу|переехал|переехала|вернулся|вернулась|летал|летала|был|была) (?:в|во|на|из|с)\s+)"
    r"(?P<b>[А-ЯЁ][а-яё-]*)",
)
# what he uses or owns (a personal claim: the product must be his) ...
_PRODUCT_EN = re.compile(
    r"(?i:\b(?:i (?:use|drive|code in|write in|work in|own)|i(?:'m| am) using|my (?:car|editor|ide|laptop|phone) is(?: an?)?)"
    r"\s+(?:an?\s+|the\s+)?)(?:[a-z]+\s+)?(?P<p>[a-z]?[A-Z][\w.+#-]*)",
)
_PRODUCT_RU = re.compile(
    r"(?i:\b(?:я (?:использую|пользуюсь)|пишу на|езжу на|у меня)\s+)(?P<p>[a-z]?[A-Z][\w.+#-]*)",
)
# ... and what he recommends (an opinion: it must not go against his facts — one he is sceptical of, or
# another than the one his facts favour when the user offers both: "MongoDB or PostgreSQL?")
_RECOMMENDS_EN = re.compile(
    r"(?i:\b(?:i(?:'d| would)? (?:recommend|suggest|go with|choose|pick|prefer|use)|go with|pick)\s+(?:an?\s+|the\s+)?)"
    r"(?:[a-z]+\s+)?(?P<p>[a-z]?[A-Z][\w.+#-]*)",
)
_RECOMMENDS_RU = re.compile(
    r"(?i:\b(?:я бы (?:посоветовал|посоветовала|выбрал|выбрала|взял|взяла|порекомендовал|использовал)|советую"
    r"|рекомендую|выбирай|бери|возьми|используй)\s+)(?P<p>[a-z]?[A-Z][\w.+#-]*)",
)
_NOT_A_PERSON = re.compile(
    r"\bi(?:'m| am) (?:a|an) (?:[\w-]+ ){0,3}(?:company|corporation|organi[sz]ation|startup|start-up|business|website|app"
    r"|platform|service|product|brand)\b(?!\s+(?:engineer|developer|lead|founder|owner|person|guy|fan|nerd|veteran))"
    r"|\b(?:started|founded|run|own|opened) my own (?:business|company|startup|start-up|firm|agency)\b"
    r"|\bя\s*(?:[—–-]\s*)?(?:компания|организация|стартап|сайт|приложение|платформа|сервис)\b"
    r"|\b(?:открыл|основал|открыла|основала) (?:свою |собственную )?(?:компанию|фирму|бизнес|стартап)\b",
    re.IGNORECASE,
)
# a clause of his facts that speaks against something: its product names are ones he would not recommend
_SCEPTICAL = re.compile(
    r"\b(?:sceptical|skeptical|overkill|unless|rather than|instead of|refuse|avoid|не стал|вместо)\b", re.I
)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "small",
        "big",
        "little",
        "old",
        "new",
        "nice",
        "quiet",
        "great",
        "my",
        "our",
        "his",
        "her",
        "in",
        "on",
        "at",
        "near",
        "of",
        "and",
        "with",
        "to",
        "from",
        "в",
        "во",
        "на",
        "под",
        "у",
        "с",
        "и",
        "возле",
        "около",
        "рядом",
        "недалеко",
        "от",
        "одной",
        "одном",
        "небольшой",
        "маленькой",
    ]
)


# --- cheap guards: skip a pattern's scan when a text cannot match it --------------------------------
# Most patterns here start with \b and a case-insensitive alternation, which `re` tries at every
# position of the reply (tens of µs each, the quality gate's largest cost). Each pattern below
# needs one of a few literal strings to match at all; `in` on the lower-cased reply asks that for
# well under a µs, and the pattern runs only when one is there — so the verdicts are the same.
# That holds because for these literals (ASCII and Russian letters, punctuation) `re`'s IGNORECASE
# matches exactly the characters whose str.lower() is the literal's, except the few below: İ
# (lower-cases to two characters) and the letters `re` treats as case variants of i, s, в, д, о,
# с, т, ъ (ı, ſ, U+1C80-U+1C88). A text with one of them gets no guards: every pattern runs
# (tests/personality/test_verdict.py checks this premise over every code point).
CASE_ODD = re.compile("[\u0130\u0131\u017f\u1c80-\u1c88]")


def guard_text(text: str) -> str | None:
    """`text` lower-cased for `may_match`, or None when a character makes the guards unsafe."""
    return None if CASE_ODD.search(text) else text.lower()


def may_match(guarded: str | None, literals: tuple[str, ...]) -> bool:
    """False only when none of `literals` (lower case) is in the text: a guarded pattern cannot match."""
    return guarded is None or any(literal in guarded for literal in literals)


_DIGIT = re.compile(r"\d")  # money and home figures need a digit (\d: any Unicode decimal, as theirs)

# What each pattern needs in the lower-cased text to match at all (see `may_match`).
_FAMILY_EN_NEEDS = ("married", "my", "our", "i've", "i have")
_FAMILY_RU_NEEDS = ("мо", "наш", "у меня", "я жен", "я замуж", "я вышла")
_RELATIVE_DESCRIBED_NEEDS = ("my ",)
_RELATIVE_NAMED_RU_NEEDS = (" зовут ",)
_PETS_NEEDS = _PETS_EN
_PETS_RU_NEEDS = (
    "собак",
    "пс",
    "пёс",
    "пес",
    "щен",
    "попуга",
    "хомяк",
    "кролик",
    "черепах",
    "лошад",
    "рыбк",
    "кот",
    "кошк",
)
_GREW_UP_NEEDS = ("grew up", "was raised", "childhood", "вырос", "детство")
_PLACE_EN_NEEDS = ("favo", "went", "go", "travel", "moved", "came back", "returned", "flew", "drove", "visit")
_FAVOURITE_NEEDS = ("favo", "любим")
_MONEY_CONTEXT_NEEDS = (
    "earn",
    "mak",
    "made",
    "salar",
    "paid",
    "pay",
    "revenue",
    "income",
    "profit",
    "turnover",
    "raise",
    "bonus",
    "зарабатыва",
    "получа",
    "зарплат",
    "зп",
    "выручк",
    "доход",
    "прибыл",
    "оборот",
    "плат",
)
_HOME_FIGURE_NEEDS = (
    "my home",
    "my house",
    "my flat",
    "my apartment",
    "my place",
    "live",
    "моя квартира",
    "мой дом",
    "живу",
)
_PLACE_RU_NEEDS = ("любимое место", "езд", "езж", "переехал", "вернул", "летал", "был")
_PRODUCT_EN_NEEDS = (
    "i use",
    "i drive",
    "i code in",
    "i write in",
    "i work in",
    "i own",
    "using",
    "my car",
    "my editor",
    "my ide",
    "my laptop",
    "my phone",
)
_PRODUCT_RU_NEEDS = ("я использую", "я пользуюсь", "пишу на", "езжу на", "у меня")
_RECOMMENDS_EN_NEEDS = ("recommend", "suggest", "go with", "choose", "pick", "prefer", "i use", "i'd use", "would use")
_RECOMMENDS_RU_NEEDS = ("я бы", "советую", "рекомендую", "выбирай", "бери", "возьми", "используй")
_NOT_A_PERSON_NEEDS = (
    "i'm a",
    "i am a",
    "my own",
    "компания",
    "организация",
    "стартап",
    "сайт",
    "приложение",
    "платформа",
    "сервис",
    "открыл",
    "основал",
)


_TRANSLIT = dict(
    zip(
        "абвгдезийклмнопрстуфхцчшщыэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "z",
            "i",
            "i",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "y",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)


def _latin(word: str) -> str:
    return "".join(_TRANSLIT.get(ch, "" if ch in "ьъ" else ch) for ch in _lower(word))


def _has_relation(text: str, relation: str) -> bool:
    # his own: "my mother", "his father's", "I have a younger sister" ("the Strugatsky brothers" are not)
    en, ru = _RELATIONS[relation]
    words = "|".join([re.escape(w) for w in en] + list(ru))
    return bool(
        re.search(
            rf"\b(?:(?:my|his|our)\s+(?:[\w-]+\s+)?|i have (?:a |an |two |\d+ )?(?:[\w-]+\s+)?"
            rf"|(?:мо[йяеёи]\w*|его|наш\w*|у меня(?: есть)?)\s+(?:[\w-]+\s+)?)(?:{words})\b",
            text,
        )
    )


_FAMILY_WORDS = re.compile(
    "|".join(
        rf"\b{re.escape(w)}\b"
        for w in [w for en, _ in _RELATIONS.values() for w in en] + ["parents", "family", "son of", "daughter of"]
    )
)


@dataclass(frozen=True)
class Knowledge:
    """What his facts say, prepared once per persona version for the claim checks."""

    text: str  # bio, description, facts and tags, lower case
    words: frozenset[str]  # every word of his facts and style examples, lower case
    sorted_words: tuple[str, ...]  # the same, sorted: prefix look-ups by bisection
    sceptical_of: frozenset[str]  # product names his facts speak against (lower case)
    relations: frozenset[str]  # the relatives his facts speak of as his (keys of _RELATIONS)
    family_words: tuple[str, ...]  # the words of his facts' sentences about his family

    @classmethod
    def build(cls, fact_texts: Iterable[str], example_texts: Iterable[str]) -> Knowledge:
        facts = [t for t in fact_texts if t]
        examples = [t for t in example_texts if t]
        text = _lower(" \n".join(facts))
        sentences = [_lower(s) for t in facts for s in re.split(r"(?<=[.!?;])\s+", t) if s.strip()]
        words = frozenset(_lower(w) for t in facts + examples for w in re.findall(r"[\w-]+", t))
        sceptical: set[str] = set()
        for t in facts + examples:
            for clause in re.split(r"[.,;:!?—–(]", t):
                if _SCEPTICAL.search(clause):  # names inside the clause, not its first word
                    sceptical |= {_lower(w) for w in re.findall(r"(?<=\w )[A-Z][A-Za-z]+\b", clause.strip())}
        family = " ".join(s for s in sentences if _FAMILY_WORDS.search(s))
        return cls(
            text=text,
            words=words,
            sorted_words=tuple(sorted(words)),
            sceptical_of=frozenset(sceptical),
            relations=frozenset(r for r in _RELATIONS if _has_relation(text, r)),
            family_words=tuple(re.findall(r"[\w-]+", family)),
        )

    def _prefixed(self, prefix: str) -> bool:
        index = bisect.bisect_left(self.sorted_words, prefix)
        return index < len(self.sorted_words) and self.sorted_words[index].startswith(prefix)

    def mentions(self, word: str) -> bool:
        """The word (or, for Russian, its stem or transliteration) appears in his facts or examples."""
        lowered = _lower(word)
        if lowered in self.words:
            return True
        if re.search("[а-я]", lowered):  # inflected: "петербурге" ~ "петербург", or his English "vladivostok"
            latin = _latin(lowered)[:5]
            return self._prefixed(lowered[:5]) or (len(latin) >= 4 and self._prefixed(latin))
        # "Postgres" ~ "postgresql", "Strugatskys" ~ "strugatsky"
        return len(lowered) >= 5 and (
            self._prefixed(lowered) or any(lowered[:n] in self.words for n in range(5, len(lowered)))
        )

    def has_relation(self, relation: str) -> bool:
        return relation in self.relations


def _ru_relation(word: str) -> str | None:
    word = _lower(word)
    return next((rel for form, rel in _RU_RELATION.items() if re.fullmatch(form.replace("ё", "е"), word)), None)


def _described_matches(knowledge: Knowledge, what: str) -> bool:
    """Whatever his facts say about any of his family ("a literature teacher" is his mother)."""
    what = _lower(what)
    if what in _STOP or len(what) < 3:
        return True
    return any(w.startswith(what) or (len(w) >= 3 and what.startswith(w)) for w in knowledge.family_words)


def _place_words(phrase: str) -> list[str]:
    return [w for w in re.findall(r"[\w-]+", phrase) if _lower(w) not in _STOP and len(w) > 2]


def unsupported_claims(text: str, knowledge: Knowledge, user_message: str = "") -> list[str]:
    """First-person claims about his life that his facts don't support, each named with its words."""
    found: list[str] = []
    guarded = guard_text(text)

    def add(reason: str) -> None:
        if reason not in found:
            found.append(reason)

    for m in _FAMILY_EN.finditer(text) if may_match(guarded, _FAMILY_EN_NEEDS) else ():
        if m.group("married"):
            if not knowledge.has_relation("wife") and not knowledge.has_relation("husband"):
                add(f"invents a marriage: {m.group(0)!r}")
            continue
        word = _lower(m.group("rel") or m.group("rel2"))
        relation = _EN_RELATION_WORD.get(word)
        if relation and not knowledge.has_relation(relation):
            add(f"invents family his facts don't have: {m.group(0).strip()!r}")
    for m in _FAMILY_RU.finditer(text) if may_match(guarded, _FAMILY_RU_NEEDS) else ():
        if m.group("married"):
            if not knowledge.has_relation("wife") and not knowledge.has_relation("husband"):
                add(f"invents a marriage: {m.group(0)!r}")
            continue
        relation = _ru_relation(m.group("word"))
        if relation and not knowledge.has_relation(relation):
            add(f"invents family his facts don't have: {m.group(0).strip()!r}")
    for m in _RELATIVE_DESCRIBED.finditer(text) if may_match(guarded, _RELATIVE_DESCRIBED_NEEDS) else ():
        word = _lower(m.group("rel") or m.group("rel2"))
        relation = _EN_RELATION_WORD.get(word)
        if not relation or not knowledge.has_relation(relation):
            continue
        what = m.group("what") or m.group("name")
        if what and not _described_matches(knowledge, what):
            add(f"says of his {word} what his facts don't: {m.group(0).strip()!r}")
    for m in _RELATIVE_NAMED_RU.finditer(text) if may_match(guarded, _RELATIVE_NAMED_RU_NEEDS) else ():
        relation = _ru_relation(m.group("word"))
        if relation and knowledge.has_relation(relation) and not knowledge.mentions(m.group("name")):
            add(f"names a relative his facts name otherwise: {m.group(0)!r}")
        elif relation and not knowledge.has_relation(relation):
            add(f"invents family his facts don't have: {m.group(0)!r}")

    for m in _PETS.finditer(text) if may_match(guarded, _PETS_NEEDS) else ():
        kind = _lower(m.group("a") or m.group("b") or m.group("c"))
        own = _PET_KIND.get(kind, (kind.rstrip("s"),))
        if not any(re.search(rf"\b{re.escape(w)}", knowledge.text) for w in own):
            add(f"invents a pet: {m.group(0).strip()!r}")
    for m in _PETS_RU.finditer(text) if may_match(guarded, _PETS_RU_NEEDS) else ():
        kind = _lower(m.group("a"))
        if not knowledge.mentions(kind) and not any(
            kind.startswith(s) and re.search(rf"\b{s}", knowledge.text) for s in ("кот", "кош")
        ):
            add(f"invents a pet: {m.group(0).strip()!r}")

    for m in _GREW_UP.finditer(text) if may_match(guarded, _GREW_UP_NEEDS) else ():
        words = _place_words(m.group("en") or m.group("ru"))
        named = [w for w in words if w[0].isupper()]
        # every named place his, and the first word ("a village", "a farm") his too
        if words and not (all(knowledge.mentions(w) for w in named) and knowledge.mentions(words[0])):
            add(f"invents where he grew up: {m.group(0).strip()!r}")

    has_digit = _DIGIT.search(text) is not None
    money_due = has_digit and may_match(guarded, _MONEY_CONTEXT_NEEDS)
    for sentence in re.split(r"(?<=[.!?])\s+", text) if money_due else ():
        if _MONEY_CONTEXT.search(sentence) and (money := _MONEY.search(sentence)):
            figure = re.sub(r"\D", "", money.group(0))
            if not figure or figure not in re.sub(r"[^\d\s]", "", knowledge.text).split():
                add(f"states a money figure his facts don't have: {money.group(0).strip()!r}")
    for m in _HOME_FIGURE.finditer(text) if has_digit and may_match(guarded, _HOME_FIGURE_NEEDS) else ():
        if not re.search(rf"(?<![\d.,]){re.escape(m.group('n').strip('.,'))}(?![\d.,]\d)", knowledge.text):
            add(f"invents a figure about his home: {m.group(0).strip()!r}")

    for m in _PLACE_EN.finditer(text) if may_match(guarded, _PLACE_EN_NEEDS) else ():
        place = m.group("a") or m.group("b")
        if place and not all(knowledge.mentions(w) for w in _place_words(place) if w[0].isupper()):
            add(f"names a place his facts don't: {place!r}")
    if may_match(guarded, _FAVOURITE_NEEDS) and _FAVOURITE.search(text):
        for m in _CALLED.finditer(text):
            name = m.group("a") or m.group("b")
            if not knowledge.mentions(name):
                add(f"names a favourite his facts don't: {m.group(0).strip()!r}")
    for m in _PLACE_RU.finditer(text) if may_match(guarded, _PLACE_RU_NEEDS) else ():
        place = m.group("a") or m.group("b")
        if place and not all(knowledge.mentions(w) for w in _place_words(place)):
            add(f"names a place his facts don't: {place!r}")

    products = [
        *(_PRODUCT_EN.finditer(text) if may_match(guarded, _PRODUCT_EN_NEEDS) else ()),
        *(_PRODUCT_RU.finditer(text) if may_match(guarded, _PRODUCT_RU_NEEDS) else ()),
    ]
    for m in products:
        product = m.group("p").rstrip(".,")
        if len(product) > 1 and product not in ("I", "It") and not knowledge.mentions(product):
            add(f"names a product of his his facts don't: {m.group(0).strip()!r}")
    recommends = [
        *(_RECOMMENDS_EN.finditer(text) if may_match(guarded, _RECOMMENDS_EN_NEEDS) else ()),
        *(_RECOMMENDS_RU.finditer(text) if may_match(guarded, _RECOMMENDS_RU_NEEDS) else ()),
    ]
    # the products the user offers that his facts name (capitalised inside a sentence, not its first word)
    offered = (
        [
            w
            for w in re.findall(r"(?<=[\w,] )[A-Z][\w.+#-]+", user_message)
            if knowledge.mentions(w) and not any(_lower(w).startswith(s) for s in knowledge.sceptical_of)
        ]
        if recommends
        else []
    )
    for m in recommends:
        product = m.group("p").rstrip(".,")
        lowered = _lower(product)
        if len(product) < 2 or product in ("I", "It"):
            continue
        if any(lowered.startswith(s) for s in knowledge.sceptical_of):
            add(f"recommends what his facts speak against: {m.group(0).strip()!r}")
        elif offered and not knowledge.mentions(product) and not any(_lower(o) == lowered for o in offered):
            add(f"recommends {product!r} over {offered[0]!r}, which his facts favour")

    for m in _NOT_A_PERSON.finditer(text) if may_match(guarded, _NOT_A_PERSON_NEEDS) else ():
        add(f"claims a life that isn't his: {m.group(0).strip()!r}")
    return found
