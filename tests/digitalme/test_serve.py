"""The web entry point (digitalme/serve.py) declines its unused optional imports only while daphne
and the application load; what it loads in a real web process is checked by
tests/chat/test_import_hygiene.py, and every real-process test serves through it."""

from __future__ import annotations

import importlib
import sys

import pytest

from digitalme.serve import declined, plain_autobahn_highlights, wants_tls

SPARE_MODULE = "tabnanny"  # a standard-library module nothing here imports


@pytest.fixture
def spare_module():
    sys.modules.pop(SPARE_MODULE, None)
    yield SPARE_MODULE
    sys.modules.pop(SPARE_MODULE, None)


def test_a_declined_module_cannot_be_imported_inside_the_block(spare_module):
    with declined([spare_module]), pytest.raises(ImportError):
        importlib.import_module(spare_module)


def test_a_declined_module_imports_normally_afterwards(spare_module):
    with declined([spare_module]):
        pass

    assert importlib.import_module(spare_module).__name__ == spare_module


def test_a_module_already_imported_is_left_alone():
    with declined(["json"]):
        import json

    assert sys.modules["json"] is json


def test_an_ssl_endpoint_gets_daphne_as_it_ships():
    assert wants_tls(["-e", "ssl:443:privateKey=key.pem:certKey=crt.pem", "digitalme.asgi:application"])
    assert not wants_tls(["-e", "tcp:port=8000:interface=0.0.0.0", "digitalme.asgi:application"])


class _Socket:
    def sendData(self, data: bytes) -> None:  # the method autobahn highlights per sent frame
        pass


def test_autobahns_per_frame_highlights_are_its_plain_text_found_once_per_method(monkeypatch):
    import autobahn.util
    import autobahn.websocket.protocol as protocol

    for module, name in ((autobahn.util, "_HAS_CLICK"), (protocol, "hltype"), (protocol, "hlval")):
        monkeypatch.setattr(module, name, getattr(module, name))  # restored after the test
    looked_up: list[object] = []
    real_qn = autobahn.util._qn
    monkeypatch.setattr(autobahn.util, "_qn", lambda obj: looked_up.append(obj) or real_qn(obj))

    plain_autobahn_highlights()
    texts = {protocol.hltype(_Socket().sendData) for _ in range(100)}

    assert texts == {f"<{__name__}._Socket.sendData>"}  # autobahn's own text, click off
    assert len(looked_up) == 1  # inspect's lookup once per method, not once per frame
    assert protocol.hltype(_Socket) == autobahn.util.hltype(_Socket)  # not a method: as it was
    assert [protocol.hlval(value) for value in (43, "tcp4:127.0.0.1:5555", None)] == [
        autobahn.util.hlval(value) for value in (43, "tcp4:127.0.0.1:5555", None)
    ]
