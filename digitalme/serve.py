"""The web process: daphne with the same arguments, minus two optional imports it never uses.

    python -m digitalme.serve -e tcp:port=8000:interface=0.0.0.0 digitalme.asgi:application

DigitalMe serves plain HTTP and WebSockets behind a TLS-terminating proxy (docs/deployment.md),
yet a stock daphne process holds two libraries it only offers, both imported as optional extras
(inside `try: … except ImportError`) by the library that wants them:
- pyOpenSSL, which Twisted imports at start for TLS endpoints and STARTTLS (its `tls` extra;
  without it Twisted runs the same TCP transport with TLS unavailable) — ≈ 4.5 MB RSS;
- httpx's command-line client (`httpx._main`: rich, pygments, click; the `cli` extra) — ≈ 2 MB.
They are declined while daphne and the ASGI application are imported, then made importable
again: anything that really needs them later imports them as usual. An `ssl:` endpoint gets
daphne as it ships (`tests/digitalme/test_serve.py`; docs/QUALITY.md, memory of a web process).
Once the application is loaded, that heap is frozen (`gc.freeze`): the collector's full passes
skip what lives as long as the process.
Autobahn (daphne's WebSocket layer) passes every frame's debug-log arguments through its
highlighter, which colours them with click (always imported here: Celery uses it) whether or not
debug logging is on — ≈ 2–3 µs per frame sent, ≈ 2 % of a chat turn's CPU (docs/QUALITY.md, "Fifth
pass"). Log lines of a web process go to files and collectors, not a terminal: its highlighter
returns plain text (`plain_autobahn_highlights`), and the two helpers every sent frame calls give
that text without looking it up again per frame (≈ 0.8 µs of ≈ 3 µs a frame: "Eighth pass,
per-token path").
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

DECLINED_IMPORTS = ("OpenSSL", "httpx._main")


@contextlib.contextmanager
def declined(names: Sequence[str]) -> Iterator[None]:
    """`import name` raises ImportError inside the block (None in sys.modules: Python's own way to
    make a module unavailable); afterwards the names import normally."""
    placed = [name for name in names if name not in sys.modules]
    for name in placed:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in placed:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


def wants_tls(argv: Sequence[str]) -> bool:
    """An `ssl:` endpoint (`-e ssl:443:privateKey=…`) needs Twisted's TLS: daphne as it ships."""
    return any("ssl:" in arg for arg in argv)


def plain_autobahn_highlights() -> None:
    """Autobahn's `hl*` helpers return their text uncoloured (no click styling), as they do where
    click is not installed: the switch they read is the module's own. And the two that every sent
    frame's debug call evaluates (`WebSocketProtocol.sendData`) give that same plain text cheaper:
    `hltype(self.sendData)` is its function's qualified name, looked up with `inspect` per frame
    (≈ 0.5 µs), kept per function here; `hlval(x)` is `f"{x}"` without `hl`'s branch. ≈ 0.8 of the
    ≈ 3 µs a frame takes from the ASGI send to the transport (docs/QUALITY.md, "Eighth pass,
    per-token path")."""
    import autobahn.util
    import autobahn.websocket.protocol

    autobahn.util._HAS_CLICK = False
    autobahn.websocket.protocol.hltype = _plain_hltype(autobahn.util.hltype)  # type: ignore[attr-defined]
    autobahn.websocket.protocol.hlval = plain_hlval  # type: ignore[attr-defined]


def plain_hlval(val: Any, color: str = "white", bold: bool = True) -> str:
    """autobahn.util.hlval without click: the value as text."""
    return f"{val}"


def _plain_hltype(hltype: Callable[[Any], str]) -> Callable[[Any], str]:
    """`hltype` (click off) kept per function for methods, whose text depends on the function alone
    (keyed by `__func__`: a bound method would keep its protocol alive); anything else as it was."""
    texts: dict[Any, str] = {}

    def plain_hltype(obj: Any) -> str:
        function = getattr(obj, "__func__", None)
        if function is None:
            return hltype(obj)
        text = texts.get(function)
        if text is None:
            text = texts[function] = hltype(obj)
        return text

    return plain_hltype


def command_line(args: Sequence[str]) -> Any:
    """daphne's command line, imported and loading the application with the unused imports declined."""
    names = () if wants_tls(args) else DECLINED_IMPORTS
    with declined(names):
        from daphne.cli import CommandLineInterface  # imports Twisted and installs its asyncio reactor
    plain_autobahn_highlights()

    class WebCommandLine(CommandLineInterface):
        def load_asgi_app(self, asgi_app_path: str) -> Any:
            with declined(names):
                application = super().load_asgi_app(asgi_app_path)
            # What the process loaded to serve lives as long as it does: out of the cyclic collector's
            # sight (gc.freeze), a full collection no longer walks it — ~110 ms each under the chat
            # bench, ~35 ms frozen (docs/QUALITY.md, "Fourth pass").
            gc.freeze()
            return application

    return WebCommandLine()


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    command_line(args).run(args)


if __name__ == "__main__":
    main()
