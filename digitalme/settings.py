"""DigitalMe settings: one file, every value from the environment.

Defaults are the embedded development setup (SQLite under var/, no Redis, the bundled local
LLM). Production is this same file with the environment set; see .env.example.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from kombu import Exchange, Queue

# litellm fetches a price map from the network on import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
# ENV_FILE="" disables the file (the test suite does this so a developer's .env never leaks in).
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

# ops: Prometheus multiprocess mode, so /metrics and /ops/ sum every process of this host (web,
# worker, beat). Must be in the environment before prometheus_client is imported; one directory
# per host, emptied when the host's processes start (make run/test/bench do; see ARCHITECTURE.md).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(VAR_DIR / "prometheus")
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG:
        sys.stderr.write(
            "DigitalMe refuses to start: SECRET_KEY is not set and DEBUG is off.\n"
            'Set SECRET_KEY in the environment (e.g. `python -c "import secrets; '
            'print(secrets.token_urlsafe(50))"`), or set DEBUG=true for local development.\n'
        )
        raise SystemExit(2)
    # Development only: a random key kept on this machine, so sessions survive restarts.
    key_file = VAR_DIR / "dev_secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Rotation: the previous key(s) here keep sessions and reset links valid while SECRET_KEY changes.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "accounts",
    "personality",
    "chat",
    "integrations",
    "telegram_bot",
    "loadtest",  # quality: benchmark echo floor, load-test API and command
    "ops",  # ops: heartbeats, the /ops/ dashboard, scrape-time metrics, database-test
    "notifications",  # pwa: Web Push subscriptions per device, replies to users with no page open
    # --- web: pages, CSP ---
    "csp",
]

MIDDLEWARE = [
    "digitalme.request_id.RequestIdMiddleware",
    "digitalme.metrics.MetricsMiddleware",  # quality: request counts/latency by route
    "digitalme.errors.DatabaseUnavailableMiddleware",  # a database restart is a 503, not a 500
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # --- web: the signed-in user's language; the Content-Security-Policy header ---
    "digitalme.pages.UserLanguageMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "digitalme.urls"
ASGI_APPLICATION = "digitalme.asgi.application"
WSGI_APPLICATION = "digitalme.wsgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # --- web: brand, enabled social providers, strings for the page scripts ---
                "digitalme.pages.page_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=20)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request may run on another thread, so Django's persistent connections
    # would pile up; psycopg's pool is the supported way. sslmode etc. come from the URL query.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})
    if env.bool("DB_POOL", default=True):
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
            "max_size": _DB_POOL_MAX_SIZE,
            "timeout": env.float("DB_POOL_TIMEOUT_S", default=10.0),
            # How long the pool retries a connection it could not open before giving up on it;
            # psycopg's default is 300 s of exponential backoff (1, 2, 4 … 64 s between tries), and
            # only one attempt to grow the pool runs at a time. After an outage of ~40 s that left the
            # routes answering 503 for ~19 s more with PostgreSQL back (docs/QUALITY.md, "database
            # outage"). Given up sooner, the next request that finds no connection starts a fresh
            # attempt, which connects at once when the database is back.
            "reconnect_timeout": env.float("DB_POOL_RECONNECT_TIMEOUT_S", default=2.0),
        }
    # A health check is one more round trip at every checkout — three per chat turn. Off by default:
    # psycopg's pool drops a connection that broke while in use, so after a database restart a
    # stale pooled connection fails one query once instead of every query paying a round trip.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=False)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker -----------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The process's own async Redis client (presence, the chat's rate window): a bounded pool, a burst waits.
REDIS_ASYNC_MAX_CONNECTIONS = env.int("REDIS_ASYNC_MAX_CONNECTIONS", default=32)
REDIS_ASYNC_POOL_TIMEOUT_S = env.float("REDIS_ASYNC_POOL_TIMEOUT_S", default=5.0)
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, except that an unreachable Redis fails open (digitalme/cache.py).
            "BACKEND": "digitalme.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dm",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    # docs/PITFALLS.md: the default pool raised MaxConnectionsError on a burst of handshakes and the
    # default capacity (100) silently dropped group messages. Both are sized on purpose here.
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis with a blocking, bounded pool (digitalme/redis_pools.py): a burst of
            # handshakes waits for a pooled connection instead of opening one per socket.
            "BACKEND": "digitalme.redis_pools.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=64),
                        # how long a command waits for a free pooled connection before it fails
                        "pool_timeout": env.float("CHANNEL_LAYER_POOL_TIMEOUT_S", default=20.0),
                        # 2 s was too short on a loaded host: a consumer died opening a pool
                        # connection during a burst ("Timeout connecting to server").
                        "socket_connect_timeout": env.float("CHANNEL_LAYER_CONNECT_TIMEOUT_S", default=10.0),
                        # redis-py 8 reads with a 5 s socket timeout by default, the same as the
                        # layer's 5 s BZPOPMIN: under load the read timed out first and killed the
                        # consumer ("Timeout reading from …"). Keep it well above brpop_timeout.
                        "socket_timeout": env.float("CHANNEL_LAYER_SOCKET_TIMEOUT_S", default=15.0),
                    }
                ],
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=2000),
                "group_expiry": env.int("CHANNEL_LAYER_GROUP_EXPIRY_S", default=86400),
                "expiry": 60,
                "prefix": "dm:ch",
            },
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"socket_connect_timeout": 2, "visibility_timeout": 3600}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 2000}}}
    # Embedded default: kombu's filesystem transport needs no server; web, worker and beat on one
    # machine exchange task messages as files under var/celery/.
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    _celery_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "control"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }

# --- Celery ----------------------------------------------------------------------------------
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT_S", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT_S", default=540)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every connection before and after each task and, with psycopg's pool
# in a prefork worker, the whole pool: each task (each Telegram reply) opened a new PostgreSQL
# connection. The pool is recycled every this many tasks instead; each task's connections still go
# back to it when the task ends (digitalme/celery.py), as Django does after a request. With it, the
# fixup no longer closes the starting thread's connections before a solo pool's start: see
# `_give_back_connections_before_the_fixup` in digitalme/celery.py for why that had to be done there.
CELERY_DB_REUSE_MAX = 1000
# Telegram updates have a queue of their own, consumed by a worker of their own (the Procfile's
# `telegram`), so a reply never waits for a pool child behind a background job (a memory summary
# importing litellm once held one for 4.6 s; docs/QUALITY.md). Every other task uses the default.
CELERY_TASK_DEFAULT_QUEUE = "celery"
TELEGRAM_QUEUE = "telegram"
CELERY_TASK_ROUTES = {"telegram_bot.update_process": {"queue": TELEGRAM_QUEUE}}
# Both queues declared (each with its own exchange, as Celery would create them): a worker started
# without -Q reads both, so a deployment or test stack that runs one plain worker still answers
# Telegram; the Procfile's `worker` (-Q celery) and `telegram` (-Q telegram) split them.
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name) for name in (CELERY_TASK_DEFAULT_QUEUE, TELEGRAM_QUEUE)
)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# ops: the worker logs through Django's LOGGING (JSON lines with the request id), not its own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Auth ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/chat/"
LOGOUT_REDIRECT_URL = "/"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# The scheme of the OAuth callback URLs allauth builds (behind TLS: https). Plain-HTTP loopback
# servers (the browser journey test) set http.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env.str("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="http" if DEBUG else "https")
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env.str("GOOGLE_CLIENT_SECRET", default="")
GITHUB_CLIENT_ID = env.str("GITHUB_CLIENT_ID", default="")
GITHUB_CLIENT_SECRET = env.str("GITHUB_CLIENT_SECRET", default="")
# GitHub has no read-only scope for repositories: public ones are readable with any token, and
# both `public_repo` and `repo` grant write access. So none by default; "repo" (private repositories,
# read AND write) only when an operator opts in knowingly.
GITHUB_SCOPE_REPO = env.str("GITHUB_SCOPE_REPO", default="")
if GITHUB_SCOPE_REPO not in ("", "repo"):
    sys.stderr.write(
        f"DigitalMe refuses to start: GITHUB_SCOPE_REPO must be empty or repo, not {GITHUB_SCOPE_REPO!r}.\n"
    )
    raise SystemExit(2)
# Signing in asks Google for identity only; connecting the integration (process=connect, from the
# /integrations/ page) adds these read-only scopes and offline access (integrations/oauth/google).
GOOGLE_INTEGRATION_SCOPES = [
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/calendar.readonly",
]
# Scopes are always set; the APPS (client id + secret) only when the env vars are (below).
SOCIALACCOUNT_PROVIDERS: dict = {
    "google": {"SCOPE": ["openid", "email", "profile"], "AUTH_PARAMS": {}, "OAUTH_PKCE_ENABLED": True},
    "github": {"SCOPE": ["read:user", "user:email", *([GITHUB_SCOPE_REPO] if GITHUB_SCOPE_REPO else [])]},
}
# --- integrations (owner: integrations) ------------------------------------------------------
# allauth's Google/GitHub adapters read their endpoints once at import; these subclasses read the
# *_BASE_URL / *_URL settings per request so staging and tests can point them at other servers.
SOCIALACCOUNT_PROVIDERS["google"]["provider_class"] = "integrations.oauth.google.provider.GoogleProvider"
SOCIALACCOUNT_PROVIDERS["github"]["provider_class"] = "integrations.oauth.github.provider.GitHubProvider"
if GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET:
    SOCIALACCOUNT_PROVIDERS["google"]["APPS"] = [
        {"client_id": GOOGLE_CLIENT_ID, "secret": GOOGLE_CLIENT_SECRET, "key": ""}
    ]
if GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET:
    SOCIALACCOUNT_PROVIDERS["github"]["APPS"] = [
        {"client_id": GITHUB_CLIENT_ID, "secret": GITHUB_CLIENT_SECRET, "key": ""}
    ]
# --- end integrations ------------------------------------------------------------------------

# --- Email -----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="DigitalMe <noreply@localhost>")

# --- REST API --------------------------------------------------------------------------------
# How many reverse proxies append to X-Forwarded-For in front of daphne (0: clients connect
# directly). Client addresses for every rate limit come from the right of that header, never its
# client-chosen left (digitalme/throttling.py); see docs/deployment.md ("Trusted proxies").
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["digitalme.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "digitalme.errors.api_exception_handler",
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": env.str("THROTTLE_LOGIN_IP", default="10/min"),
        "login_email": env.str("THROTTLE_LOGIN_EMAIL", default="10/min"),
        "register_ip": env.str("THROTTLE_REGISTER_IP", default="20/hour"),
        "admin_login": env.str("THROTTLE_ADMIN_LOGIN", default="10/min"),
        "export": env.str("THROTTLE_EXPORT", default="10/hour"),
        "sync_now": env.str("THROTTLE_SYNC_NOW", default="12/hour"),
        "card_png": env.str("THROTTLE_CARD_PNG", default="30/min"),
        "health_ready": env.str("THROTTLE_HEALTH_READY", default="120/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DigitalMe API",
    "DESCRIPTION": "Talk to Ivan's digital clone; manage your account, memory and integrations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the API's error body for the 4xx any view can answer (digitalme/errors.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "digitalme.errors.error_responses_hook"],
}
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="")
if not JWT_SIGNING_KEY:
    if not DEBUG:
        sys.stderr.write("DigitalMe refuses to start: JWT_SIGNING_KEY is not set and DEBUG is off.\n")
        raise SystemExit(2)
    JWT_SIGNING_KEY = SECRET_KEY
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Tokens name their log-in (`sid`): an API log-out closes that log-in's sockets.
    "TOKEN_OBTAIN_SERIALIZER": "accounts.serializers.TokenObtainPairSerializer",
}

# --- i18n ------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str("STATICFILES_BACKEND", default="whitenoise.storage.CompressedManifestStaticFilesStorage")
    },
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG)

# --- Security --------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]  # local scrapers speak plain http
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# --- Secrets for stored third-party tokens ---------------------------------------------------
# Comma-separated Fernet keys, newest first (MultiFernet: rotate by prepending a new key).
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")

# --- LLM -------------------------------------------------------------------------------------
LLM_MODEL = env.str("LLM_MODEL", default="local/smollm2")
LLM_FALLBACK_MODELS = env.list("LLM_FALLBACK_MODELS", default=[])
LLM_API_BASE = env.str("LLM_API_BASE", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
# The persona's admin page posts every fact, example and boundary inline (1,368 fields for Ivan since
# his facts come in two languages); Django's default cap of 1,000 answered its save 400.
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=5000)

LLM_TIMEOUT_S = env.float("LLM_TIMEOUT_S", default=60.0)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)
# Stream openai/... (OpenAI-compatible) and fake/... models without litellm (chat/llm/lean.py); false:
# everything through litellm's Router (same timeout/retry/fallback semantics, ≈ 30 ms more CPU a reply).
LLM_LEAN_STREAM = env.bool("LLM_LEAN_STREAM", default=True)
LLM_MAX_TOKENS = env.int("LLM_MAX_TOKENS", default=256)
LOCAL_LLM_THREADS = env.int("LOCAL_LLM_THREADS", default=2)
# 2048: the compact persona prompt and a short reply fit; the local provider trims the oldest turns
# when the model's own tokenizer counts more than that (docs/QUALITY.md, "The bundled model's cost").
LOCAL_LLM_CONTEXT = env.int("LOCAL_LLM_CONTEXT", default=2048)
# Models whose context window is at most this many tokens get the compact persona prompt
# (personality/prompts.py): a small model follows it better, and each prompt token costs it CPU.
PERSONA_PROMPT_COMPACT_WINDOW = env.int("PERSONA_PROMPT_COMPACT_WINDOW", default=2048)

# --- Chat (chat app) -------------------------------------------------------------------------
# Threads for async code's database work (digitalme/db.py: socket log-ins, the chat turn): sockets run
# in parallel up to this many, each holding at most one pooled connection; kept below the pool's size.
CHAT_DB_THREADS = max(1, min(env.int("CHAT_DB_THREADS", default=8), _DB_POOL_MAX_SIZE - 4))
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", default=4000)
CHAT_RATE_LIMIT = env.int("CHAT_RATE_LIMIT", default=30)  # messages per user per window
CHAT_RATE_WINDOW_S = env.int("CHAT_RATE_WINDOW_S", default=60)
CHAT_HISTORY_SHARE = env.float("CHAT_HISTORY_SHARE", default=0.5)  # of the prompt budget, for recent turns
CHAT_SUMMARY_THRESHOLD_TOKENS = env.int("CHAT_SUMMARY_THRESHOLD_TOKENS", default=1500)
CHAT_MEMORY_FACTS_IN_PROMPT = env.int("CHAT_MEMORY_FACTS_IN_PROMPT", default=8)
CHAT_WS_AUTH_TIMEOUT_S = env.float("CHAT_WS_AUTH_TIMEOUT_S", default=10.0)
CHAT_SUMMARY_KEEP_RECENT = env.int("CHAT_SUMMARY_KEEP_RECENT", default=8)  # newest messages never summarised
# Long-term memory: rules always; LLM-assisted extraction too when true, or "auto" with a hosted model.
CHAT_MEMORY_LLM_EXTRACTION = env.str("CHAT_MEMORY_LLM_EXTRACTION", default="auto")

# --- personality (Ivan's persona) -------------------------------------------------------------
# Token budget of the composed prompt in the staff preview (the chat pipeline passes its own).
PERSONA_PROMPT_BUDGET_TOKENS = env.int("PERSONA_PROMPT_BUDGET_TOKENS", default=2048)
# Apply learning proposals automatically (within trait bounds, never pinned facts) instead of queueing them.
PERSONA_LEARNING_AUTO_APPLY = env.bool("PERSONA_LEARNING_AUTO_APPLY", default=False)
# Warn before publishing a draft whose consistency score is this much below the live version's (0..1 scale).
PERSONA_EVAL_PUBLISH_MARGIN = env.float("PERSONA_EVAL_PUBLISH_MARGIN", default=0.05)
# LLM judge for persona_eval; empty: LLM_MODEL when it is a hosted model, else the offline scorer.
PERSONA_EVAL_JUDGE_MODEL = env.str("PERSONA_EVAL_JUDGE_MODEL", default="")
PERSONA_EVAL_JUDGE_API_BASE = env.str("PERSONA_EVAL_JUDGE_API_BASE", default="")
PERSONA_EVAL_JUDGE_API_KEY = env.str("PERSONA_EVAL_JUDGE_API_KEY", default="")
# Seconds the judge gets per reply (no retries), and failures in a row after which a run stops asking it.
PERSONA_EVAL_JUDGE_TIMEOUT_S = env.float("PERSONA_EVAL_JUDGE_TIMEOUT_S", default=60.0)
PERSONA_EVAL_JUDGE_MAX_FAILURES = env.int("PERSONA_EVAL_JUDGE_MAX_FAILURES", default=3)
# Quality gate on every reply (personality/evaluation/gate.py): auto (full checks with real-word
# dictionaries for local/* models, cheap pattern checks for hosted ones) | full | cheap | off.
PERSONA_QUALITY_GATE = env.str("PERSONA_QUALITY_GATE", default="auto")
if PERSONA_QUALITY_GATE not in ("auto", "full", "cheap", "off"):
    sys.stderr.write(
        f"DigitalMe refuses to start: PERSONA_QUALITY_GATE must be auto, full, cheap or off, not {PERSONA_QUALITY_GATE!r}.\n"
    )
    raise SystemExit(2)
# Candidates generated for a reply that fails the gate before answering from Ivan's own data instead.
PERSONA_QUALITY_GATE_ATTEMPTS = env.int("PERSONA_QUALITY_GATE_ATTEMPTS", default=3)
# Seconds a turn may spend on the bundled model before the gate stops regenerating and answers from
# Ivan's own data (counted from the first candidate's start; a starved model must not keep the user waiting).
PERSONA_QUALITY_GATE_BUDGET_S = env.float("PERSONA_QUALITY_GATE_BUDGET_S", default=45.0)
# Per language of the user's message, "ru=1,en=3": overrides the number above; 0 = the bundled model is
# not asked in that language, Ivan answers from his own data (labelled). Russian: 0 by default — the
# bundled model's Russian passed the gate 1 time in 33 and cost ~17 s a prompt (docs/QUALITY.md).
try:
    PERSONA_QUALITY_GATE_LANGUAGE_ATTEMPTS = {
        language: int(count)
        for language, count in env.dict("PERSONA_QUALITY_GATE_LANGUAGE_ATTEMPTS", default={"ru": "0"}).items()
    }
except ValueError:
    sys.stderr.write(
        "DigitalMe refuses to start: PERSONA_QUALITY_GATE_LANGUAGE_ATTEMPTS must look like ru=1,en=3 "
        f"(language=number), not {env.str('PERSONA_QUALITY_GATE_LANGUAGE_ATTEMPTS')!r}.\n"
    )
    raise SystemExit(2) from None
# Persona drift: share of live replies scored in the background (same rate for every platform),
# and at most this many per run of the beat job (every 15 minutes).
PERSONA_DRIFT_SAMPLE_RATE = env.float("PERSONA_DRIFT_SAMPLE_RATE", default=0.2)
PERSONA_DRIFT_MAX_PER_RUN = env.int("PERSONA_DRIFT_MAX_PER_RUN", default=500)
# Drift alert (/ops/ grade and DMPersonaDrift in deploy/prometheus/alerts.yml, kept equal by a test):
# a platform's in-character share this far below the live version's baseline, over at least this many samples.
PERSONA_DRIFT_ALERT_MARGIN = env.float("PERSONA_DRIFT_ALERT_MARGIN", default=0.15)
PERSONA_DRIFT_ALERT_MIN_SAMPLES = env.int("PERSONA_DRIFT_ALERT_MIN_SAMPLES", default=20)
# A personality-test run passes when at least this share of replies is in character.
PERSONA_EVAL_TARGET = env.float("PERSONA_EVAL_TARGET", default=0.9)
# Publishing a version that scores worse than the live one (by more than the margin) or was never
# evaluated: "warn" (publish and say so), "refuse" (409, the change stays a draft) or "off".
PERSONA_EVAL_PUBLISH_RULE = env.str("PERSONA_EVAL_PUBLISH_RULE", default="warn")
if PERSONA_EVAL_PUBLISH_RULE not in ("warn", "refuse", "off"):
    sys.stderr.write(
        f"DigitalMe refuses to start: PERSONA_EVAL_PUBLISH_RULE must be warn, refuse or off, not {PERSONA_EVAL_PUBLISH_RULE!r}.\n"
    )
    raise SystemExit(2)

# --- Telegram --------------------------------------------------------------------------------
# --- Web Push (notifications/) ---------------------------------------------------------------
# VAPID private key (base64url, 32 raw bytes: `manage.py webpush_vapid_keys`); empty = push off.
WEBPUSH_VAPID_PRIVATE_KEY = env.str("WEBPUSH_VAPID_PRIVATE_KEY", default="")
# The contact push services see in the VAPID token: mailto: or an https URL.
WEBPUSH_VAPID_SUBJECT = env.str("WEBPUSH_VAPID_SUBJECT", default=SITE_URL)
# Push services the worker may call (".suffix" matches subdomains): browsers' real services only.
WEBPUSH_ALLOWED_HOSTS = env.list(
    "WEBPUSH_ALLOWED_HOSTS",
    default=[
        "fcm.googleapis.com",
        "android.googleapis.com",
        "updates.push.services.mozilla.com",
        ".notify.windows.com",
        ".push.apple.com",
    ],
)
WEBPUSH_TTL_S = env.int("WEBPUSH_TTL_S", default=86400)  # how long a push service keeps it for an offline device
WEBPUSH_TIMEOUT_S = env.float("WEBPUSH_TIMEOUT_S", default=10.0)
WEBPUSH_MAX_FAILURES = env.int("WEBPUSH_MAX_FAILURES", default=5)  # refusals in a row before a device is dropped

TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="")
TELEGRAM_API_BASE_URL = env.str("TELEGRAM_API_BASE_URL", default="https://api.telegram.org").rstrip("/")
TELEGRAM_BOT_USERNAME = env.str("TELEGRAM_BOT_USERNAME", default="")
TELEGRAM_GUEST_CHAT = env.bool("TELEGRAM_GUEST_CHAT", default=True)
# telegram_bot: per-chat limits (messages per minute) for linked users and guests; link code lifetime.
TELEGRAM_RATE_LIMIT_PER_MIN = env.int("TELEGRAM_RATE_LIMIT_PER_MIN", default=20)
TELEGRAM_GUEST_RATE_LIMIT_PER_MIN = env.int("TELEGRAM_GUEST_RATE_LIMIT_PER_MIN", default=6)
TELEGRAM_LINK_CODE_TTL_S = env.int("TELEGRAM_LINK_CODE_TTL_S", default=600)
TELEGRAM_GUEST_MEMORY_FACTS = env.int("TELEGRAM_GUEST_MEMORY_FACTS", default=5)  # long-term facts a guest keeps
# telegram_bot: stored webhook updates. Above BACKLOG_MAX waiting ones the webhook answers 503 and
# Telegram keeps (and redelivers) the rest; a failing update is retried up to MAX_ATTEMPTS times; a
# worker's lease on an update outlives the task's time limit, after which updates_resume re-queues it.
TELEGRAM_UPDATE_BACKLOG_MAX = env.int("TELEGRAM_UPDATE_BACKLOG_MAX", default=1000)
TELEGRAM_UPDATE_MAX_ATTEMPTS = env.int("TELEGRAM_UPDATE_MAX_ATTEMPTS", default=6)
TELEGRAM_UPDATE_LEASE_S = env.int("TELEGRAM_UPDATE_LEASE_S", default=300)

# --- Remote API bases (tests and staging point the real clients at loopback servers) ---------
GITHUB_API_BASE_URL = env.str("GITHUB_API_BASE_URL", default="https://api.github.com").rstrip("/")
GITHUB_OAUTH_BASE_URL = env.str("GITHUB_OAUTH_BASE_URL", default="https://github.com").rstrip("/")
GOOGLE_API_BASE_URL = env.str("GOOGLE_API_BASE_URL", default="https://www.googleapis.com").rstrip("/")
GOOGLE_OAUTH_TOKEN_URL = env.str("GOOGLE_OAUTH_TOKEN_URL", default="https://oauth2.googleapis.com/token")
# --- integrations (owner: integrations) ------------------------------------------------------
GOOGLE_OAUTH_AUTHORIZE_URL = env.str(
    "GOOGLE_OAUTH_AUTHORIZE_URL", default="https://accounts.google.com/o/oauth2/v2/auth"
)
GOOGLE_OAUTH_REVOKE_URL = env.str("GOOGLE_OAUTH_REVOKE_URL", default="https://oauth2.googleapis.com/revoke")
INTEGRATIONS_HTTP_TIMEOUT_S = env.float("INTEGRATIONS_HTTP_TIMEOUT_S", default=15.0)
INTEGRATIONS_SYNC_JITTER_S = env.int("INTEGRATIONS_SYNC_JITTER_S", default=120)
INTEGRATIONS_SYNC_LOCK_TTL_S = env.int("INTEGRATIONS_SYNC_LOCK_TTL_S", default=900)
INTEGRATIONS_RATE_LIMIT_MAX_WAIT_S = env.float("INTEGRATIONS_RATE_LIMIT_MAX_WAIT_S", default=60.0)
INTEGRATIONS_BACKOFF_BASE_S = env.float("INTEGRATIONS_BACKOFF_BASE_S", default=1.0)
INTEGRATIONS_MAX_HTTP_ATTEMPTS = env.int("INTEGRATIONS_MAX_HTTP_ATTEMPTS", default=4)
INTEGRATIONS_TOKEN_REFRESH_MARGIN_S = env.int("INTEGRATIONS_TOKEN_REFRESH_MARGIN_S", default=300)
INTEGRATIONS_GMAIL_MAX_MESSAGES = env.int("INTEGRATIONS_GMAIL_MAX_MESSAGES", default=200)
# --- end integrations ------------------------------------------------------------------------

# --- web: Content-Security-Policy (django-csp 4) -------------------------------------------
# Everything comes from this origin: no inline scripts or styles, no CDN, no framing. 'self' in
# connect-src covers same-origin ws:/wss: (CSP Level 3). QR codes are served as SVG files.
# Chromium applies form-action to the redirect after a POST, so the social log-in forms need the
# providers' authorization hosts.
_FORM_ACTION_HOSTS = ["'self'"]
if "google" in SOCIALACCOUNT_PROVIDERS:  # the authorize URL's origin (staging and tests move it)
    _FORM_ACTION_HOSTS.append("/".join(GOOGLE_OAUTH_AUTHORIZE_URL.split("/", 3)[:3]))
if "github" in SOCIALACCOUNT_PROVIDERS:
    _FORM_ACTION_HOSTS.append(GITHUB_OAUTH_BASE_URL)
# Swagger UI from our own static files (no CDN), its init script served by the split view.
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": STATIC_URL + "vendor/swagger-ui",
        "SWAGGER_UI_FAVICON_HREF": STATIC_URL + "icons/favicon-32.png",
        "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    }
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "manifest-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": _FORM_ACTION_HOSTS,
        "frame-ancestors": ["'none'"],
    }
}

# --- Metrics ---------------------------------------------------------------------------------
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- ops: heartbeats and the /ops/ dashboard ---------------------------------------------------
# Every web/worker/beat process records itself this often (0 = off: the test suite's own process).
OPS_HEARTBEAT_INTERVAL_S = env.float("OPS_HEARTBEAT_INTERVAL_S", default=15.0)
# A role (worker, beat, web) with no heartbeat this recent is down.
OPS_HEARTBEAT_STALE_S = env.int("OPS_HEARTBEAT_STALE_S", default=60)
# /ops/ takes one sample of every panel this often (one process does it, under a cache lock).
OPS_SAMPLE_INTERVAL_S = env.int("OPS_SAMPLE_INTERVAL_S", default=10)
# How much history the dashboard's charts keep, and the window of its rates and percentiles.
OPS_HISTORY_S = env.int("OPS_HISTORY_S", default=1800)
OPS_WINDOW_S = env.int("OPS_WINDOW_S", default=300)

# --- ops: backups (manage.py backup / restore; docs/operations/backups.md) -----------------------
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
# How many backups `backup` keeps in BACKUP_DIR (older ones are deleted after a successful backup).
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)
# A Fernet key: when set, backups are encrypted with it and restore needs it. Keep it off the backup host.
BACKUP_ENCRYPTION_KEY = env.str("BACKUP_ENCRYPTION_KEY", default="")

# --- Benchmarks (loadtest/) -----------------------------------------------------------------
# The bare echo consumer at /ws/bench/echo/ (the benchmark's floor). Only `make bench` turns it on.
BENCH_ECHO_ENABLED = env.bool("BENCH_ECHO_ENABLED", default=False)

# --- Moderation (chat/moderation.py) ---------------------------------------------------------
# Rule weights are 0..1 (chat/moderation_data/rules.yaml). A user's message is blocked at
# MODERATION_INPUT_THRESHOLD; Ivan's reply is cut at the stricter MODERATION_OUTPUT_THRESHOLD.
MODERATION_INPUT_THRESHOLD = env.float("MODERATION_INPUT_THRESHOLD", default=0.7)
MODERATION_OUTPUT_THRESHOLD = env.float("MODERATION_OUTPUT_THRESHOLD", default=0.5)
# The offline classifier layer (chat/moderation_model.py), after the rules. Threshold 0 = the one
# chosen by cross-validation when the model was trained (chat/moderation_data/classifier.json).
MODERATION_CLASSIFIER_ENABLED = env.bool("MODERATION_CLASSIFIER_ENABLED", default=True)
MODERATION_CLASSIFIER_THRESHOLD = env.float("MODERATION_CLASSIFIER_THRESHOLD", default=0.0)
MODERATION_CLASSIFIER_OUTPUT_THRESHOLD = env.float(
    "MODERATION_CLASSIFIER_OUTPUT_THRESHOLD", default=0.0
)  # Ivan's reply
# The provider's moderation endpoint through litellm, e.g. omni-moderation-latest; empty = off.
MODERATION_PROVIDER_MODEL = env.str("MODERATION_PROVIDER_MODEL", default="")
MODERATION_PROVIDER_API_BASE = env.str("MODERATION_PROVIDER_API_BASE", default="")
MODERATION_PROVIDER_API_KEY = env.str("MODERATION_PROVIDER_API_KEY", default="")  # else OPENAI_API_KEY
MODERATION_PROVIDER_THRESHOLD = env.float("MODERATION_PROVIDER_THRESHOLD", default=0.5)
MODERATION_PROVIDER_TIMEOUT_S = env.float("MODERATION_PROVIDER_TIMEOUT_S", default=5.0)
MODERATION_PROVIDER_FAIL_CLOSED = env.bool("MODERATION_PROVIDER_FAIL_CLOSED", default=False)
# A guard-style chat model through litellm (e.g. ollama/llama-guard3, or openai/<name> with an
# OpenAI-compatible MODERATION_GUARD_API_BASE such as vLLM), after the classifier; empty = off.
# It answers "safe" / "unsafe\nS<n>" (Llama Guard's codes, mapped in chat/moderation.py). A timeout,
# an error or a junk answer is logged and counted; FAIL_CLOSED=true then blocks, false lets the
# other layers' verdict stand.
MODERATION_GUARD_MODEL = env.str("MODERATION_GUARD_MODEL", default="")
MODERATION_GUARD_API_BASE = env.str("MODERATION_GUARD_API_BASE", default="")
MODERATION_GUARD_API_KEY = env.str("MODERATION_GUARD_API_KEY", default="")
MODERATION_GUARD_TIMEOUT_S = env.float("MODERATION_GUARD_TIMEOUT_S", default=5.0)
MODERATION_GUARD_FAIL_CLOSED = env.bool("MODERATION_GUARD_FAIL_CLOSED", default=False)
# A reply quoting this many consecutive words of the system prompt is a prompt leak.
MODERATION_PROMPT_LEAK_WORDS = env.int("MODERATION_PROMPT_LEAK_WORDS", default=12)

# --- Logging and errors ----------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "digitalme.request_id.RequestIdLogFilter"}},
    "formatters": {
        "json": {"()": "digitalme.logging.JsonFormatter"},
        "readable": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "readable" if DEBUG else "json",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "LiteLLM": {"level": "WARNING"},
        "LiteLLM Router": {"level": "WARNING"},
        "LiteLLM Proxy": {"level": "WARNING"},
    },
}

SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    # No request bodies, frame locals, PII, bot-token URLs or secret values (digitalme/sentry.py).
    from digitalme.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
