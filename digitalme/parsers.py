"""JSON that cannot crash a request: one parser for the API and one helper for sockets.

Python's json raises RecursionError (not ValueError) on deeply nested input such as
`[[[[…` × 5,000; DRF's JSONParser only catches ValueError, so such a body was a 500. Both paths
here turn it into the same "not valid JSON" error as any other malformed input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc


def loads_or_none(text: str | bytes | None) -> Any:
    """The decoded JSON value, or None for anything that is not valid JSON (including input
    nested too deeply to decode). JSON `null` also gives None: callers expect an object."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
