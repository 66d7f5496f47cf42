"""`manage.py loadtest` refuses bad arguments with a clear message before touching anything."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "http://127.0.0.1:9", "--scenarios", "chat,dance"], "Unknown scenarios"),
        (["--url", "http://127.0.0.1:9", "--scenarios", ""], "Unknown scenarios"),
        (["--url", "http://127.0.0.1:9", "--users", "0"], "--users"),
        (["--url", "http://127.0.0.1:9", "--duration", "0"], "--duration"),
        (["--url", "ftp://example.test"], "--url"),
    ],
)
def test_bad_arguments_are_refused(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("loadtest", *args)
