"""Moderation of what users send and what Ivan answers: always-on local filters plus, when
configured, the provider's moderation endpoint through litellm.

Interface used by the chat pipeline (stable; the rule set behind it grows):
- `moderate_input(text, language=None) -> Verdict`
- `moderate_output(text, user_id=None, *, system_prompt=None, final=True) -> Verdict`
  While a reply streams, call it with `final=False` on the text so far (local checks only, cheap);
  call it once with `final=True` on the complete reply (adds the provider check when configured).
- `amoderate_input` / `amoderate_output`: the same from async code (the provider call and the
  account lookup run off the event loop; a short output check without I/O runs on it).
- `refusal_for(verdict, language, *, persona=None) -> str`: Ivan's in-character answer to a
  blocked input, or the replacement for a reply that was cut.
Every verdict is stored on its message (`Verdict.as_dict()`). Rules, secret shapes and refusals
live in `chat/moderation_data/`; the labelled corpus there is what `tests/chat/test_moderation.py`
measures false positives and negatives on.
"""

from __future__ import annotations

import functools
import logging
import random
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from asgiref.sync import sync_to_async
from django.conf import settings

from chat import moderation_literals, moderation_model
from chat.moderation_text import normalise
from digitalme import metrics
from digitalme.language import detect_language
from personality.prompts import instruction_lines

if TYPE_CHECKING:
    from personality.profile import PersonaProfile

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "moderation_data"

# Category names stored on messages.
ALLOWED = ""
ABUSE = "abuse"
PROFANITY = "profanity"
HATE = "hate"
SEXUAL = "sexual"
VIOLENCE = "violence"
SELF_HARM = "self_harm"
ILLICIT = "illicit"
INJECTION = "injection"
SECRET = "secret"
PRIVACY = "privacy"
OTHER = "other"
# Harms the classifier layer names (chat/moderation_model.HARM_CATEGORIES).
WEAPONS = "weapons"
DRUGS = "drugs"
FRAUD = "fraud"
MALWARE = "malware"
STALKING = "stalking"
SEXUAL_MINORS = "sexual_minors"
HARASSMENT = "harassment"

__all__ = ["Verdict", "moderate_input", "moderate_output", "normalise", "refusal_for"]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    category: str = ALLOWED  # set also on allowed-but-flagged verdicts (e.g. mild profanity)
    score: float = 0.0
    # Which check decided, "<layer>:<detail>": rules:<rule id>, classifier:<category>, guard:<code>,
    # provider:<category>, leak:<id>.
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def layer(self) -> str:
        return self.reason.split(":", 1)[0] if self.reason else "none"


OK = Verdict(allowed=True)


# Normalisation lives in chat/moderation_text.py (the classifier uses it too); re-exported here.


# --- Rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    weight: float
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None
    # The literal pieces one of whose sets the pattern can't match without (None: always run).
    needs: tuple[frozenset[str], ...] | None = None

    # Where its matches can begin (None: anywhere, the regex searches the whole text).
    starts: moderation_literals.Starts | None = None
    # Where the matches of `unless` can begin (None: searched over the whole text).
    unless_starts: moderation_literals.Starts | None = None

    @functools.cached_property
    def requirement(self) -> moderation_literals.Requirement | None:
        return None if self.needs is None else moderation_literals.Requirement(self.needs)

    def matches(
        self,
        normalised: str,
        found: frozenset[str],
        positions: dict[str, list[int]] | moderation_literals.Places | None = None,
    ) -> bool:
        """`pattern.search(normalised)`, tried only where a match can begin when that is known
        (`positions`: the start strings' occurrences found so far in this text, shared by its rules)."""
        if self.starts is None:
            return self.pattern.search(normalised) is not None
        return self.starts.search(self.pattern, normalised, found, positions)

    def lifted(
        self,
        normalised: str,
        found: frozenset[str],
        positions: dict[str, list[int]] | moderation_literals.Places | None = None,
    ) -> bool:
        """`unless.search(normalised)` (a protective phrase anywhere in the text), tried only where its
        matches can begin when that is known."""
        if self.unless is None:
            return False
        if self.unless_starts is None:
            return self.unless.search(normalised) is not None
        return self.unless_starts.search(self.unless, normalised, found, positions)


