"""Create `.env` for local development on first `make run` (random keys, DEBUG on).

Never overwrites an existing file: a developer's settings and keys stay theirs.
"""

import secrets
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"

if not ENV_FILE.exists():
    ENV_FILE.write_text(
        "# Local development settings written by `make run`; see .env.example for all variables.\n"
        "DEBUG=true\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"JWT_SIGNING_KEY={secrets.token_urlsafe(50)}\n"
    )
    ENV_FILE.chmod(0o600)
    print(f"Wrote {ENV_FILE} with fresh random keys (DEBUG on).")
