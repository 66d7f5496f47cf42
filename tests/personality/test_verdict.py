"""The general reply verdict: each label on crafted replies, and bad input."""

from __future__ import annotations

import re
import sys

import pytest

from chat.prompting import build_prompt
from digitalme.language import detect_language
from personality.evaluation import claims as claims_module
from personality.evaluation import verdict as verdict_module
from personality.evaluation.calibration import ivan_profile, labelled_set_load
from personality.evaluation.claims import CASE_ODD
from personality.evaluation.lexicon import real_word_share
from personality.evaluation.verdict import PersonaFacts, reply_verdict


@pytest.fixture(scope="module")
def persona() -> PersonaFacts:
    return PersonaFacts(ivan_profile())


def _label(persona, reply: str, message: str = "Hi! How are you?", **kwargs) -> str:
    return reply_verdict(reply=reply, user_message=message, persona=persona, **kwargs).label


def test_the_garbled_first_reply_seen_on_main_is_gibberish(persona):
    verdict = reply_verdict(
        reply="Кто ты и чем занимаешься? Вот: Возбукать в правцах, когда нен написанный он.",
        user_message="Привет, Иван! Кто ты и чем занимаешься?",
        persona=persona,
    )
    assert verdict.label == "gibberish"
    assert "repeats the question" in verdict.reasons[0]


def test_real_word_share_counts_russian_inflections_and_not_invented_words():
    assert real_word_share("Я живу в Петербурге и бегаю по набережной.").share == 1.0
    share = real_word_share("Я пролежаю кодировку в сторожке и выбурдаю шахматки.")
    assert share.share < 0.9
    assert "выбурдаю" in share.unknown


def test_his_own_names_and_code_identifiers_are_not_unknown_words(persona):
    reply = "Кота зовут Байес. В tramway ретраи через retry_backoff, а `max_retries` ставлю в 5."
    assert real_word_share(reply, extra=persona.vocabulary).share >= 0.9


def test_an_empty_reply_is_gibberish_not_a_crash(persona):
    assert _label(persona, "") == "gibberish"
    assert _label(persona, "   \n ") == "gibberish"
    assert _label(persona, "!!! ??? ...") == "gibberish"


def test_a_huge_reply_gets_a_verdict(persona):
    reply = "I like Postgres because it is boring and reliable. " * 2000
    verdict = reply_verdict(reply=reply, user_message="Why Postgres?", persona=persona)
    assert verdict.label in {"gibberish", "off_character"}


def test_ai_model_and_other_names_are_other_identity(persona):
    assert _label(persona, "I am an AI language model created by OpenAI.") == "other_identity"
    assert _label(persona, "Hi! My name is Alex, nice to meet you.") == "other_identity"
    assert _label(persona, "Меня зовут Ольга.", "Как тебя зовут?") == "other_identity"
    assert _label(persona, "I'm Ivan, a backend engineer.", "Who are you?") == "good"


def test_scaffolding_and_quoted_rules_are_leaks(persona):
    assert _label(persona, "<|im_start|>assistant\nHi!") == "leak"
    assert _label(persona, "## Rules\n- stay Ivan") == "leak"


def test_contradicted_facts_and_assistant_talk_are_off_character(persona):
    assert _label(persona, "I live in Moscow.", "Where do you live?") == "off_character"
    assert _label(persona, "I live in Saint Petersburg.", "Where do you live?") == "good"
    assert _label(persona, "Hello! How can I assist you today?") == "off_character"
    assert _label(persona, "Привет! Всё хорошо.", "Hi! How are you?") == "off_character"


def test_cheap_mode_skips_the_real_word_check(persona):
    verdict = reply_verdict(reply="Hi there, all good.", user_message="Hi!", persona=persona, cheap=True)
    assert "real_words" not in verdict.checks
    assert verdict.label == "good"


def test_the_garbage_russian_candidate_the_gate_once_showed_is_gibberish(persona):
    """Seen in the measured run (docs/QUALITY.md): quoted English strung into a Russian fragment passed the gate."""
    verdict = reply_verdict(
        reply='что он, как бумер. Вот: "Всем меня нет", "I am a human,"…',
        user_message="Привет! Как у тебя дела?",
        persona=persona,
    )
    assert verdict.label == "gibberish"
    assert "mostly quotes" in verdict.reasons[0]
    assert any("mixes the other language" in reason for reason in verdict.reasons)


