"""The one pymorphy3 Russian analyser of a process, shared by moderation (lemmas of the classifier's
word features) and the reply checks in personality/evaluation (real words, grammar, grounding).

Its dictionary costs ≈ 16–27 MB of RSS and ≈ 0.1 s to load; two callers each holding their own paid
that twice in a web process. Loaded on first use, once, thread-safe. `MorphAnalyzer.parse` and
`word_is_known` keep no per-instance state that one caller could change for the other.
"""

from __future__ import annotations

import threading
from typing import Any


class _Shared:
    lock = threading.Lock()
    analyzer: Any = None


def analyzer() -> Any:
    """pymorphy3's `MorphAnalyzer(lang="ru")`, the same instance for every caller."""
    if _Shared.analyzer is None:
        with _Shared.lock:
            if _Shared.analyzer is None:
                import pymorphy3

                _Shared.analyzer = pymorphy3.MorphAnalyzer(lang="ru")
    return _Shared.analyzer


def loaded() -> bool:
    return _Shared.analyzer is not None
