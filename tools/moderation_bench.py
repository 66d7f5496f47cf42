"""`make bench-moderation`: what the offline moderation layers (rules + classifier) cost per
message, on this machine, single-threaded — the issue's budget is ≤ 2 ms per message.

Runs `moderate_input` and `moderate_output(final=False)` (the streaming check) over the frozen test
set and a few long messages, after a warm-up (model and pymorphy3 loaded once per process, as in a
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
    from django.test import override_settings

    from chat import moderation_corpus
    from chat.moderation import _classifier_verdict, _rule_verdict, moderate_input, moderate_output

    def _streamed(text: str) -> None:
        for end in range(80, len(text), 80):
            moderate_output(text[:end], final=False)
        moderate_output(text, final=True)

    texts = [sample.text for sample in moderation_corpus.read(moderation_corpus.TEST_FILE)]
    texts += [sample.text for sample in moderation_corpus.read(moderation_corpus.ADVERSARIAL_FILE)]
    long_texts = [" ".join(texts[index : index + 40]) for index in range(0, 400, 40)]  # ≈ 2–4 kB each
    with override_settings(MODERATION_PROVIDER_MODEL="", MODERATION_GUARD_MODEL=""):
        for text in texts[:50]:  # warm-up: load the model, fill pymorphy3's cache as a server would
            moderate_input(text)
        results = [
            _measure("rules only", texts, lambda text: _rule_verdict(text, 0.7)),
            _measure("classifier only", texts, _classifier_verdict),
            _measure("moderate_input (rules + classifier)", texts, moderate_input),
            _measure("moderate_output, streaming check", texts, lambda text: moderate_output(text, final=False)),
            _measure("rules only, 2–4 kB messages", long_texts, lambda text: _rule_verdict(text, 0.7)),
            _measure("classifier only, 2–4 kB messages", long_texts, _classifier_verdict),
            _measure("moderate_input, 2–4 kB messages", long_texts, moderate_input),
            _measure("a 2–4 kB reply streamed (checks every 80 chars + final)", long_texts, _streamed),
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