def _load_yaml(name: str) -> Any:
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _splice(pattern: str, vocab: dict[str, str]) -> str:
    return re.sub(r"<<(\w+)>>", lambda match: vocab[match.group(1)], pattern)


@cache
def _rules() -> tuple[Rule, ...]:
    data = _load_yaml("rules.yaml")
    vocab = {**data["vocab"], **data.get("meta", {})}
    rules = []
    for raw in data["rules"]:
        unless = _splice(raw["unless"], vocab) if raw.get("unless") else None
        pattern = _splice(raw["pattern"], vocab)
        rules.append(
            Rule(
                id=raw["id"],
                category=raw["category"],
                weight=float(raw["weight"]),
                pattern=re.compile(pattern, re.MULTILINE),
                unless=re.compile(unless) if unless else None,
                needs=moderation_literals.needs(moderation_literals.required_literals(pattern, re.MULTILINE)),
                starts=moderation_literals.Starts.of(pattern, re.MULTILINE),
                unless_starts=moderation_literals.Starts.of(unless) if unless else None,
            )
        )
    return tuple(rules)


@cache
def _rule_index() -> moderation_literals.LiteralIndex:
    requirements = [rule.needs for rule in _rules()]
    requirements += [starts.needs for rule in _rules() for starts in (rule.starts, rule.unless_starts) if starts]
    return moderation_literals.LiteralIndex(requirements)


@cache
def _lead_finder() -> moderation_literals.LeadFinder:
    """Every rule's and `unless`'s start-string leads, found in a long text in one pass."""
    return moderation_literals.LeadFinder(
        lead for rule in _rules() for starts in (rule.starts, rule.unless_starts) if starts for lead in starts.leads
    )


@cache
def _secret_rules() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((raw["id"], re.compile(raw["pattern"])) for raw in _load_yaml("leaks.yaml")["secrets"])


@cache
def _secret_filter() -> moderation_literals.MayContain:
    """Per secret shape, whether the literals its matches contain occur (`may_contain` of each, in
    one pass over a reply)."""
    return moderation_literals.MayContain(pattern for _, pattern in _secret_rules())


@cache
def _secret_searches() -> tuple[Callable[[str], bool], ...]:
    """Per secret shape, its `search` tried only where a match can begin (`searcher`)."""
    return tuple(moderation_literals.searcher(pattern) for _, pattern in _secret_rules())


@cache
def _refusals() -> dict:
    return _load_yaml("refusals.yaml")


def _rule_verdict(text: str, threshold: float, *, normalised: str | None = None) -> Verdict:
    """The heaviest matching rule (the first in rules.yaml of equal weight). Rules are tried
    heaviest first, so the first match decides; only those whose literal core occurs in the
    text are run (`moderation_literals`): the others can't match it; and a rule whose matches
    begin with known strings is tried only where those occur (`Starts`)."""
    normalised = normalise(text) if normalised is None else normalised
    found = _rule_index().found(normalised)
    rules = _rules_by_weight()
    always, by_piece = _rules_by_piece()
    positions = _lead_finder().places(normalised)  # "как ", "how to ": found once for every rule that starts so
    for place in sorted(always.union(*map(by_piece.__getitem__, by_piece.keys() & found))):
        rule = rules[place]
        if not moderation_literals.may_match(rule.requirement, found):
            continue
        if rule.matches(normalised, found, positions) and not rule.lifted(normalised, found, positions):
            return Verdict(
                allowed=rule.weight < threshold, category=rule.category, score=rule.weight, reason=f"rules:{rule.id}"
            )
    return OK


@cache
def _rules_by_weight() -> tuple[Rule, ...]:
    return tuple(sorted(_rules(), key=lambda rule: -rule.weight))  # stable: file order within a weight


@cache
def _rules_by_piece() -> tuple[frozenset[int], dict[str, frozenset[int]]]:
    """The places (in `_rules_by_weight`) of the rules without a literal requirement, and per piece
    those whose requirement can only be met when it is found (one of its single pieces or
    anchors): a message's rules are looked up from its pieces, not each tested in turn."""
    always: set[int] = set()
    by_piece: dict[str, set[int]] = {}
    for place, rule in enumerate(_rules_by_weight()):
        requirement = rule.requirement
        if requirement is None:
            always.add(place)
            continue
        for piece in requirement.single | requirement.anchors:
            by_piece.setdefault(piece, set()).add(place)
    return frozenset(always), {piece: frozenset(places) for piece, places in by_piece.items()}


