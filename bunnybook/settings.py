"""Bunnybook settings: every value comes from the environment, with its default beside it.

With no service variables set, the site runs on the embedded default: SQLite under
var/, the in-memory channel layer, the local-memory cache and SQL suggestions.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate limit written "count/seconds", e.g. RATE_POST=10/60."""
    count, _, seconds = os.environ.get(name, default).partition("/")
    return int(count), int(seconds)


# --- Core -------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)
_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "template_partials",
    "csp",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "social",
    "chat",
    "notifications",
    "reports",
]

MIDDLEWARE = [
    # First: an oversized body or a NUL in the URL is refused before anything runs.
    "bunnybook.guards.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "bunnybook.middleware.HtmxLoginRedirectMiddleware",
    # Innermost, so it sees a view's rate limit or lost database first (429 / 503 pages).
    "bunnybook.middleware.FailureAnswersMiddleware",
]

ROOT_URLCONF = "bunnybook.urls"
ASGI_APPLICATION = "bunnybook.asgi.application"
WSGI_APPLICATION = "bunnybook.wsgi.application"

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

# Post cards of the feed and walls are kept rendered, per process, this many at most
# (social/cards.py; about 5 KB each); 0 renders every card every time.
POST_CARD_CACHE_SIZE = env_int("POST_CARD_CACHE_SIZE", 4096)

# --- Data -------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'bunnybook.sqlite3'}")
# Daphne runs each sync request in a thread of its own, so a connection kept per thread
# (DB_CONN_MAX_AGE) outlives it and PostgreSQL runs out of connections under load; an ASGI
# server shares a pool of DB_POOL_SIZE connections instead (PostgreSQL only; 0: no pool).
DB_POOL_SIZE = env_int("DB_POOL_SIZE", 0)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=0 if DB_POOL_SIZE else env_int("DB_CONN_MAX_AGE", 0),
        # A kept connection is checked before reuse, so a restarted PostgreSQL costs one
        # failed request per connection at most and the server recovers by itself.
        conn_health_checks=True,
    )
}
if DB_POOL_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # With health checks on, Django has the pool check each connection it hands out.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        "timeout": 2,  # seconds a request waits for a connection before its 503
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Written-out SQL binds its parameters on the server (bunnybook/rows.py, `cursor`): a
    # statement is prepared the second time a connection runs it, and PostgreSQL plans it
    # once. (Behind a pooler in transaction mode, such as pgbouncer's, set None.)
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 1
# Channels' live-server test case and pytest-django must agree on the test database name.
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_bunnybook")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/ yet
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_bunnybook.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
USES_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# REDIS_URL feeds the channel layer, CACHE_URL the cache: separate servers, so a cache
# failure can never take live messaging down with it.
REDIS_URL = env_str("REDIS_URL")
CACHE_URL = env_str("CACHE_URL")

