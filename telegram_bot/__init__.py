"""Ivan in Telegram (python-telegram-bot 22)."""

import os

# Opt in to PTB's future behaviour (time periods as timedelta): no deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")