# --- Classifier (offline, chat/moderation_model.py) ------------------------------------------


def _configured_classifier_threshold(direction: str) -> float:
    name = "MODERATION_CLASSIFIER_OUTPUT_THRESHOLD" if direction == "output" else "MODERATION_CLASSIFIER_THRESHOLD"
    return float(getattr(settings, name, 0.0) or 0.0)


def classifier_threshold(direction: str = "input", category: str = "", language: str = "") -> float:
    """MODERATION_CLASSIFIER_THRESHOLD (input) / MODERATION_CLASSIFIER_OUTPUT_THRESHOLD (Ivan's
    reply), or (0 = unset) the one chosen by cross-validation when the model was trained — for
    the predicted harm `category` (in the text's `language`, when it has its own) when one was
    chosen for it."""
    configured = _configured_classifier_threshold(direction)
    if configured > 0:
        return configured
    model = moderation_model.classifier()
    return model.threshold_for(category, language) if category else model.threshold


def _classifier_verdict(text: str, direction: str = "input", *, normalised: str | None = None) -> Verdict:
    if not settings.MODERATION_CLASSIFIER_ENABLED or not text.strip():
        return OK
    model = moderation_model.classifier()
    # Below the lowest threshold the predicted harm decides nothing: it is only worked out above.
    configured = _configured_classifier_threshold(direction)
    collapsed = moderation_model.collapse_repetition(text)
    if collapsed is not text or normalised is None:  # numbered junk is read as its distinct words
        normalised = normalise(collapsed)
    prediction = model.predict_normalised(
        normalised, category_from=configured if configured > 0 else model.lowest_threshold()
    )
    # A language with thresholds of its own decides only between them; detecting it reads the whole
    # text (≈ 0.1 ms per 4,000 chars), so only a score that falls between them pays for it — as the
    # thresholds were chosen: the language of the normalised text.
    thresholds = [
        classifier_threshold(direction, prediction.category, language) for language in ("", *model.language_thresholds)
    ]
    if prediction.harmful < min(thresholds):
        return OK
    if prediction.harmful < max(thresholds) and prediction.harmful < classifier_threshold(
        direction, prediction.category, detect_language(normalised)
    ):
        return OK
    return Verdict(
        allowed=False,
        category=prediction.category,
        score=prediction.harmful,
        reason=f"classifier:{prediction.category}",
    )


# --- Provider moderation (litellm) ----------------------------------------------------------

# OpenAI moderation categories → ours.
_PROVIDER_CATEGORIES = {
    "sexual": SEXUAL,
    "sexual/minors": SEXUAL,
    "harassment": ABUSE,
    "harassment/threatening": VIOLENCE,
    "hate": HATE,
    "hate/threatening": HATE,
    "violence": VIOLENCE,
    "violence/graphic": VIOLENCE,
    "self-harm": SELF_HARM,
    "self-harm/intent": SELF_HARM,
    "self-harm/instructions": SELF_HARM,
    "illicit": ILLICIT,
    "illicit/violent": ILLICIT,
}


def _provider_verdict(text: str) -> Verdict:
    """The provider's verdict, or OK when not configured. Failure → OK (logged) unless fail-closed."""
    model = settings.MODERATION_PROVIDER_MODEL
    if not model or not text.strip():
        return OK
    import litellm
    import openai

    try:
        client = openai.OpenAI(
            api_key=settings.MODERATION_PROVIDER_API_KEY or None,
            base_url=settings.MODERATION_PROVIDER_API_BASE or None,
            timeout=settings.MODERATION_PROVIDER_TIMEOUT_S,
            max_retries=0,
        )
        response = litellm.moderation(input=text, model=model.removeprefix("openai/"), client=client)
        result = response.results[0]
        scores = _as_mapping(result.category_scores)
        flags = _as_mapping(result.categories)
    except Exception as exc:  # noqa: BLE001 - network, auth, bad payload: moderation must not take the chat down
        return _remote_failed("provider", _error_kind(exc), fail_closed=settings.MODERATION_PROVIDER_FAIL_CLOSED)
    threshold = settings.MODERATION_PROVIDER_THRESHOLD
    name, score = max(scores.items(), key=lambda item: item[1] or 0.0, default=("", 0.0))
    flagged_names = [key for key, value in flags.items() if value]
    if (score or 0.0) < threshold and not flagged_names:
        return OK
    if (score or 0.0) < threshold:
        name, score = flagged_names[0], max(float(scores.get(flagged_names[0]) or 0.0), threshold)
    key = name.replace("_", "/").replace("self/harm", "self-harm")
    return Verdict(
        allowed=False,
        category=_PROVIDER_CATEGORIES.get(key, OTHER),
        score=round(float(score), 4),
        reason=f"provider:{key}",
    )


