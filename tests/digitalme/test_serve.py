"""The web entry point (digitalme/serve.py) declines its unused optional imports only while daphne
and the application load; what it loads in a real web process is checked by
tests/chat/test_import_hygiene.py, and every real-process test serves through it."""

from __future__ import annotations

import importlib
import sys

import pytest

from digitalme.serve import declined, wants_tls

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
