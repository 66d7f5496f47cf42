"""How fast a change shows in an open page (issue 14's goal: < 500 ms p95 with the fake LLM).

A benchmark, not a test: the real stack (daphne, the Telegram poller against the fake Bot API,
PostgreSQL, Redis, LLM_MODEL=fake/ivan) and a real Chromium. Three paths, each sampled N times:
  telegram → web   a Telegram message (fake Bot API → poller → pipeline) → the open chat tab shows it
  publish → page   a staff PATCH /api/personas/ivan/ (a new published version) → /persona/ redraws
  web → 2nd tab    a message sent in one tab → the user's second tab on the same conversation shows it
The clock starts in this process just before the action (queueing the update, sending the PATCH,
pressing Enter in the first tab) and stops at the page's own Date.now() when a MutationObserver sees
the text: one machine, one wall clock.

    make bench-live BENCH_ARGS="--samples 20"    (writes bench-output/live-latency.json)

The database (DATABASE_URL, PostgreSQL) is migrated; Ivan, a Telegram-linked user and a staff
member are set up. Prints p50/p95 per path with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram import FakeTelegram  # noqa: E402

PASSWORD = "live-latency-password-42"
USER = "live-latency@example.com"
STAFF = "live-latency-staff@example.com"
TG_USER_ID = 5550002
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
# Records Date.now() the first time `selector`'s text contains `text` (window.__seen[key]).
WATCH = """
window.__seen = {};
window.__watches = [];
window.__watch = (key, selector, text) => { window.__watches.push({ key, selector, text }); };
new MutationObserver(() => {
  const now = Date.now();
  window.__watches = window.__watches.filter((w) => {
    const node = document.querySelector(w.selector);
    if (node && node.textContent.includes(w.text)) { window.__seen[w.key] = now; return false; }
    return true;
  });
}).observe(document, { subtree: true, childList: true, characterData: true });
"""
SERVER_ENV = {
    "LLM_MODEL": "fake/ivan",
    "LLM_FALLBACK_MODELS": "",
    "LOG_LEVEL": "WARNING",
    "TELEGRAM_RATE_LIMIT_PER_MIN": "100000",
    "CHAT_RATE_LIMIT": "100000",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}


def telegram_message(text: str, n: int) -> dict:
    """The update Telegram sends when the linked user writes `text` to the bot in private."""
    sender = {"id": TG_USER_ID, "is_bot": False, "first_name": "Bench", "language_code": "en"}
    message = {"message_id": n + 1, "date": int(time.time()), "chat": {"id": TG_USER_ID, "type": "private"}}
    return {"update_id": int(time.time()) * 1000 + n, "message": {**message, "from": sender, "text": text}}


def prepare() -> None:
    """Ivan, a user whose Telegram is linked, and a staff member allowed to publish persona changes."""
    from django.contrib.auth.models import Permission
    from django.core.management import call_command

    from accounts.models import User
    from accounts.services import user_create
    from loadtest.services import loadtest_telegram_link

    call_command("migrate", verbosity=0, interactive=False)
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
    for email, staff in ((USER, False), (STAFF, True)):
        if not User.objects.filter(email=email).exists():
            user_create(email=email, password=PASSWORD, is_staff=staff)
    editors = Permission.objects.filter(content_type__app_label="personality")
    User.objects.get(email=STAFF).user_permissions.set(editors)
    loadtest_telegram_link(user_id=User.objects.get(email=USER).pk, telegram_user_id=TG_USER_ID)


def seen_at(page, key: str, timeout_s: float = 30.0) -> float:
    page.wait_for_function("(key) => window.__seen[key] !== undefined", arg=key, timeout=timeout_s * 1000)
    return float(page.evaluate("(key) => window.__seen[key]", key))


def log_in(context, base: str):
    page = context.new_page()
    page.goto(f"{base}/accounts/login/?next=/chat/")
    page.locator("#id_login").fill(USER)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/chat/")
    return page


def measure(base: str, fake: FakeTelegram, samples: int, chromium: str) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    token = httpx.post(f"{base}/api/auth/token/", json={"email": STAFF, "password": PASSWORD}, timeout=30)
    token.raise_for_status()
    staff = {"Authorization": f"Bearer {token.json()['access']}"}
    live = httpx.get(f"{base}/api/personas/ivan/", timeout=30).json()
    current = next(t["value"] for t in live["traits"] if t["name"] == "humor")
    humor = (0.75, 0.35) if current == 0.35 else (0.35, 0.75)
    results: dict[str, list[float]] = {"telegram → web": [], "publish → persona page": [], "web → second tab": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.add_init_script(WATCH + "localStorage.setItem('dm-notify-offer', 'dismissed');")
        first = log_in(context, base)
        first.wait_for_selector("#conn[data-state=online]")
        first.locator("#message-input").fill("latency warm-up")
        first.locator("#message-input").press("Enter")
        first.wait_for_url("**/chat/*/")
        second = context.new_page()
        second.goto(first.url)
        second.wait_for_selector("#conn[data-state=online]")
        persona = browser.new_context().new_page()
        persona.add_init_script(WATCH)
        persona.goto(f"{base}/persona/")
        persona.wait_for_selector("#persona-conn[data-state=online]")

        # Plain words: the offline moderation classifier refused "tg-probe-5-67bef2" as hacking.
        run = secrets.randbelow(9000) + 1000
        for n in range(samples + 1):  # sample 0 warms each path up
            marker = f"Hello from Telegram, note {n} of run {run}"
            first.evaluate("([k, t]) => window.__watch(k, '#log', t)", [marker, marker])
            started = time.time() * 1000
            fake.queue_update(telegram_message(marker, n))
            shown = seen_at(first, marker)
            first.locator("#log .msg.assistant:not(.streaming)", has_text=marker).wait_for()  # reply done
            if n:
                results["telegram → web"].append(shown - started)

            value = humor[n % 2]  # alternating, so every PATCH publishes a change
            shown_value = str(round(value * 100))
            key = f"publish-{n}"
            persona.evaluate("([k, t]) => window.__watch(k, 'g[data-trait=humor] .value', t)", [key, shown_value])
            started = time.time() * 1000
            response = httpx.patch(
                f"{base}/api/personas/ivan/",
                json={"traits": [{"name": "humor", "value": value}]},
                headers=staff,
                timeout=30,
            )
            response.raise_for_status()
            shown = seen_at(persona, key)
            if n:
                results["publish → persona page"].append(shown - started)

            marker = f"Hello from the first tab, note {n} of run {run}"
            second.evaluate("([k, t]) => window.__watch(k, '#log', t)", [marker, marker])
            first.locator("#message-input").fill(marker)
            started = time.time() * 1000
            first.locator("#message-input").press("Enter")
            shown = seen_at(second, marker)
            first.locator("#log .msg.assistant:not(.streaming)", has_text=marker).wait_for()
            if n:
                results["web → second tab"].append(shown - started)
        browser.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

    fake = FakeTelegram().start()
    env = {**SERVER_ENV, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url}
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitalme.settings")
    import django

    django.setup()
    from digitalme.stats import percentiles_ms
    from loadtest.server import DaphneServer

    prepare()
    web = DaphneServer(env=env)
    poller = subprocess.Popen(
        [sys.executable, "manage.py", "run_telegram_bot"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )
    load_before = os.getloadavg()
    try:
        web.start()
        fake.wait_for("getUpdates", timeout=60)
        results = measure(web.http_url, fake, args.samples, chromium)
    finally:
        poller.terminate()
        try:
            poller.wait(timeout=15)
        except subprocess.TimeoutExpired:
            poller.kill()
        web.stop()
        fake.stop()
    load_after = os.getloadavg()
    summary = {
        "samples": args.samples,
        "load_average_1_5_15": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in load_after],
        },
        "cpus": os.cpu_count(),
        "paths": {name: percentiles_ms(values, decimals=0) for name, values in results.items()},
    }
    for name, stats in summary["paths"].items():  # type: ignore[attr-defined]
        print(f"{name:24s} p50 {stats['p50']:5.0f} ms   p95 {stats['p95']:5.0f} ms   max {stats['max']:5.0f} ms")
    print(
        f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
        f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} on {os.cpu_count()} CPUs"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
