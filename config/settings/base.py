"""Settings shared by every environment; values come from the environment (django-environ)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# No default: production.py keeps a generated key in var/, local.py and test.py fix one.
SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "axes",
    "channels",
    "scenarios",
    "interaction",
    "telemetry",
]

MIDDLEWARE = [
    # First, so that every error under /api/ leaves as JSON (config.api_errors).
    "config.api_errors.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: answers a login the lockout refused (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Refuses a login while its username + address is locked out (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database. Connections are kept (CONN_MAX_AGE, seconds) and checked before reuse, so the
# socket's DB threads (interaction.ws.db) do not reconnect per call nor reuse a dead one. ---
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/parley")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
    "DB_CONNECT_TIMEOUT_S", default=3
)
# The few statements every answer runs are prepared once per connection (interaction.prepared;
# Django's own cursors never prepare). Behind a pooler in transaction mode, which cannot keep
# a connection's prepared statements, set DB_PREPARED_STATEMENTS=false.
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
    5 if env.bool("DB_PREPARED_STATEMENTS", default=True) else None
)
# The socket's DB work (interaction.ws.db): a pool of `threads` (one connection each) and, per
# call, one transaction whose lock waits and statements are cut short, so a held row lock
# ends in a retryable `error` event within 2 s instead of a silent stall.
STREAM_DB = {
    "threads": env.int("STREAM_DB_THREADS", default=8),
    "lock_timeout_ms": env.int("STREAM_DB_LOCK_TIMEOUT_MS", default=1000),
    "statement_timeout_ms": env.int("STREAM_DB_STATEMENT_TIMEOUT_MS", default=1500),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        # Redis with a degraded mode: an outage leaves the sockets up (interaction/ws/takeover.py)
        "BACKEND": "interaction.ws.takeover.TakeoverChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env("CHANNEL_PREFIX", default="parley")},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes a missing login a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    # Client addresses come from config.auth.client_ip (PARLEY_TRUSTED_PROXY_COUNT).
    "NUM_PROXIES": 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "Spoken-language practice: scenarios, sessions and time-stop answers.",
    "VERSION": "1.0.0",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every error an operation can answer, documented from its view (config.api_errors).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_errors.schema_error_responses",
    ],
}

# --- Scoring: global defaults, overridden per difficulty, then per scenario, then per turn. ---
PARLEY_RULES: dict[str, Any] = {
    "reward": 10,
    "lives": 3,
    "penalties": {
        "wrong_language": {"lives": 1, "points": 0},
        "incorrect_answer": {"lives": 1, "points": 0},
    },
    "difficulty": {
        "easy": {"penalties": {"wrong_language": {"lives": 1}, "incorrect_answer": {"lives": 1}}},
        "normal": {},
        "hard": {
            # The fair judge asks more of an answer before it scores (interaction.audio_judging;
            # docs/fair-judge.md): a higher floor on the fitted P(correct).
            "audio_judging": {"correct_floor": 0.97},
            "penalties": {
                "wrong_language": {"lives": 2},
                "incorrect_answer": {"lives": 1, "points": 5},
            },
        },
    },
}

# --- Judging: thresholds with global defaults, overridable per scenario. ---
PARLEY_JUDGING = {
    # similarity (0..100, interaction.judging.similarity) an answer needs to be accepted.
    "answer_similarity": env.float("PARLEY_ANSWER_SIMILARITY", default=90.0),
    # probability (0..1) the learner's other language needs (and must outrank the target).
    "wrong_language_probability": env.float("PARLEY_WRONG_LANGUAGE_PROBABILITY", default=0.6),
    "ignore_accents": True,
    "other_languages": ["en"],
    # The fair judge's thresholds for spoken answers, global layer (scenarios.rules.
    # AUDIO_JUDGING_BOUNDS; unset keys keep interaction.audio_judging.AudioJudgingPolicy's).
    "audio": {},
}

# --- Speech recognition (WhisperLive servers started by `manage.py run_asr_server`). ---
ASR_SERVERS = env.list("ASR_SERVERS", default=["ws://127.0.0.1:9090"])
ASR_MODEL = env("ASR_MODEL", default="base")  # "base" (multilingual) or "tiny.en"
ASR_MODEL_DIR = Path(env("ASR_MODEL_DIR", default=str(BASE_DIR / "var" / "models")))
ASR_CONNECT_TIMEOUT_S = env.float("ASR_CONNECT_TIMEOUT_S", default=5.0)
ASR_READ_TIMEOUT_S = env.float("ASR_READ_TIMEOUT_S", default=20.0)
ASR_FINAL_TIMEOUT_S = env.float("ASR_FINAL_TIMEOUT_S", default=15.0)
# Seconds a connection an ASR server kept after a final waits for this process's next
# utterance to that server; 0: a new connection per utterance. Below the server's own bound
# (PARLEY_ASR_KEPT_IDLE_S, 30 s), so the app rarely finds a kept connection closed.
ASR_KEEP_IDLE_S = env.float("ASR_KEEP_IDLE_S", default=10.0)
# Concurrent utterances one ASR server accepts before answering WAIT (the client then tries
# the next server of ASR_SERVERS, or says `asr_busy`). 3: what a 2-core server finishes with
# the slowest final within half of ASR_FINAL_TIMEOUT_S (bench/asr_admission.py,
# docs/reliability.md); measure a bigger machine's own.
ASR_MAX_CLIENTS = env.int("ASR_MAX_CLIENTS", default=3)
ASR_MAX_UPLOAD_BYTES = env.int("ASR_MAX_UPLOAD_BYTES", default=5 * 1024 * 1024)
ASR_MAX_CLIP_SECONDS = env.float("ASR_MAX_CLIP_SECONDS", default=30.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Feature flag: streaming mode for every scenario (each scenario has its own flag too).
STREAMING_ENABLED = env.bool("STREAMING_ENABLED", default=True)
STREAM_IDLE_TIMEOUT_S = env.float("STREAM_IDLE_TIMEOUT_S", default=60.0)
# A session untouched this long (no answer, no stream event) is marked abandoned by
# `manage.py abandon_stale_sessions` (run it periodically); seconds.
SESSION_ABANDON_AFTER_S = env.float("SESSION_ABANDON_AFTER_S", default=24 * 3600.0)
# --- Socket frame rate per user (interaction.ws.rate): token buckets shared by a user's sockets
# on one process. A client sends ~10 audio frames and a few control frames a second; a frame
# over the rate is dropped and answered `rate_limited` (once a spell). ---
STREAM_RATE = {
    "text_per_s": env.float("STREAM_RATE_TEXT_PER_S", default=20.0),
    "text_burst": env.float("STREAM_RATE_TEXT_BURST", default=40.0),
    "audio_per_s": env.float("STREAM_RATE_AUDIO_PER_S", default=60.0),
    "audio_burst": env.float("STREAM_RATE_AUDIO_BURST", default=120.0),
}
# Bounds of one stream (interaction.ws.limits.StreamLimits); seconds. After
# speculate_silence_s of trailing silence the answer is evaluated and a confident correct
# verdict committed; any other verdict waits for silence_end_s (or the stop gesture), or
# unfinished_silence_end_s after words that do not end an answer (interaction.ws.pauses).
# Voice that begins within tail_hold_s of an early commit is that answer's tail.
# relay_chunk_s: audio goes on to the recogniser in chunks of this much (each relayed chunk
# is a task wake-up and a WebSocket send), and at once before an evaluation or the end.
STREAM_LIMITS = {
    "max_utterance_s": env.float("STREAM_MAX_UTTERANCE_S", default=30.0),
    "speculate_silence_s": env.float("STREAM_SPECULATE_SILENCE_S", default=0.3),
    "silence_end_s": env.float("STREAM_SILENCE_END_S", default=1.0),
    "unfinished_silence_end_s": env.float("STREAM_UNFINISHED_SILENCE_END_S", default=2.5),
    "tail_hold_s": env.float("STREAM_TAIL_HOLD_S", default=0.8),
    "relay_chunk_s": env.float("STREAM_RELAY_CHUNK_S", default=0.3),
}

# --- HTTP: abuse limits, upload size, errors (docs/reliability.md) ---
# Proxies in front of Daphne that append to X-Forwarded-For; 0 trusts the socket's address
# only, so no header can choose the address that rate limits and login lockout key on.
PARLEY_TRUSTED_PROXY_COUNT = env.int("PARLEY_TRUSTED_PROXY_COUNT", default=0)
# Throttle rates (config.auth): login and sign-up per client address, the rest per
# learner. A refusal is 429 with Retry-After.
PARLEY_RATE_LIMITS = {
    "login": env("PARLEY_RATE_LOGIN", default="30/minute"),
    "signup": env("PARLEY_RATE_SIGNUP", default="20/hour"),
    "session_start": env("PARLEY_RATE_SESSION_START", default="30/minute"),
    "attempt": env("PARLEY_RATE_ATTEMPT", default="120/minute"),
}
# Throttle counters live in Redis, shared by every Daphne process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_PREFIX", default="parley-cache"),
    }
}
# Login lockout: 5 failures for one username from one address lock that pair for 15 minutes
# (failures stored in Postgres by django-axes).
AXES_FAILURE_LIMIT = env.int("PARLEY_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("PARLEY_LOGIN_COOLOFF_MIN", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.auth.client_ip"
AXES_LOCKOUT_CALLABLE = "config.auth.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# The largest request body Daphne accepts (config.server): an audio upload at
# ASR_MAX_UPLOAD_BYTES plus its multipart envelope. Larger declared bodies are answered 413
# before they are read; chunked bodies are cut off when they pass it.
PARLEY_MAX_REQUEST_BYTES = env.int(
    "PARLEY_MAX_REQUEST_BYTES", default=ASR_MAX_UPLOAD_BYTES + 256 * 1024
)
# The server's cyclic collector (config.server.collector_settle): how many new container
# objects start a young collection. Python's default is 700; a streaming server allocates
# and frees so many that 3,000 halves the collector's CPU or better (docs/performance.md).
PARLEY_GC_YOUNG_THRESHOLD = env.int("PARLEY_GC_YOUNG_THRESHOLD", default=3000)
# Non-file request bodies (JSON, forms) Django reads into memory; larger is a 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

# --- Analytics, telemetry and privacy (the telemetry app; docs/analytics.md, docs/privacy.md) ---
# Turns (and scenarios) with fewer sessions than this get no difficulty, only raw counts.
ANALYTICS_MIN_SESSIONS = env.int("ANALYTICS_MIN_SESSIONS", default=5)
# Key of the learners' pseudonyms in exports (HMAC-SHA256); empty: derived from SECRET_KEY when
# used (telemetry.access), so it is stable for a deployment and unknown outside it.
ANALYTICS_PSEUDONYM_KEY = env("ANALYTICS_PSEUDONYM_KEY", default="")
# A scraper may read /metrics with "Authorization: Bearer <token>"; empty: staff only.
METRICS_SCRAPE_TOKEN = env("METRICS_SCRAPE_TOKEN", default="")
TELEMETRY_BATCH_SIZE = env.int("TELEMETRY_BATCH_SIZE", default=50)
# Raw audio of time-stop answers is kept only when STORE_AUDIO is on, and then for
# AUDIO_RETENTION_DAYS (`manage.py purge_audio`); transcripts for TRANSCRIPT_RETENTION_DAYS
# (`manage.py purge_transcripts`).
STORE_AUDIO = env.bool("STORE_AUDIO", default=False)
AUDIO_RETENTION_DAYS = env.int("AUDIO_RETENTION_DAYS", default=30)
TRANSCRIPT_RETENTION_DAYS = env.int("TRANSCRIPT_RETENTION_DAYS", default=365)
