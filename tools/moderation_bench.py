"""`make bench-moderation`: what the offline moderation layers (rules + classifier) cost per
message, on this machine, single-threaded — the issue's budget is ≤ 2 ms per message.

Runs `moderate_input` and `moderate_output(final=False)` (the streaming check) over the frozen test
set, long messages (2–4 kB, the input limit, 8 kB replies, 1 MB for robustness) and streamed
replies, after a warm-up (model and pymorphy3 loaded once per process, as in a
server). Measures CPU time of this thread (`time.thread_time`): on a machine shared with other
work, wall-clock numbers measure the neighbours. Prints mean/p50/p95/p99 per layer set and writes
bench-output/moderation.json.

    make bench-moderation
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _measure(name: str, texts: list[str], check) -> dict[str, float | int | str]:
    timings = []
    for text in texts:
        started = time.thread_time()
        check(text)
        timings.append((time.thread_time() - started) * 1000)
    from digitalme.stats import percentiles_ms

    stats = percentiles_ms(timings, decimals=3)
    return {
        "case": name,
        "messages": len(texts),
        "mean_ms": stats["mean"],
        "p50_ms": stats["p50"],
        "p95_ms": stats["p95"],
        "p99_ms": stats["p99"],
    }


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.test import override_settings

    from chat import moderation_corpus
    from chat.moderation import _classifier_verdict, _rule_verdict, moderate_input, moderate_output

    def _streamed(text: str) -> None:
        # As the chat turn does (chat/turn.py _OutputGuard): a check every 80 chars, told where the
        # previous one ended; the first block cuts the reply (no final check then).
        checked = 0
        for end in range(80, len(text), 80):
            if not moderate_output(text[:end], final=False, checked_upto=checked).allowed:
                return
            checked = end
        moderate_output(text, final=True)

    samples = moderation_corpus.read(moderation_corpus.TEST_FILE)
    texts = [sample.text for sample in samples]
    texts += [sample.text for sample in moderation_corpus.read(moderation_corpus.ADVERSARIAL_FILE)]
    harmless = [sample.text for sample in samples if not sample.harmful]
    # Long messages from the frozen rows: mixed (half of them harmful) and harmless only.
    long_texts = [" ".join(texts[index : index + 40]) for index in range(0, 400, 40)]  # ≈ 2–4 kB each
    long_harmless = [" ".join(harmless[index : index + 40]) for index in range(0, 200, 20)]  # ≈ 2–3 kB
    max_input = [" ".join(texts[index:])[: settings.CHAT_MAX_MESSAGE_CHARS] for index in range(0, 500, 50)]
    replies_8k = [" ".join(texts[index:] + texts)[:8_000] for index in range(0, 500, 50)]
    # Each long message is measured five times (its own caches warm after the first, as a server's are).
    long_texts, long_harmless, max_input, replies_8k = (
        cases * 5 for cases in (long_texts, long_harmless, max_input, replies_8k)
    )
    # Texts whose words the process has not met (dev.tsv, read before the frozen rows): the first
    # pass pays for each new word (its lemma, its n-grams' columns, its estimate), as a server does.
    dev = [sample.text for sample in moderation_corpus.read(moderation_corpus.DEV_FILE)]
    first_seen = [" ".join(dev[index : index + 30]) for index in range(0, len(dev), 30)]
    huge = ["kill the process. " * 58_255, ("lorem ipsum dolor sit amet " * 40_000)[:1_000_000]]  # ≈ 1 MB
    with override_settings(MODERATION_PROVIDER_MODEL="", MODERATION_GUARD_MODEL=""):
        for text in texts[:50] + long_texts[:2]:  # warm-up: load the model, fill the caches as a server would
            moderate_input(text)
        results = [
            _measure("moderate_input, 2–4 kB of dev rows, first pass (new words)", first_seen, moderate_input),
            _measure("rules only", texts, lambda text: _rule_verdict(text, 0.7)),
            _measure("classifier only", texts, _classifier_verdict),
            _measure("moderate_input (rules + classifier)", texts, moderate_input),
            _measure("moderate_output, streaming check", texts, lambda text: moderate_output(text, final=False)),
            _measure("rules only, 2–4 kB messages", long_texts, lambda text: _rule_verdict(text, 0.7)),
            _measure("classifier only, 2–4 kB messages", long_texts, _classifier_verdict),
            _measure("moderate_input, 2–4 kB messages", long_texts, moderate_input),
            _measure("moderate_input, 2–3 kB harmless messages", long_harmless, moderate_input),
            _measure(
                f"moderate_input, {settings.CHAT_MAX_MESSAGE_CHARS}-char messages (the limit)",
                max_input,
                moderate_input,
            ),
            _measure("moderate_output final, 8 kB replies", replies_8k, moderate_output),
            _measure("a 2–4 kB reply streamed (checks every 80 chars + final)", long_texts, _streamed),
            _measure("a 2–3 kB harmless reply streamed (≈ 30 checks + final)", long_harmless, _streamed),
            _measure("an 8 kB reply streamed (checks every 80 chars + final)", replies_8k, _streamed),
            _measure("moderate_input, 1 MB messages (robustness, not in the budget)", huge, moderate_input),
            _measure(
                "moderate_input, a 100k-letter word before a swear word (robustness)",
                ["а" * 100_000 + " пиздец"],
                moderate_input,
            ),
        ]
    width = max(len(str(result["case"])) for result in results)
    for result in results:
        print(
            f"{result['case']:<{width}}  n={result['messages']:<5} mean {result['mean_ms']:.3f} ms  "
            f"p50 {result['p50_ms']:.3f}  p95 {result['p95_ms']:.3f}  p99 {result['p99_ms']:.3f}"
        )
    output = ROOT / "bench-output"
    output.mkdir(exist_ok=True)
    (output / "moderation.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