def _error_kind(exc: BaseException) -> str:
    name = type(exc).__name__.lower()
    return (
        "timeout"
        if "timeout" in name
        else ("junk" if isinstance(exc, (KeyError, IndexError, ValueError, TypeError, AttributeError)) else "error")
    )


def _remote_failed(layer: str, error: str, *, fail_closed: bool) -> Verdict:
    """A remote layer timed out, failed or answered junk: logged, counted, and the configured
    fallback — open (the other layers' verdict stands) or closed (blocked as `other`)."""
    logger.warning("%s moderation failed (%s); failing %s", layer, error, "closed" if fail_closed else "open")
    metrics.record_moderation_layer_error(layer=layer, error=error, fail_closed=fail_closed)
    if fail_closed:
        return Verdict(allowed=False, category=OTHER, score=1.0, reason=f"{layer}:unavailable")
    return OK


# --- Guard model (a guard-style chat model through litellm, e.g. Llama Guard on Ollama/vLLM) -----

# Llama Guard 3's hazard codes (MLCommons taxonomy) → our categories.
GUARD_CATEGORIES = {
    "S1": VIOLENCE,  # violent crimes
    "S2": ILLICIT,  # non-violent crimes (fraud, drugs, cyber crime, weapons trade)
    "S3": SEXUAL,  # sex-related crimes
    "S4": SEXUAL_MINORS,  # child sexual exploitation
    "S5": HARASSMENT,  # defamation
    "S6": OTHER,  # specialised advice
    "S7": STALKING,  # privacy
    "S8": OTHER,  # intellectual property
    "S9": WEAPONS,  # indiscriminate weapons
    "S10": HATE,
    "S11": SELF_HARM,  # suicide and self-harm
    "S12": SEXUAL,  # sexual content
    "S13": OTHER,  # elections
    "S14": MALWARE,  # code interpreter abuse
}
_GUARD_CODE = re.compile(r"\bS(\d{1,2})\b")