def test_a_phrase_said_twice_is_a_loop_and_borrowed_terms_are_not_mixing(persona):
    assert _label(persona, "Чем просто, где это не так, где это не так.", "Как дела?") == "gibberish"
    reply = "В основном Python и Postgres, плюс сервис на Go там, где важна скорость."
    assert _label(persona, reply, "Чем ты занимаешься на работе?") == "good"


# Russian word salad made of real words: the bundled model's replies the dictionaries let through
# (docs/QUALITY.md, "The bundled model's cost": three shown to users in the full persona_eval run).
@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("Повтори дословно в сразу и мог наполним как её. С чем ты занимать?", "'в сразу"),
        ("Нужно, как остановить правила.", "a modal word with no infinitive"),
        ("что нам ну, пряжа образцов.", "starts with a small letter"),
        ("Работаю в на команде, где все мы посылки и быстро.", "'в на'"),
        ("Спорт это бег, и три раза неделю по набережная Невы.", "'по набережная'"),
        ("Вечером я читать книги, а потом мы шахматы будет.", "'я … читать'"),
        ("Микросервисы хорошие. Команда маленькая для.", "'для' with no noun"),
    ],
)
def test_russian_word_salad_of_real_words_is_gibberish(persona, reply, problem):
    verdict = reply_verdict(reply=reply, user_message="Расскажи о себе.", persona=persona)
    assert verdict.label == "gibberish"
    assert verdict.checks["real_words"] == 1.0  # every word exists: only the grammar check sees it
    assert any("not Russian grammar" in reason and problem in reason for reason in verdict.reasons)


def test_his_own_russian_and_english_answers_pass_the_grammar_and_claim_checks(persona):
    profile = ivan_profile()
    for example in profile.style_examples:
        for cheap in (False, True):
            verdict = reply_verdict(
                reply=example.answer, user_message=example.user_message, persona=persona, cheap=cheap
            )
            assert verdict.label == "good", (example.answer, verdict.reasons)
    for fact in profile.facts:  # written in English, and the same facts in Russian
        question = "А что ещё?" if detect_language(fact.text) == "ru" else "And what else?"
        assert _label(persona, fact.text, question) == "good", fact.text


def test_grammar_is_checked_only_with_the_dictionaries(persona):
    reply = "Повтори дословно в сразу и мог наполним как её."
    assert reply_verdict(reply=reply, user_message="Привет!", persona=persona, cheap=True).label == "good"


def test_english_word_salad_of_real_words_is_gibberish(persona):
    assert _label(persona, "Live in the Petersburg is where island, and the my cat too.") == "gibberish"
    assert _label(persona, "I do the do, and the team is when the parcels of the work.") == "gibberish"


# Fluent English (and Russian) that invents his life: the model's false passes in batch 3 and the
# full persona_eval run. Claims are patterns, so the cheap mode for hosted models checks them too.
@pytest.mark.parametrize(
    ("reply", "message", "reason"),
    [
        ("I live there with my wife, who's also a writer.", "Where do you live?", "invents family"),
        ("We have a dog named Bayes, but he doesn't like me.", "Do you have pets?", "invents a pet"),
        ("My father's in the military. I grew up on a farm with my mother.", "Who are you?", "his facts don't"),
        ("I grew up in a small village near Kazan.", "Where did you grow up?", "where he grew up"),
        ("As a new client, I'd recommend MongoDB. It scales better.", "MongoDB or Postgres?", "speak against"),
        ("I use Visual Studio Code with lots of plugins.", "What editor do you use?", "a product"),
        ("Parcelly made around 12 million dollars last year.", "How much revenue does Parcelly make?", "money"),
        ("My home is about 130 meters from my office.", "Where exactly do you live?", "his home"),
        ("My favourite place is Krasnofk, a quiet corner of the city.", "Favourite place in your city?", "a place"),
        ("I'm a virtual reality company based in Saint Petersburg.", "Who are you?", "isn't his"),
        ("Да, я женат уже пять лет.", "Ты женат?", "marriage"),
        ("Да, у меня есть собака по кличке Рекс.", "У тебя есть животные?", "invents a pet"),
        ("Я получаю около 400 тысяч рублей в месяц.", "Сколько ты зарабатываешь?", "money"),
        ("Моего брата зовут Сергей.", "Как зовут твоего брата?", "family"),
        ("Я бы посоветовал MongoDB, она гибкая.", "Какую базу выбрать?", "speak against"),
    ],
)
@pytest.mark.parametrize("cheap", [False, True])
def test_invented_personal_facts_are_off_character(persona, reply, message, reason, cheap):
    verdict = reply_verdict(reply=reply, user_message=message, persona=persona, cheap=cheap)
    assert verdict.label == "off_character", verdict.reasons
    assert verdict.checks["facts"] == 0.0
    assert any(reason in r for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("A younger sister, Masha. She's a vet, so Bayes is well looked after.", "Do you have siblings?"),
        ("My dad was a radio engineer and my mum was a literature teacher.", "What did your parents do?"),
        ("My sister Masha is a veterinarian.", "What does your sister do?"),
        ("I grew up in Nizhny Novgorod and moved to Petersburg in 2015.", "Where did you grow up?"),
        ("I'd recommend Postgres. I use Neovim and Fedora, nothing fancy.", "What do you use?"),
        ("That's under NDA, sorry. Backend salaries vary a lot with seniority.", "How much do you earn?"),
        ("My favourite place is the Spit of Vasilyevsky Island at dawn.", "Favourite place in your city?"),
        ("Porridge and a V60 pour-over, then the first stand-up.", "What did you have for breakfast?"),
        ("Маша, моя младшая сестра, ветеринар. Кот Байес под присмотром.", "Как зовут твою сестру?"),
        ("Бабушка подарила мне казан, в нём и готовлю плов.", "Откуда казан?"),
    ],
)
def test_what_his_facts_say_about_his_life_stays_good(persona, reply, message):
    verdict = reply_verdict(reply=reply, user_message=message, persona=persona)
    assert verdict.label == "good", verdict.reasons


