"""Settings behaviour that only shows in a fresh process: refusal to start, deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 20 + "production-secret-key-with-enough-entropy-1234567890",
    "JWT_SIGNING_KEY": "j" * 64,
    "ALLOWED_HOSTS": "digitalme.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://digitalme.example.com",
    "FIELD_ENCRYPTION_KEY": "x" * 44,
    "ENV_FILE": "",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], env={**base, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = run_manage("check", env={"DEBUG": "false", "ENV_FILE": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_deploy_is_clean_with_production_env():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_postgres_sslmode_comes_from_url():
    script = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'].get('sslmode'))"
    env = {**PRODUCTION_ENV, "DATABASE_URL": "postgres://u:p@db.example.com:5432/dm?sslmode=require"}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "digitalme.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "require", result.stderr


def test_postgres_uses_a_connection_pool(settings):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"] >= 1


def test_celery_time_limits_are_really_set():
    from digitalme.celery import app

    assert app.conf.task_time_limit == 600
    assert app.conf.task_soft_time_limit == 540


def test_sentry_is_initialised_without_pii_when_dsn_is_set():
    script = (
        "import django; django.setup(); import sentry_sdk; client = sentry_sdk.get_client();"
        "print(client.is_active(), client.options['send_default_pii'])"
    )
    env = {
        **os.environ,
        **PRODUCTION_ENV,
        "SENTRY_DSN": "http://public@127.0.0.1:9/1",
        "DJANGO_SETTINGS_MODULE": "digitalme.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["True", "False"], result.stderr