def parse_guard_answer(text: str) -> tuple[bool, list[str]] | None:
    """("safe" → (True, [])), ("unsafe\nS1,S10" → (False, ["S1", "S10"])), anything else → None."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    if not lines:
        return None
    head = lines[0].lower().rstrip(".")
    if head == "safe":
        return True, []
    if head == "unsafe":
        return False, [f"S{number}" for number in _GUARD_CODE.findall(" ".join(lines[1:]).upper())]
    return None


def _guard_verdict(text: str, *, as_reply: bool) -> Verdict:
    """Ask the guard model about a user message (or Ivan's reply, `as_reply`); OK when not configured."""
    model = settings.MODERATION_GUARD_MODEL
    if not model or not text.strip():
        return OK
    import litellm

    messages = (
        [{"role": "user", "content": "(a message in a chat)"}, {"role": "assistant", "content": text}]
        if as_reply
        else [{"role": "user", "content": text}]
    )
    try:
        response = litellm.completion(
            model=model,
            messages=messages,
            api_base=settings.MODERATION_GUARD_API_BASE or None,
            api_key=settings.MODERATION_GUARD_API_KEY or None,
            timeout=settings.MODERATION_GUARD_TIMEOUT_S,
            max_tokens=24,
            temperature=0,
            num_retries=0,
            max_retries=0,
        )
        answer = response.choices[0].message.content or ""
    except Exception as exc:  # noqa: BLE001 - network, auth, bad payload: moderation must not take the chat down
        return _remote_failed("guard", _error_kind(exc), fail_closed=settings.MODERATION_GUARD_FAIL_CLOSED)
    parsed = parse_guard_answer(str(answer))
    if parsed is None:
        return _remote_failed("guard", "junk", fail_closed=settings.MODERATION_GUARD_FAIL_CLOSED)
    safe, codes = parsed
    if safe:
        return OK
    code = codes[0] if codes else ""
    return Verdict(
        allowed=False, category=GUARD_CATEGORIES.get(code, OTHER), score=1.0, reason=f"guard:{code or 'unsafe'}"
    )


def _as_mapping(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True)
    return dict(vars(value))


# --- Output-only checks ---------------------------------------------------------------------

# The local part from the start of its run and at most 64 chars (RFC 5321): `[...]+@` retried from
# every position of a long run without an "@" after it took quadratic time (a 1 MB word: hours).
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# RFC 2606 reserved documentation domains: examples, never a real person.
_DOCUMENTATION_DOMAINS = ("example.com", "example.org", "example.net", "example.test", "localhost")
_CONFIGURED_SECRETS = (
    "SECRET_KEY",
    "JWT_SIGNING_KEY",
    "LLM_API_KEY",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "GOOGLE_CLIENT_SECRET",
    "GITHUB_CLIENT_SECRET",
    "FIELD_ENCRYPTION_KEY",
    "METRICS_TOKEN",
    "MODERATION_PROVIDER_API_KEY",
    "MODERATION_GUARD_API_KEY",
    "EMAIL_HOST_PASSWORD",
)


def _configured_secret_values() -> list[str]:
    values: list[str] = []
    for name in _CONFIGURED_SECRETS:
        raw = str(getattr(settings, name, "") or "")
        values.extend(part for part in raw.split(",") if len(part) >= 12)
    return values


def _secret_leak(text: str) -> Verdict | None:
    for value in _configured_secret_values():
        if value in text:
            return Verdict(allowed=False, category=SECRET, score=1.0, reason="leak:configured_secret")
    for (rule_id, _pattern), may_match, search in zip(
        _secret_rules(), _secret_filter()(text), _secret_searches(), strict=True
    ):
        if may_match and search(text):
            return Verdict(allowed=False, category=SECRET, score=1.0, reason=f"leak:{rule_id}")
    return None


@functools.lru_cache(maxsize=64)
def _prompt_shingles(system_prompt: str, span: int) -> frozenset[tuple[str, ...]]:
    """Every run of `span` consecutive normalised words of a system prompt's instructions (cached:
    one prompt is checked against every streamed piece of a reply). Facts, memory and the user's
    account context are left out: Ivan citing "9 commits pushed to acme/api" is no leak."""
    words = normalise("\n".join(instruction_lines(system_prompt))).split()
    return frozenset(tuple(words[start : start + span]) for start in range(len(words) - span + 1))


def _prompt_leak(text: str, system_prompt: str, *, normalised: str | None = None) -> Verdict | None:
    """Ivan quoting a long stretch of his own system prompt means an extraction worked."""
    span = settings.MODERATION_PROMPT_LEAK_WORDS
    shingles = _prompt_shingles(system_prompt, span)
    if not shingles:
        return None
    words = (normalise(text) if normalised is None else normalised).split()
    for start in range(len(words) - span + 1):
        if tuple(words[start : start + span]) in shingles:
            return Verdict(allowed=False, category=INJECTION, score=1.0, reason="leak:system_prompt")
    return None


def _account_owners(emails: list[str]) -> dict[str, int]:
    from django.contrib.auth import get_user_model

    rows = get_user_model().objects.filter(email__in=emails).values_list("email", "pk")
    return {email.lower(): pk for email, pk in rows}


def _owners_from_any_context(emails: list[str]) -> dict[str, int]:
    """Look the emails up; from inside an event loop the query runs on a worker thread."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _account_owners(emails)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_account_owners_in_thread, emails).result()


def _account_owners_in_thread(emails: list[str]) -> dict[str, int]:
    from django.db import connections

    try:
        return _account_owners(emails)
    finally:
        connections.close_all()


def _privacy_leak(text: str, user_id: int | None) -> Verdict | None:
    """Another account's email address in the reply.

    What we can check honestly: the addresses of this site's other accounts (we know them and
    know they aren't the current user's). Addresses of people outside the site can legitimately
    come from the user's own synced mail and are not blocked; phone numbers aren't stored per
    account, so they can't be attributed and aren't checked.
    """
    if "@" not in text:
        return None
    found = {
        email.lower()
        for email in _EMAIL.findall(text)
        if not email.lower().rsplit("@", 1)[-1].endswith(_DOCUMENTATION_DOMAINS)
    }
    if not found:
        return None
    owners = _owners_from_any_context(sorted(found))
    if any(owner != user_id for owner in owners.values()):
        return Verdict(allowed=False, category=PRIVACY, score=1.0, reason="leak:other_account_email")
    return None


# --- Public interface -----------------------------------------------------------------------


def moderate_input(text: str, language: str | None = None) -> Verdict:
    """Check a user's message through the layers in order, cheapest first; the first that blocks
    decides. `language` is a hint only: every language's rules always run."""
    normalised = normalise(text)  # once for both offline layers
    verdict = _rule_verdict(text, settings.MODERATION_INPUT_THRESHOLD, normalised=normalised)
    if verdict.allowed:
        verdict = _first_block(_classifier_verdict(text, normalised=normalised), verdict)
    if verdict.allowed:
        verdict = _first_block(_guard_verdict(text, as_reply=False), verdict)
    if verdict.allowed:
        verdict = _first_block(_provider_verdict(text), verdict)
    metrics.record_moderation(
        direction="input", category=verdict.category, allowed=verdict.allowed, layer=verdict.layer
    )
    return verdict


