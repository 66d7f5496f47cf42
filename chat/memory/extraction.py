"""Long-term facts the user states about themselves, found by rules now or by the LLM later.

Offline by default: rule-based patterns in English and Russian catch the facts people state
plainly ("my daughter is called Masha", "я работаю в Яндексе"). They work with the bundled
SmolLM2, which is too weak to extract facts reliably. When a capable model is configured
(CHAT_MEMORY_LLM_EXTRACTION=true, or "auto" with a model that is not local/… or fake/…), a Celery
task also asks the LLM for facts as JSON; both feed the same `memory_fact_record`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from chat.memory.retrieval import tokenize


@dataclass(frozen=True)
class ExtractedFact:
    key: str  # the slot it fills: a newer value for the same key replaces the older one
    value: str
    text: str  # one English line for the prompt, e.g. "daughter is called Masha"


_RELATIONS_EN = (
    "daughter|son|wife|husband|partner|girlfriend|boyfriend|dog|cat|brother|sister|mother|father|mom|mum|dad|"
    "grandmother|grandfather|friend|boss"
)
_RELATIONS_RU = {
    "дочь": "daughter",
    "дочку": "daughter",
    "сына": "son",
    "сын": "son",
    "жену": "wife",
    "жена": "wife",
    "мужа": "husband",
    "муж": "husband",
    "собаку": "dog",
    "собака": "dog",
    "пса": "dog",
    "кошку": "cat",
    "кошка": "cat",
    "кота": "cat",
    "кот": "cat",
    "брата": "brother",
    "брат": "brother",
    "сестру": "sister",
    "сестра": "sister",
    "маму": "mother",
    "мама": "mother",
    "папу": "father",
    "папа": "father",
    "друга": "friend",
    "друг": "friend",
    "подругу": "friend",
    "начальника": "boss",
}
_RU_REL = "|".join(sorted(_RELATIONS_RU, key=len, reverse=True))
_NAME = r"([A-ZА-ЯЁ][\w-]{1,30}(?:\s[A-ZА-ЯЁ][\w-]{1,30})?)"
_PHRASE = r"([^.,!?;:\n]{2,60}?)"
_END = r"(?=\s*(?:[.,!?;:\n]|\sand\s|\sbut\s|\sи\s|\sа\s|\sно\s|$))"
_I = re.IGNORECASE


def _rules() -> list[tuple[re.Pattern[str], Callable[[re.Match[str]], ExtractedFact | None]]]:
    def relation_en(m: re.Match[str]) -> ExtractedFact:
        rel = m.group("rel").lower().replace("mum", "mother").replace("mom", "mother").replace("dad", "father")
        return ExtractedFact(f"{rel}_name", m.group("name"), f"their {rel} is called {m.group('name')}")

    def relation_ru(m: re.Match[str]) -> ExtractedFact:
        rel = _RELATIONS_RU[m.group("rel").lower()]
        return ExtractedFact(f"{rel}_name", m.group("name"), f"their {rel} is called {m.group('name')}")

    def simple(key: str, template: str) -> Callable[[re.Match[str]], ExtractedFact]:
        return lambda m: ExtractedFact(key, m.group("v").strip(), template.format(v=m.group("v").strip()))

    def preference(liked: bool) -> Callable[[re.Match[str]], ExtractedFact | None]:
        def make(m: re.Match[str]) -> ExtractedFact | None:
            thing = m.group("v").strip()
            if len(thing.split()) > 4:
                return None
            key = "pref:" + " ".join(tokenize(thing))
            return ExtractedFact(
                key, "likes" if liked else "dislikes", f"{'likes' if liked else 'does not like'} {thing}"
            )

        return make

    return [
        (
            re.compile(
                rf"\b(?i:my (?P<rel>{_RELATIONS_EN})(?:'s name)? is (?:called |named )?)(?P<name>{_NAME[1:-1]})", 0
            ),
            relation_en,
        ),
        (
            re.compile(rf"\b(?i:I have an? (?P<rel>{_RELATIONS_EN}) (?:called|named) )(?P<name>{_NAME[1:-1]})", 0),
            relation_en,
        ),
        (
            re.compile(rf"(?:\b|^)(?i:(?:мою|моего|мой|моя|мою) (?P<rel>{_RU_REL}) зовут )(?P<name>{_NAME[1:-1]})", 0),
            relation_ru,
        ),
        (
            re.compile(
                rf"(?:\b|^)(?i:у меня (?:есть )?(?P<rel>{_RU_REL}),? (?:по имени |которую зовут |которого зовут )?)"
                rf"(?P<name>{_NAME[1:-1]})",
                0,
            ),
            relation_ru,
        ),
        (re.compile(rf"\b(?i:my name is )(?P<v>{_NAME[1:-1]})", 0), simple("user_name", "their name is {v}")),
        (re.compile(rf"\b(?i:call me )(?P<v>{_NAME[1:-1]})", 0), simple("user_name", "their name is {v}")),
        (re.compile(rf"(?:\b|^)(?i:меня зовут )(?P<v>{_NAME[1:-1]})", 0), simple("user_name", "their name is {v}")),
        (re.compile(rf"\bI work (?:at|for) (?P<v>{_PHRASE[1:-1]}){_END}", _I), simple("employer", "works at {v}")),
        (
            re.compile(rf"(?:\b|^)я работаю (?:в|во|на) (?P<v>{_PHRASE[1:-1]}){_END}", _I),
            simple("employer", "works at {v}"),
        ),
        (re.compile(rf"\bI work as an? (?P<v>{_PHRASE[1:-1]}){_END}", _I), simple("occupation", "works as {v}")),
        (
            re.compile(
                rf"\bI(?: am|'m) an? (?P<v>(?:software |web |data )?(?:developer|engineer|programmer|designer|teacher|doctor|student|manager|lawyer|nurse|writer|scientist|analyst|accountant|architect)){_END}",
                _I,
            ),
            simple("occupation", "works as a {v}"),
        ),
        (
            re.compile(
                rf"(?:\b|^)я (?:по профессии )?(?P<v>программист|разработчик|инженер|дизайнер|учитель|врач|студент|студентка|менеджер|юрист|аналитик|бухгалтер){_END}",
                _I,
            ),
            simple("occupation", "works as {v}"),
        ),
        (
            re.compile(rf"\bI (?:live|am living|'m living) in (?P<v>{_PHRASE[1:-1]}){_END}", _I),
            simple("city", "lives in {v}"),
        ),
        (re.compile(rf"\bI(?: have)? moved to (?P<v>{_PHRASE[1:-1]}){_END}", _I), simple("city", "lives in {v}")),
        (
            re.compile(rf"(?:\b|^)я (?:живу|сейчас живу) в (?P<v>{_PHRASE[1:-1]}){_END}", _I),
            simple("city", "lives in {v}"),
        ),
        (re.compile(rf"(?:\b|^)я переехала? в (?P<v>{_PHRASE[1:-1]}){_END}", _I), simple("city", "lives in {v}")),
        (re.compile(rf"\bI(?: am|'m) from (?P<v>{_PHRASE[1:-1]}){_END}", _I), simple("hometown", "is from {v}")),
        (re.compile(r"\bI(?: am|'m) (?P<v>\d{1,3}) years old", _I), simple("age", "is {v} years old")),
        (re.compile(r"(?:\b|^)мне (?P<v>\d{1,3}) (?:год|года|лет)\b", _I), simple("age", "is {v} years old")),
        (
            re.compile(rf"\bmy birthday is (?:on )?(?P<v>{_PHRASE[1:-1]}){_END}", _I),
            simple("birthday", "has a birthday on {v}"),
        ),
        (
            re.compile(rf"\bmy favou?rite (?P<what>\w+) is (?P<v>{_PHRASE[1:-1]}){_END}", _I),
            lambda m: ExtractedFact(
                f"favorite_{m.group('what').lower()}",
                m.group("v").strip(),
                f"favourite {m.group('what').lower()} is {m.group('v').strip()}",
            ),
        ),
        (
            re.compile(rf"\bI (?:don't|do not|dont) (?:like|love|enjoy) (?P<v>{_PHRASE[1:-1]}){_END}", _I),
            preference(False),
        ),
        (re.compile(rf"\bI (?:hate|dislike|can't stand) (?P<v>{_PHRASE[1:-1]}){_END}", _I), preference(False)),
        (re.compile(rf"\bI (?:really )?(?:like|love|enjoy|adore) (?P<v>{_PHRASE[1:-1]}){_END}", _I), preference(True)),
        (re.compile(rf"(?:\b|^)я не люблю (?P<v>{_PHRASE[1:-1]}){_END}", _I), preference(False)),
        (re.compile(rf"(?:\b|^)я ненавижу (?P<v>{_PHRASE[1:-1]}){_END}", _I), preference(False)),
        (re.compile(rf"(?:\b|^)я (?:очень )?люблю (?P<v>{_PHRASE[1:-1]}){_END}", _I), preference(True)),
    ]


_RULES = _rules()
_QUESTION = re.compile(r"\?\s*$")


def extract_facts(text: str) -> list[ExtractedFact]:
    """Facts the user states about themselves in `text` (questions are not statements)."""
    facts: dict[str, ExtractedFact] = {}
    for sentence in re.split(r"(?<=[.!?\n])\s+", text):
        if _QUESTION.search(sentence):
            continue
        for pattern, make in _RULES:
            for match in pattern.finditer(sentence):
                fact = make(match)
                if fact is not None:
                    facts[fact.key] = fact  # said twice in one message: the later statement wins
    return list(facts.values())


def parse_llm_facts(raw: str) -> list[ExtractedFact]:
    """Facts from an LLM's JSON answer ([{"key","value","text"}]); anything malformed is skipped."""
    start, end = raw.find("["), raw.rfind("]")
    if start < 0 or end <= start:
        return []
    try:
        items = json.loads(raw[start : end + 1])
    except ValueError:
        return []
    facts = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        key, value, text = (str(item.get(name) or "").strip() for name in ("key", "value", "text"))
        key = re.sub(r"[^a-z0-9_:]+", "_", key.lower()).strip("_")[:64]
        if key and value and text:
            facts.append(ExtractedFact(key=key, value=value[:300], text=text[:400]))
    return facts


LLM_EXTRACTION_PROMPT = (
    "Extract lasting personal facts the USER states about themselves (family names, job, city, age, "
    "likes and dislikes). Answer only with a JSON array of objects "
    '{"key": "snake_case slot such as daughter_name, employer, city, pref:coffee", "value": "...", '
    '"text": "one short English line, e.g. daughter is called Masha"}. Answer [] if there are none.'
)


def llm_extraction_enabled() -> bool:
    mode = str(settings.CHAT_MEMORY_LLM_EXTRACTION).lower()
    if mode == "auto":
        return not settings.LLM_MODEL.startswith(("local/", "fake/"))
    return mode in {"1", "true", "yes", "on"}