# CHANNEL_LAYER picks the Redis layer: "pubsub" (channels-redis' RedisPubSubChannelLayer,
# with batched group sends: bunnybook.events.BatchingPubSubChannelLayer) or "core"
# (RedisChannelLayer: groups as Redis keys, one BZPOPMIN loop per process, one message per
# round trip). Measured side by side by bench/bench_chat.py (200 and 1,000 sockets, 200 and
# 500 msg/s): pubsub delivered 1.5-2x what core did at about half the server CPU per
# message (core: ~7 ms, pubsub: ~4 ms, the bare relay: ~0.8 ms). Delivery is at-most-once
# either way; PostgreSQL, resume and the heartbeat's catch-up make it lossless.
CHANNEL_LAYER = env_str("CHANNEL_LAYER", "pubsub")
if REDIS_URL and CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "bunnybook.events.BatchingPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "asgi"),
            },
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "asgi"),
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "bb"),
            "OPTIONS": {
                # A dead cache must cost a page one short wait, then fall through to the database.
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Request bodies over this many bytes are refused with 413 before they are read; the
# largest legitimate one (a 5,000-character post, JSON-escaped) is under 64 KiB.
REQUEST_BODY_MAX_BYTES = env_int("REQUEST_BODY_MAX_BYTES", 256 * 1024)

# --- Live: sockets, chat, typing, presence ---------------------------------------------

# An API socket without a session must authenticate in its first frame within this time.
WS_AUTH_TIMEOUT = float(env_str("WS_AUTH_TIMEOUT", "5"))
# Frames larger than this get an `error` event instead of being parsed.
WS_MAX_FRAME_BYTES = env_int("WS_MAX_FRAME_BYTES", 64 * 1024)
# Live events reaching a socket before its first frame wait this long for a `resume`.
WS_RESUME_GRACE = float(env_str("WS_RESUME_GRACE", "1"))
# A live event that overtook earlier ones waits this long for them to come through the
# layer before they are read from the database.
WS_GAP_WAIT = float(env_str("WS_GAP_WAIT", "0.25"))
# At most this many missed events are replayed; further back the client must resync.
WS_RESUME_LIMIT = env_int("WS_RESUME_LIMIT", 1000)
# Durable per-bunny events older than this are pruned (`manage.py prune_live_events`).
LIVE_EVENT_RETENTION_DAYS = env_int("LIVE_EVENT_RETENTION_DAYS", 7)

# Presence: each socket refreshes its heartbeat every PRESENCE_HEARTBEAT seconds and counts
# as gone PRESENCE_TTL seconds after its last one, so a dead server's bunnies are seen
# offline within PRESENCE_TTL + PRESENCE_HEARTBEAT seconds.
PRESENCE_HEARTBEAT = float(env_str("PRESENCE_HEARTBEAT", "4"))
PRESENCE_TTL = float(env_str("PRESENCE_TTL", "10"))

CHAT_PAGE_SIZE = 50
# Per bunny: at most CHAT_MESSAGE_RATE messages in CHAT_RATE_WINDOW seconds, and typing
# frames relayed at most every TYPING_THROTTLE seconds per conversation.
CHAT_MESSAGE_RATE = env_int("CHAT_MESSAGE_RATE", 30)
CHAT_TYPING_RATE = env_int("CHAT_TYPING_RATE", 30)
CHAT_RATE_WINDOW = env_int("CHAT_RATE_WINDOW", 10)
TYPING_THROTTLE = float(env_str("TYPING_THROTTLE", "2"))

# --- Rate limits (bunnybook.ratelimit) ----------------------------------------------------

# (count, seconds) per scope, counted per bunny (per address before log-in) in the cache.
# Chat messages and typing frames count through the same limiter, with the CHAT_* rates above.
RATE_LIMITS = {
    "signup": env_rate("RATE_SIGNUP", "20/3600"),
    "password_reset": env_rate("RATE_PASSWORD_RESET", "5/3600"),
    "token_refresh": env_rate("RATE_TOKEN_REFRESH", "30/60"),
    "friend_request": env_rate("RATE_FRIEND_REQUEST", "30/3600"),
    "post": env_rate("RATE_POST", "10/60"),
    "comment": env_rate("RATE_COMMENT", "20/60"),
    "like": env_rate("RATE_LIKE", "60/60"),
    # Failed log-ins (pages and the token endpoint): the pair slows a guesser at once, the
    # address a guesser trying many accounts, the account a guesser using many addresses.
    "login_account_address": env_rate("RATE_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS", "5/300"),
    "login_address": env_rate("RATE_LOGIN_FAILURES_PER_ADDRESS", "30/300"),
    "login_account": env_rate("RATE_LOGIN_FAILURES_PER_ACCOUNT", "100/300"),
}

NEO4J_URI = env_str("NEO4J_URI")
NEO4J_USER = env_str("NEO4J_USER", "neo4j")
NEO4J_PASSWORD = env_str("NEO4J_PASSWORD")

# --- Accounts ---------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.UsernameOrEmailBackend"]
# Database sessions that know their bunny, so a ban can delete all of hers at once.
SESSION_ENGINE = "accounts.sessions"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60 * 3)

EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Bunnybook <hello@bunnybook.localhost>")

# --- API --------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Bearer first, so an unauthenticated call answers 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's JWTAuthentication plus the ban/suspension check on every request.
        "accounts.authentication.BunnyJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "bunnybook.api.exception_handler",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 14)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.RotatingRefreshSerializer",
    "TOKEN_OBTAIN_SERIALIZER": "accounts.tokens.SanctionAwareTokenObtainSerializer",
    "USER_AUTHENTICATION_RULE": "accounts.backends.may_authenticate",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Bunnybook API",
    "DESCRIPTION": "JSON API of Bunnybook, a small friends-based social network for bunnies.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Docs assets are served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"VisibilityEnum": "social.models.Visibility"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "bunnybook.schema.document_error_answers",
    ],
}

# --- Static and media -------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security (strict whenever DEBUG is off) ---------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Our pages need no inline script or style (htmx is configured by a <meta>, without its
# indicator styles); the API docs relax this for themselves (bunnybook/api.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