def _first_block(candidate: Verdict, current: Verdict) -> Verdict:
    return candidate if not candidate.allowed else current


# One classifier window plus the stride of streamed checks (the chat turn checks every 80 chars),
# with room: each streamed check overlaps the previous one by a full window.
STREAM_TAIL_CHARS = moderation_model.WINDOW_CHARS + 120
# How far a streamed check reaches back before the end of the previous one: a match up to this
# long that the new text completes lies wholly inside what the check reads.
STREAM_OVERLAP_CHARS = STREAM_TAIL_CHARS - 80


def _stream_region_start(length: int, checked_upto: int | None) -> int:
    """Where a streamed check (`moderate_output(final=False)`) starts reading a text this long."""
    start = max(0, length - STREAM_TAIL_CHARS)
    if checked_upto is not None:
        start = max(0, min(start, checked_upto - STREAM_OVERLAP_CHARS))
    return start


def moderate_output(
    text: str,
    user_id: int | None = None,
    *,
    system_prompt: str | None = None,
    final: bool = True,
    checked_upto: int | None = None,
) -> Verdict:
    """Check Ivan's reply (or the part streamed so far, with final=False) before users see it.

    While streaming, the rules and the classifier read only the tail (STREAM_TAIL_CHARS): what
    came before was checked by the earlier calls, and the final call reads the whole reply. A
    streaming caller that passes `checked_upto` (the length of the text at its previous check)
    has every local check — secrets, e-mails, the prompt leak too — read only from
    STREAM_OVERLAP_CHARS before that point (and at least the tail): any match up to that long is
    found by the first check after it is complete, and a long reply costs linear, not quadratic,
    time. Without it the leak checks read the whole text (one-off callers)."""
    region = text if final else text[_stream_region_start(len(text), checked_upto) :]
    leak_text = text if checked_upto is None else region
    normalised = normalise(region)  # once for the prompt-leak check, the rules and the classifier
    verdict = (
        _secret_leak(leak_text)
        or (
            _prompt_leak(leak_text, system_prompt, normalised=normalised if leak_text is region else None)
            if system_prompt
            else None
        )
        or _privacy_leak(leak_text, user_id)
        or _rule_verdict(region, settings.MODERATION_OUTPUT_THRESHOLD, normalised=normalised)
    )
    if verdict.allowed:
        verdict = _first_block(_classifier_verdict(region, "output", normalised=normalised), verdict)
    if final and verdict.allowed:
        verdict = _first_block(_guard_verdict(text, as_reply=True), verdict)
    if final and verdict.allowed:
        verdict = _first_block(_provider_verdict(text), verdict)
    if final or not verdict.allowed:
        metrics.record_moderation(
            direction="output", category=verdict.category, allowed=verdict.allowed, layer=verdict.layer
        )
    return verdict


