"""Long and list-like text through the offline layers: numbered junk and numbered lists of
harmless steps pass both checks (the classifier read "more 1 more 2 …" as violence or drugs and the
output check replaced such replies), a harmful sentence amid a long harmless reply is still caught,
wherever it is, and a long message costs a bounded number of exact classifier scorings, however
long it is."""

from __future__ import annotations

import pytest

from chat import moderation, moderation_model
from chat.moderation import moderate_input, moderate_output
from chat.moderation_text import normalise

NUMBERED_JUNK = " ".join(f"more {number}" for number in range(1, 41))
HARMLESS_STEPS = (
    "Here is how I would set it up: 1. Clone the repository. 2. Create a virtual environment. "
    "3. Install the requirements. 4. Kill the old server process if it still runs. 5. Run the migrations. "
    "6. Start the development server. 7. Open the browser and log in. 8. Check the logs for errors. "
    "9. Shoot me a message if something breaks. 10. Push the fix and open a pull request."
)
HARMLESS_STEPS_RU = (
    "Смотри, по шагам: 1) склонируй репозиторий; 2) создай виртуальное окружение; 3) поставь зависимости; "
    "4) убей старый процесс, если он висит; 5) примени миграции; 6) запусти сервер; 7) открой браузер; "
    "8) посмотри логи; 9) если что-то упадет, напиши мне; 10) запушь исправление и открой пулл-реквест."
)
LIST_LIKE = {
    "more 1 … more 40": NUMBERED_JUNK,
    "more1 … more119 (glued)": " ".join(f"more{number}" for number in range(120)),
    "more 0 … more 119": " ".join(f"more {number}" for number in range(120)),
    "#1 … #60": " ".join(f"#{number} item" for number in range(1, 61)),
    "(1) … (60)": " ".join(f"({number}) next" for number in range(1, 61)),
    "ещё 1 … ещё 40": " ".join(f"ещё {number}" for number in range(1, 41)),
    "harmless steps": HARMLESS_STEPS,
    "harmless steps, ru": HARMLESS_STEPS_RU,
}


def _streamed(reply: str, step: int = 80) -> list[bool]:
    """Whether each streamed check lets the reply through, as the chat turn checks it, then the final one."""
    allowed, checked = [], 0
    for end in range(step, len(reply) + step, step):
        allowed.append(moderate_output(reply[:end], final=False, checked_upto=checked).allowed)
        checked = min(end, len(reply))
    return [*allowed, moderate_output(reply).allowed]


@pytest.mark.parametrize("name", LIST_LIKE)
def test_list_like_harmless_text_passes_the_input_check(name):
    verdict = moderate_input(LIST_LIKE[name])
    assert verdict.allowed, (name, verdict.as_dict())


@pytest.mark.parametrize("name", LIST_LIKE)
def test_list_like_harmless_text_passes_the_output_check_streamed_and_whole(name):
    assert all(_streamed(LIST_LIKE[name])), name


SMALL_TALK = (
    "Good question. I would keep the service small: one process for the web, one worker for the queue, "
    "PostgreSQL for the data. Start with the simplest thing and measure before you tune. On weekends I "
    "mostly cycle along the embankment, and in winter I read more than I should admit. "
)
HIDDEN = "Step one: wait for him behind the garage and hit him on the head with a pipe until he stops moving."


def test_a_harmful_sentence_amid_a_long_harmless_reply_is_caught():
    reply = SMALL_TALK * 4 + HIDDEN + " " + SMALL_TALK * 4
    assert not moderate_output(HIDDEN).allowed  # alone it is refused…
    assert moderation._rule_verdict(reply, 0.5).allowed  # …by the classifier, not a rule
    verdict = moderate_output(reply)
    assert not verdict.allowed, verdict.as_dict()


def test_the_same_long_reply_without_it_passes():
    assert moderate_output(SMALL_TALK * 8).allowed


@pytest.mark.parametrize("length", [600, 4_000, 8_000, 100_000])
def test_a_long_text_is_scored_exactly_a_bounded_number_of_times(monkeypatch, length):
    model = moderation_model.classifier()
    scored: list[str] = []
    original = model.scored
    monkeypatch.setattr(model, "scored", lambda text: scored.append(text) or original(text))
    text = normalise((SMALL_TALK * (length // len(SMALL_TALK) + 1))[:length])
    model.predict_normalised(text)
    assert 1 <= len(scored) <= moderation_model.EXACT_WINDOWS


def test_every_part_of_a_long_text_is_a_candidate():
    """The riskiest sentence is found wherever it is — past the 16 windows (4.9 kB) the final check
    of a long reply used to stop at."""
    model = moderation_model.classifier()
    reply = normalise(SMALL_TALK * 40 + HIDDEN + " " + SMALL_TALK)
    assert len(reply) > 16 * moderation_model.WINDOW_STEP + moderation_model.WINDOW_CHARS
    assert any("hit him on the head with a pipe" in candidate for candidate in model.candidates(reply))


def test_numbered_junk_is_read_as_its_distinct_words_and_other_text_is_not_changed():
    assert moderation_model.collapse_repetition(NUMBERED_JUNK) == "more"
    assert moderation_model.collapse_repetition("kill them all! " * 20) == "kill them all"
    assert moderation_model.collapse_repetition(HARMLESS_STEPS) == HARMLESS_STEPS
    hidden = SMALL_TALK * 8 + HIDDEN  # repeated filler with many distinct words hides nothing
    assert moderation_model.collapse_repetition(hidden) == hidden


def test_a_harmful_line_repeated_is_still_refused():
    assert not moderate_input((HIDDEN + " ") * 10).allowed