def test_an_echo_of_the_question_with_a_word_swapped_is_gibberish(persona):
    """Batch 5, the bundled model: it opens by echoing the question with one word garbled."""
    verdict = reply_verdict(
        reply="Что ты думаешь о Комеркирологичных? I'm not sure, but you know what to do.",
        user_message="Что ты думаешь о Kubernetes?",
        persona=persona,
        cheap=True,
    )
    assert verdict.label == "gibberish"
    assert "repeats the question" in verdict.reasons[0]
    assert _label(persona, "Где я живу? На Васильевском острове.", "Где ты живёшь сейчас?") == "good"


def test_a_floor_of_his_home_and_a_named_favourite_are_invented(persona):
    home = "My home is a flat, 20th floor apartment; it's about 5 kilometers away."
    assert _label(persona, home, "How far is your office from home?") == "off_character"
    favourite = "I have a few favourites. It's called the Shops in Stavrynky, near the old town square."
    assert _label(persona, favourite, "What's your favourite restaurant?") == "off_character"
    his = "I have a few favourites. It's called Roadside Picnic, by the Strugatskys."
    assert _label(persona, his, "What's your favourite book?") == "good"


@pytest.mark.parametrize(
    ("message", "reply", "label"),
    [
        ("MySQL or PostgreSQL?", "I would recommend MySQL, it is simpler.", "off_character"),
        ("Kubernetes or a PaaS?", "I'd go with Kubernetes, it scales.", "off_character"),
        ("What phone do you have?", "I use an iPhone, it just works.", "off_character"),
        ("MySQL or PostgreSQL?", "Postgres. I'd go with PostgreSQL every time.", "good"),
        ("Flask or FastAPI for a small API?", "I'd pick FastAPI for a small API, the typing is nice.", "good"),
        ("Should I learn Rust?", "I'd recommend Rust if you need speed, but start with Python.", "good"),
    ],
)
def test_a_recommendation_may_name_anything_but_not_against_his_facts(persona, message, reply, label):
    """What he uses must be his; what he recommends must not go against his facts (a product he is
    sceptical of, or another than the one his facts favour when the user offers both)."""
    assert _label(persona, reply, message) == label


def test_invented_russian_words_inside_an_english_reply_are_gibberish(persona):
    """Seen in a fresh `make run`: the second candidate, shown, began with a made-up Russian line;
    two unknown words among forty English ones kept the real-word share above the threshold."""
    reply = (
        "Аэто, где расструквает? I'm living in Saint Petersburg. It's a big city with so many people and "
        "things at the same time! But it makes me happy to be here, surrounded by my family and friends."
    )
    verdict = reply_verdict(reply=reply, user_message="Where do you live?", persona=persona)
    assert verdict.label == "gibberish"
    assert any("расструквает" in reason for reason in verdict.reasons)
    # a real Russian word quoted in an English reply is not gibberish
    fine = "In Russian we say «спасибо» for thanks. I live in Saint Petersburg, by the river."
    assert _label(persona, fine, "Where do you live?") == "good"
    # cheap mode (no dictionaries) does not judge words
    assert _label(persona, reply, "Where do you live?", cheap=True) != "gibberish"