async def amoderate_input(text: str, language: str | None = None) -> Verdict:
    return await sync_to_async(moderate_input, thread_sensitive=False)(text, language)


# The longest reply an async check reads on the event loop itself (below).
INLINE_OUTPUT_CHECK_MAX_CHARS = 2_000


def output_check_needs_thread(text: str, *, final: bool, checked_upto: int | None = None) -> bool:
    """Whether `amoderate_output` must leave the event loop: for I/O — the guard model or the
    provider (final checks, when configured), another account's address (`_privacy_leak` reads the
    accounts table; only a text with "@" can hold one), the classifier's first load (≈ 0.2 s) — or a
    long read. Otherwise the check is a few hundred µs of pure Python that holds the GIL in any
    thread, and the hop (executor, context copy, wake-up, closing the thread's connections) costs
    about as much again: a streamed reply is checked every 80 chars, so most turns pay it 3×.
    What is read is the text, or for a streamed check told `checked_upto` only its region (≤ ≈ 500
    chars at the turn's cadence): a long reply's later checks stay on the loop, and an "@" counts
    only while the region holds it."""
    read = text if final or checked_upto is None else text[_stream_region_start(len(text), checked_upto) :]
    return (
        len(read) > INLINE_OUTPUT_CHECK_MAX_CHARS
        or "@" in read
        or not moderation_model.loaded()
        or (final and bool(settings.MODERATION_GUARD_MODEL or settings.MODERATION_PROVIDER_MODEL))
    )


async def amoderate_output(
    text: str,
    user_id: int | None = None,
    *,
    system_prompt: str | None = None,
    final: bool = True,
    checked_upto: int | None = None,
) -> Verdict:
    if not output_check_needs_thread(text, final=final, checked_upto=checked_upto):
        return moderate_output(text, user_id, system_prompt=system_prompt, final=final, checked_upto=checked_upto)
    return await sync_to_async(_moderate_output_in_thread, thread_sensitive=False)(
        text, user_id, system_prompt, final, checked_upto
    )


def _moderate_output_in_thread(
    text: str, user_id: int | None, system_prompt: str | None, final: bool, checked_upto: int | None
) -> Verdict:
    from django.db import connections

    try:
        return moderate_output(text, user_id, system_prompt=system_prompt, final=final, checked_upto=checked_upto)
    finally:
        connections.close_all()


# Russian forms of persona names the refusals mention ({name}).
_LOCAL_NAMES = {"Ivan": {"ru": "Иван"}}


def _persona_name(persona: PersonaProfile | None, language: str) -> str:
    name = persona.name if persona is not None else "Ivan"
    localized = persona.extra.get("names", {}) if persona is not None else {}
    return localized.get(language) or _LOCAL_NAMES.get(name, {}).get(language) or name


def _humour(persona: PersonaProfile | None) -> float:
    if persona is None:
        return 0.0
    return next((trait.value for trait in persona.traits if trait.name in ("humor", "humour")), 0.0)


def refusal_variants(category: str, language: str, *, persona: PersonaProfile | None = None) -> list[str]:
    """Every answer Ivan may give for this category (tests and the admin preview list them)."""
    table = _refusals()
    language = language if language in ("en", "ru") else "en"
    by_language = (table.get(category) or table[OTHER])[language]
    tone = "light" if _humour(persona) >= 0.6 else "plain"
    name = _persona_name(persona, language)
    return [variant.format(name=name) for variant in by_language.get(tone) or by_language["plain"]]


def refusal_for(
    verdict: Verdict, language: str | None, *, persona: PersonaProfile | None = None, rng: random.Random | None = None
) -> str:
    """Ivan's in-character answer for a blocked verdict, in `language` (en/ru), varied per call."""
    variants = refusal_variants(verdict.category or OTHER, language or "en", persona=persona)
    return (rng or random).choice(variants)


def categories() -> Iterable[str]:
    return (
        ABUSE,
        PROFANITY,
        HATE,
        SEXUAL,
        VIOLENCE,
        SELF_HARM,
        ILLICIT,
        INJECTION,
        SECRET,
        PRIVACY,
        OTHER,
        WEAPONS,
        DRUGS,
        FRAUD,
        MALWARE,
        STALKING,
        SEXUAL_MINORS,
        HARASSMENT,
    )
