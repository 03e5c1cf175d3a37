"""Settings for the evaluation platform: every deploy-time value comes from the environment."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _env(parse, name, **kwargs):
    """Parse one variable, naming it when its value is wrong."""
    try:
        return parse(name, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"Environment variable {name} is invalid: {exc}") from exc


DEBUG = _env(env.bool, "DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set the SECRET_KEY environment variable (required when DEBUG is off)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-debug-on"

ALLOWED_HOSTS = _env(env.list, "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env(env.list, "CSRF_TRUSTED_ORIGINS", default=[])
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "django_htmx",
    "channels",
    "django_q",
    "accounts",
    "llm_models",
    "chat",
    "datasets",
    "evaluations",
    "perfbench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "evalplatform.urls"
WSGI_APPLICATION = "evalplatform.wsgi.application"
ASGI_APPLICATION = "evalplatform.asgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": _env(env.db_url, "DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.mysql":
    _db.setdefault("OPTIONS", {}).update(
        {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"}
    )
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    _db.setdefault("CONN_MAX_AGE", 60)
    _db["CONN_HEALTH_CHECKS"] = True
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker write at the same time: wait for the lock instead of
    # failing, and let readers work while a writer holds it.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Keep connections: a chat turn makes several queries, and reconnecting for each one costs
    # more than the queries.
    _db.setdefault("CONN_MAX_AGE", 60)
    _db["CONN_HEALTH_CHECKS"] = True
    # A file, not memory, so that a worker or web process started by a test shares it.
    _db["TEST"] = {"NAME": str(Path(_db["NAME"]).with_name("test_" + Path(_db["NAME"]).name))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# MySQL/MariaDB have no partial unique constraints or indexes: the unique system-model and
# system-dataset names are enforced by model validation (every service calls full_clean), and
# django-q2's own conditional index simply becomes a plain one.
SILENCED_SYSTEM_CHECKS = ["models.W036", "models.W037"]
AUTH_USER_MODEL = "accounts.User"

# --- Redis: channel layer and task broker ---------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The longest background job we allow (an evaluation or a benchmark), in seconds. django-q2
# must never hand a running job to a second worker: its `timeout` exceeds this limit and its
# `retry` exceeds the timeout. A job whose worker died is resumed by the platform itself.
JOB_TIME_LIMIT = _env(env.int, "JOB_TIME_LIMIT", default=6 * 3600)
Q_CLUSTER = {
    "name": "evalplatform",
    "workers": _env(env.int, "Q_WORKERS", default=2),
    "timeout": JOB_TIME_LIMIT + 300,
    "retry": JOB_TIME_LIMIT + 600,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Django Q",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5

# --- Authentication ----------------------------------------------------------------------
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
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_SESSION_REMEMBER = None
# Operators create users in the admin; self-service signup is off unless enabled.
SIGNUP_ENABLED = _env(env.bool, "SIGNUP_ENABLED", default=False)

# --- Security ------------------------------------------------------------------------------
CSRF_FAILURE_VIEW = "accounts.views.csrf_failure"
SESSION_COOKIE_AGE = _env(env.int, "SESSION_COOKIE_AGE", default=14 * 24 * 3600)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool(
    "BEHIND_HTTPS_PROXY", default=False
) else None
SECURE_SSL_REDIRECT = _env(env.bool, "SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _env(env.bool, "SECURE_COOKIES", default=False)
SECURE_HSTS_SECONDS = _env(env.int, "SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
                    if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Served from STATICFILES_DIRS directly when collectstatic has not been run (development).
WHITENOISE_USE_FINDERS = DEBUG

# --- Logging: never log request bodies or headers (they carry API keys) --------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# --- Models and the demo LLM server --------------------------------------------------------
# The demo OpenAI-compatible server that `make up` starts and registers as system models.
DEMO_LLM_URL = env.str("DEMO_LLM_URL", default="http://127.0.0.1:8011/v1")
# Outbound calls to user models: a timeout for every call, a shorter one for checks.
LLM_REQUEST_TIMEOUT = _env(env.float, "LLM_REQUEST_TIMEOUT", default=120.0)
LLM_CHECK_TIMEOUT = _env(env.float, "LLM_CHECK_TIMEOUT", default=10.0)
LLM_MAX_RETRIES = _env(env.int, "LLM_MAX_RETRIES", default=2)
LLM_MAX_CONNECTIONS = _env(env.int, "LLM_MAX_CONNECTIONS", default=200)
# API keys are encrypted at rest with the first of these keys; all of them decrypt, so a new key
# can be put first and the old one kept behind it. Defaults to SECRET_KEY: set it explicitly in
# production, so that rotating SECRET_KEY does not make stored keys unreadable.
FIELD_ENCRYPTION_KEYS = _env(env.list, "FIELD_ENCRYPTION_KEY", default=[SECRET_KEY])
# Hosts and networks that user-created models may point at: "*" (the default) allows any,
# otherwise host names (wildcards allowed, e.g. "*.corp.example") and CIDR networks.
# The cloud metadata address is refused whatever this says.
USER_MODEL_ALLOWED_HOSTS = _env(env.list, "USER_MODEL_ALLOWED_HOSTS", default=["*"])
# Optional JSON file of system models, applied idempotently by `manage.py sync_system_models`.
SYSTEM_MODELS_FILE = env.str("SYSTEM_MODELS_FILE", default="")

# --- Datasets ------------------------------------------------------------------------------
DATASET_UPLOAD_MAX_BYTES = _env(env.int, "DATASET_UPLOAD_MAX_BYTES", default=500 * 1024 * 1024)
# Uploads up to this size are imported within the request; bigger ones by a worker.
DATASET_INLINE_IMPORT_MAX_BYTES = _env(env.int, "DATASET_INLINE_IMPORT_MAX_BYTES", default=2 * 1024 * 1024)
FILE_UPLOAD_TEMP_DIR = str(DATA_DIR / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)

# --- Evaluations ---------------------------------------------------------------------------
# A running evaluation writes a heartbeat every second; one silent for this long lost its worker
# and can be resumed.
EVALUATION_HEARTBEAT_STALE = _env(env.int, "EVALUATION_HEARTBEAT_STALE", default=30)
# Attempts per model or judge call on 429, 5xx, timeouts and broken connections.
EVALUATION_MAX_ATTEMPTS = _env(env.int, "EVALUATION_MAX_ATTEMPTS", default=4)
EVALUATION_RETRY_BACKOFF = _env(env.float, "EVALUATION_RETRY_BACKOFF", default=0.5)

# --- Performance benchmarks ----------------------------------------------------------------
# The most a benchmark run may ask for: concurrency of one pair, and requests of all its pairs.
PERF_MAX_CONCURRENCY = _env(env.int, "PERF_MAX_CONCURRENCY", default=512)
PERF_MAX_REQUESTS = _env(env.int, "PERF_MAX_REQUESTS", default=100_000)
# Seconds evalscope pauses between the pairs of a sweep, so one pair's tail does not overlap
# the next one's start (evalscope's own default).
PERF_SWEEP_PAUSE = _env(env.int, "PERF_SWEEP_PAUSE", default=5)
# A running benchmark writes a heartbeat every second; one silent for this long lost its worker.
PERF_HEARTBEAT_STALE = _env(env.int, "PERF_HEARTBEAT_STALE", default=30)