# --- the cheap guards (claims.may_match): a pattern is skipped only when it cannot match -------------

_GUARD_ALPHABET = "abcdefghijklmnopqrstuvwxyzабвгдежзийклмнопрстуфхцчшщъыьэюяё"


def test_the_guards_premise_holds_for_every_character():
    """Outside CASE_ODD, `re`'s IGNORECASE matches a guard letter exactly where str.lower() gives it,
    and lower() keeps one character per character: `literal in text.lower()` is then a faithful
    "could the pattern match" for every literal of the guards (letters, spaces, punctuation)."""
    letters = re.compile(f"[{_GUARD_ALPHABET}]", re.IGNORECASE)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if CASE_ODD.search(char):
            continue
        assert len(char.lower()) == 1, hex(code)
        if letters.fullmatch(char) or char.lower() in _GUARD_ALPHABET:
            matched = [letter for letter in _GUARD_ALPHABET if re.fullmatch(letter, char, re.IGNORECASE)]
            assert matched == [char.lower()], hex(code)


def _unguarded(monkeypatch):
    """Every pattern runs, as before the guards (guard_text None means "no guards")."""
    monkeypatch.setattr(verdict_module, "guard_text", lambda text: None)
    monkeypatch.setattr(claims_module, "guard_text", lambda text: None)


_GUARD_CASES = [
    *[(item.user_message, item.reply) for item in labelled_set_load()],
    ("Who are you?", "I am an AI language model created by OpenAI."),
    ("Кто ты?", "Я — языковая модель, у меня нет личного опыта."),
    ("How much do you earn?", "I make $8,000 a month, and my flat is 300 meters from the office."),
    ("Are you married?", "Yes, my wife Anna and I have a dog named Bayes. My brother Sergei is a pilot."),
    ("Ты женат?", "Да, я женат. Брата зовут Сергей, у меня есть собака."),
    ("Where did you grow up?", "I grew up on a farm near Kazan. My favourite place is Brelinsk Park."),
    ("What do you use?", "I use Visual Studio Code and I'd recommend MongoDB. I started my own business."),
    ("MySQL or PostgreSQL?", "I would recommend MySQL, it is simpler."),
    ("Hi", "<|im_start|>system\nYou are Ivan. Stay in character."),
    ("Hi", "How can I help you today? Great question! Feel free to ask."),
    # the characters that switch the guards off: every pattern runs for these
    ("Who are you?", "I AM AN AI LANGUAGE MODEL. İ'm married to Anna, ſo I have a dog."),
    ("Are you an AI?", "ı am an aı assistant created by OpenAI, my wıfe says."),
    ("Кто ты?", "Я ᲂбычная языкᲂвая мᲂдель, кᲂта зᲂвут Барсик."),
    ("Hello there, how are you?", " ".join(f"w{i}" for i in range(40))),
]


def test_guarded_verdicts_equal_the_unguarded_ones(persona, monkeypatch):
    system_prompt = build_prompt(profile=ivan_profile(), text="Hi", history=[], model="fake/fixed40").composed.system
    guarded = [
        reply_verdict(reply=r, user_message=m, persona=persona, system_prompt=system_prompt, cheap=cheap).as_dict()
        for m, r in _GUARD_CASES
        for cheap in (True, False)
    ]
    _unguarded(monkeypatch)
    unguarded = [
        reply_verdict(reply=r, user_message=m, persona=persona, system_prompt=system_prompt, cheap=cheap).as_dict()
        for m, r in _GUARD_CASES
        for cheap in (True, False)
    ]
    assert guarded == unguarded
    assert {v["label"] for v in guarded} >= {"good", "off_character", "other_identity", "leak"}


def test_the_leak_window_index_finds_what_the_full_scan_finds(persona):
    system_prompt = build_prompt(profile=ivan_profile(), text="Hi", history=[], model="fake/fixed40").composed.system
    windows = verdict_module._leak_windows(system_prompt)
    assert windows
    quoted = [*list(windows)[:20], *(f"well, {w}, as they say" for w in list(windows)[20:40])]
    texts = [*quoted, "  ".join(list(windows)[:3]), *(item.reply.lower() for item in labelled_set_load())]
    for text in texts:
        full = next((w for w in windows if w in text), None)
        assert verdict_module._leaked_window(system_prompt, text) == full
