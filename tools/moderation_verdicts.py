"""Every verdict of the offline moderation layers over the labelled corpus and long texts, as JSON —
to show that a change meant to make moderation cheaper changes no verdict: run it on both trees and
compare the files byte for byte.

    tools/moderation_verdicts.py OUT.json   (with the environment `make bench-moderation` uses)

For every row of chat/moderation_data/corpus/*.tsv: `moderate_input`, the streaming output check
(`moderate_output(final=False)`) and the final output check; for the bench's long texts (2–4 kB,
4,000 chars, 8 kB) and a few secret-shaped replies: the same, and the reply streamed in 80-char
checks told where the previous one ended, as the chat turn does. Verdicts include their scores.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Secret shapes and look-alikes in several cases and scripts (the corpus holds few).
SECRET_TEXTS = [
    "PASSWORD: hunter22",
    "Пароль: qwerty123",
    "ПАРОЛЬ это abc123def",
    "парᲂль: abc123456",
    "my pwd=abc12345 and PassCode - 99887766",
    "passwordpassword: x1234567",
    "xpassword: abc12345",
    "password: ${PASS} and password = changeme",
    "Passwd = 'sekret99'",
    "İpassword: abc123456",
    "ſecret_key=abcdefghijklmnopqrstuvwxyz",
    "AUTHORIZATION: Bearer abcdefghijklmnop1234",
    "api_key = 'ABCDEFGHIJKLMNOPQRSTUVWX'",
    "use sk-proj-abcdefghijklmnopqrstuvwxyz and AKIAABCDEFGHIJKLMNOP",
    "token 123456789:AAabcdefghijklmnopqrstuvwxyz0123456 ok",
    "postgres://user:secretpw@db.example.com/x",
    "the password is hunter22 " * 40,
]


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.test import override_settings

    from chat import moderation_corpus
    from chat.moderation import moderate_input, moderate_output

    def streamed(text: str) -> list[dict]:
        verdicts, checked = [], 0
        for end in range(80, len(text), 80):
            verdicts.append(moderate_output(text[:end], final=False, checked_upto=checked).as_dict())
            checked = end
        return verdicts

    rows: list[str] = []
    for path in sorted(moderation_corpus.CORPUS_DIR.glob("*.tsv")):
        rows += [sample.text for sample in moderation_corpus.read(path)]
    texts = [
        sample.text
        for path in (moderation_corpus.TEST_FILE, moderation_corpus.ADVERSARIAL_FILE)
        for sample in moderation_corpus.read(path)
    ]
    long_texts = [" ".join(texts[index : index + 40]) for index in range(0, 400, 40)]
    long_texts += [" ".join(texts[index:])[: settings.CHAT_MAX_MESSAGE_CHARS] for index in range(0, 500, 50)]
    long_texts += [" ".join(texts[index:] + texts)[:8_000] for index in range(0, 500, 50)]
    long_texts += SECRET_TEXTS
    out: list[dict] = []
    with override_settings(MODERATION_PROVIDER_MODEL="", MODERATION_GUARD_MODEL=""):
        for text in rows:
            out.append(
                {
                    "input": moderate_input(text).as_dict(),
                    "stream": moderate_output(text, final=False).as_dict(),
                    "final": moderate_output(text).as_dict(),
                }
            )
        for text in long_texts:
            out.append(
                {
                    "input": moderate_input(text).as_dict(),
                    "stream": moderate_output(text, final=False).as_dict(),
                    "final": moderate_output(text).as_dict(),
                    "streamed": streamed(text),
                }
            )
    Path(sys.argv[1]).write_text(json.dumps(out, ensure_ascii=False, sort_keys=True))
    print(f"{len(rows)} corpus rows, {len(long_texts)} long texts: {len(out)} records")


if __name__ == "__main__":
    main()
