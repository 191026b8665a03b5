"""Usher settings: one module, driven by environment variables.

With nothing set, Usher runs on embedded defaults that need no servers: SQLite, a
local-memory cache and a Celery broker on the filesystem. Setting `DATABASE_URL` and
`REDIS_URL` moves it to PostgreSQL and Redis. Every variable is listed in README.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("USHER_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "usher-insecure-development-key-change-me"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "usher.marketplace",
    "usher.tracking",
    "usher.events",
    "usher.conversions",
    "usher.audiences",
    "usher.campaigns",
    "usher.catalog",
    "usher.platforms",
    "usher.dashboard",
    "usher.ops",
    "usher.notifications",
]

MIDDLEWARE = [
    "usher.ops.request_ids.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # LEAN_PATHS leave here for LEAN_MIDDLEWARE and their view; the rest goes on.
    "usher.lib.lean_chain.LeanPathsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The panel and the admin speak the visitor's language (cookie, else Accept-Language).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "usher.lib.middleware.ApiInputGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
# The collector's path, matched exactly: it uses no session, login, CSRF token, message
# or language, so it skips those middlewares (usher/lib/lean_chain.py).
LEAN_PATHS = ["/api/collect"]
LEAN_MIDDLEWARE = ["usher.lib.middleware.ApiInputGuardMiddleware"]

ROOT_URLCONF = "usher.urls"
# Secrets shown once in the admin (new API keys and tokens) travel in a message; the
# default cookie storage would put them in a readable, merely signed cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
WSGI_APPLICATION = "usher.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "usher.notifications.context.unread_notifications",
            ],
        },
    },
]

# --- Database: PostgreSQL when DATABASE_URL is set, else an embedded SQLite file. ---
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'usher.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web process, the worker and beat share the file without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A statement sent on a server-bound cursor (usher/lib/inserts.py: the collector's and
    # fan-out's inserts, a delivery's record; their text is fixed) is prepared on its
    # connection once it has run this many times there: the server stops parsing and
    # planning it on every request. Django's own queries bind client-side and are never
    # prepared. 0 turns it off (a pooler in transaction mode that cannot keep them).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        int(os.environ.get("DATABASE_PREPARE_THRESHOLD", "5")) or None
    )
if os.environ.get("TEST_DATABASE_NAME"):
    # Two test runs against one PostgreSQL server each need their own test database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "marketplace.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/panel/"  # organizers to their panel, staff on to the admin

# --- Cache (tracking-config answers, rate-limit buckets, locks): Redis or local memory. ---
REDIS_URL = os.environ.get("REDIS_URL", "")
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _xdist_worker.startswith("gw"):
    # Tests flush the cache between cases; parallel test workers each get their own
    # Redis database (1, 2, ...) so they cannot flush each other's.
    REDIS_URL = f"{REDIS_URL.rsplit('/', 1)[0]}/{int(_xdist_worker[2:]) + 1}"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "usher.lib.redis_cache.RedisCache",  # reuses its client objects
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "usher"),
        }
    }
else:
    # Files, not process memory: the web server, the worker's processes and beat must see
    # one cache, or an edited tracking code would linger in a worker for minutes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / f"cache{_xdist_worker}"),
        }
    }

# --- Celery: Redis broker in production; a filesystem broker (no server) by default. ---
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
    _broker_dir.mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message to be redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers keep their database connections across tasks (Celery's Django fixup would close
# them around every task) and recycle them as web requests do: broken ones, and after
# DATABASE_CONN_MAX_AGE (usher/celery.py); this only forces a fresh one every N tasks.
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "1000"))
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# The scheduled jobs' parts (one per budget, ad account or audience) have queues of
# their own, so deliveries (the default `celery` queue) never wait behind a slow
# platform, and each kind of work scales with its own workers (README: Deploying).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "usher.campaigns.tasks.optimize_budget_task": {"queue": "campaigns"},
    "usher.campaigns.tasks.daily_rebalance_task": {"queue": "campaigns"},
    "usher.campaigns.tasks.sync_account_metrics_task": {"queue": "campaigns"},
    "usher.audiences.tasks.refresh_audience_task": {"queue": "audiences"},
    "usher.catalog.tasks.sync_catalog_task": {"queue": "campaigns"},
}
# Declared, so a worker started without `-Q` consumes every one of them.
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name) for name in ("celery", "campaigns", "audiences")
]
# Workers log through Django's LOGGING (JSON in production, task ids as request ids).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The schedule of every periodic job; apps add their entries here, nowhere else.
CELERY_BEAT_SCHEDULE: dict = {
    "refresh-audiences": {
        "task": "usher.audiences.tasks.refresh_due_audiences_task",
        # hourly on the hour: each marketplace's audiences refresh at 03:00 its local time
        "schedule": crontab(minute=0),
    },
    "sweep-conversion-deliveries": {
        "task": "usher.conversions.tasks.sweep_deliveries_task",
        "schedule": 30.0,  # events and orders whose fan-out task was lost
    },
    "dispatch-due-deliveries": {
        "task": "usher.conversions.tasks.dispatch_due_task",
        # Due retries whose follow-up task was lost and expired worker leases: with
        # leases of ~30 s, a crashed worker's rows are sent again within a minute.
        "schedule": 15.0,
    },
    "sync-campaign-metrics": {
        "task": "usher.campaigns.tasks.sync_campaign_metrics_task",
        # every 30 minutes: one task per ad account, platform delivery and spend in
        "schedule": crontab(minute="0,30"),
    },
    "optimize-budgets": {
        "task": "usher.campaigns.tasks.optimize_budgets_task",
        # hourly, after the :00 metrics read: one optimization task per active budget
        "schedule": crontab(minute=10),
    },
    "rebalance-budgets": {
        "task": "usher.campaigns.tasks.rebalance_all_budgets_task",
        # hourly on the hour: each marketplace's budgets re-paced at 06:00 its local time
        "schedule": crontab(minute=0),
    },
    "sync-catalogs": {
        "task": "usher.catalog.tasks.sync_catalogs_task",
        # hourly: each ad account's event catalog, only what changed (ingested events
        # also sync their catalogs a minute after they change)
        "schedule": crontab(minute=20),
    },
    "purge-network-data": {
        "task": "usher.conversions.tasks.purge_network_data_task",
        "schedule": 3600.0,  # hourly: IP/user agent kept only while deliveries need them
    },
    "notification-watchers": {
        "task": "usher.notifications.tasks.watch_task",
        "schedule": 900.0,  # every 15 minutes: failing deliveries and jobs become notices
    },
}

# --- Email: notifications to organizers and staff. SMTP when EMAIL_HOST is set; else
# each message is written as a file under var/mail (and shown in the panel anyway). ---
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Usher <usher@localhost>")
# Where people reach Usher: links in emails point here.
USHER_PUBLIC_URL = os.environ.get("USHER_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Secrets at rest: Fernet keys, newest first (MultiFernet rotation). ---
USHER_ENCRYPTION_KEYS = env_list("USHER_ENCRYPTION_KEYS")
if not USHER_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured("USHER_ENCRYPTION_KEYS must be set when DEBUG is off.")

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_CLASS = "usher.lib.pagination.BoundedLimitOffsetPagination"
# The sample event pages at /demo/events/<slug>/ fire real pixels and conversions for the
# event's codes: on by default only in development.
USHER_DEMO_PAGES = env_bool("USHER_DEMO_PAGES", DEBUG)
# Collector flood limits: requests per minute from one address, and for one site key.
COLLECTOR_REQUESTS_PER_IP_PER_MINUTE = int(
    os.environ.get("COLLECTOR_REQUESTS_PER_IP_PER_MINUTE", "300")
)
COLLECTOR_REQUESTS_PER_SITE_KEY_PER_MINUTE = int(
    os.environ.get("COLLECTOR_REQUESTS_PER_SITE_KEY_PER_MINUTE", "30000")
)
# How many reverse proxies in front of Usher append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_HOPS = int(os.environ.get("TRUSTED_PROXY_HOPS", "0"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The organizer panel's languages; dates, numbers and money follow the chosen one.
LANGUAGES = [("en", "English"), ("ro", "Română")]
LOCALE_PATHS = [BASE_DIR / "usher" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
if not DEBUG:
    # In production Usher serves tracker.js and the admin's and API docs' assets itself
    # (collected by `collectstatic`); in development runserver does.
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# `json`: one JSON object per line (production log pipelines); `plain` for people.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "usher.ops.request_ids.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "usher.ops.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every URL at INFO, and some platforms put credentials in the query
        # string; usher.http writes its own masked line per call instead.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
if CELERY_BROKER_URL == "filesystem://":
    # kombu warns "No hostname was supplied" on every connection to the embedded broker,
    # whose URL has no host by design: noise that buried `make run`'s progress lines.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # HTTPS only: redirect plain HTTP, and tell browsers to stick to HTTPS (HSTS). Both
    # can be turned down for a deployment that terminates TLS elsewhere and knows why.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(30 * 24 * 3600)))

VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Ad platforms: pinned API versions and base URLs. The defaults point at the local
# sandbox (`python -m usher.sandbox`); set the *_BASE_URL variables to the platforms'
# real hosts in production (README, "Real platforms or the sandbox"). ---
SANDBOX_URL = os.environ.get("SANDBOX_URL", "http://127.0.0.1:8100")
META_GRAPH_API_VERSION = os.environ.get("META_GRAPH_API_VERSION", "v25.0")
GOOGLE_ADS_API_VERSION = os.environ.get("GOOGLE_ADS_API_VERSION", "v25")
TIKTOK_API_VERSION = os.environ.get("TIKTOK_API_VERSION", "v1.3")
PLATFORM_BASE_URLS = {
    "meta": os.environ.get("META_GRAPH_BASE_URL", f"{SANDBOX_URL}/meta"),
    "google_ads": os.environ.get("GOOGLE_ADS_BASE_URL", f"{SANDBOX_URL}/google-ads"),
    "tiktok": os.environ.get("TIKTOK_BASE_URL", f"{SANDBOX_URL}/tiktok"),
    "ga4": os.environ.get("GA4_BASE_URL", f"{SANDBOX_URL}/ga4"),
    # Google's OAuth token endpoint: organizers' refresh tokens become access tokens here.
    "google_oauth": os.environ.get("GOOGLE_OAUTH_BASE_URL", f"{SANDBOX_URL}/google-oauth"),
    # Google's Data Manager API: Customer Match uploads for developers Google has not
    # allowlisted on the Ads API (all new ones since April 2026).
    "google_data_manager": os.environ.get(
        "GOOGLE_DATA_MANAGER_BASE_URL", f"{SANDBOX_URL}/data-manager"
    ),
}
# How Customer Match members reach Google: "data_manager" (the default, and the only
# route for developers not allowlisted) or "ads_api" (offline user data jobs).
GOOGLE_CUSTOMER_MATCH_API = os.environ.get("GOOGLE_CUSTOMER_MATCH_API", "data_manager")
if GOOGLE_CUSTOMER_MATCH_API not in ("data_manager", "ads_api"):
    raise ImproperlyConfigured("GOOGLE_CUSTOMER_MATCH_API must be data_manager or ads_api.")
PLATFORM_HTTP_TIMEOUT_SECONDS = float(os.environ.get("PLATFORM_HTTP_TIMEOUT_SECONDS", "10"))

# Outbound requests per second and burst per destination account, shared by all workers
# (Redis token buckets). No platform publishes a Conversions-API rate; these stay well
# under the known quotas (docs/platforms.md: Meta: errors and rate limits; Google Ads: quotas and
# errors; TikTok: reporting). Override with JSON, e.g.
# PLATFORM_RATE_LIMITS='{"meta": [20, 40]}'.
PLATFORM_RATE_LIMITS = {
    "meta": (10.0, 20.0),
    "google_ads": (2.0, 5.0),
    "tiktok": (10.0, 20.0),
    "ga4": (20.0, 40.0),
    **{k: tuple(v) for k, v in json.loads(os.environ.get("PLATFORM_RATE_LIMITS", "{}")).items()},
}

# Usher's own attribution of orders to campaigns: last ad click within this many days.
ATTRIBUTION_CLICK_WINDOW_DAYS = int(os.environ.get("ATTRIBUTION_CLICK_WINDOW_DAYS", "7"))

# Campaign-management calls per platform account, per kind of call: [calls per hour,
# burst], shared by all workers (Redis token buckets; usher/platforms/campaigns_common.py).
# The defaults fit the platforms' smallest tiers (Meta's development tier allows about
# 300 ads_management and 600 ads_insights calls per account-hour; Google's Basic access
# 15,000 operations a day per developer token); docs/campaign-connectors.md says how
# many campaigns they carry. Override per platform and kind with JSON, e.g.
# PLATFORM_MANAGEMENT_RATE_LIMITS='{"meta": {"write": [600, 60]}}'.
PLATFORM_MANAGEMENT_RATE_LIMITS = {
    "meta": {
        "publish": (120.0, 40.0),
        "write": (120.0, 20.0),
        "read": (60.0, 10.0),
        "metrics": (300.0, 30.0),
        "audiences": (1000.0, 50.0),
        "catalog": (60.0, 10.0),
    },
    "google_ads": {
        "publish": (300.0, 50.0),
        "write": (300.0, 30.0),
        "read": (120.0, 10.0),
        "metrics": (120.0, 20.0),
        "audiences": (200.0, 20.0),
        "catalog": (120.0, 20.0),
    },
    "tiktok": {
        "publish": (600.0, 30.0),
        "write": (600.0, 20.0),
        "read": (300.0, 10.0),
        "metrics": (600.0, 10.0),
        "audiences": (600.0, 20.0),
        "catalog": (300.0, 10.0),
    },
}
for _platform, _kinds in json.loads(
    os.environ.get("PLATFORM_MANAGEMENT_RATE_LIMITS", "{}")
).items():
    PLATFORM_MANAGEMENT_RATE_LIMITS.setdefault(_platform, {}).update(
        {kind: tuple(value) for kind, value in _kinds.items()}
    )

# Google Ads operations a day for Usher's developer token, across all accounts (Basic
# access: 15,000; Explorer 2,880; Standard unlimited: set it high).
GOOGLE_ADS_DAILY_OPERATIONS = int(os.environ.get("GOOGLE_ADS_DAILY_OPERATIONS", "15000"))

# Usher-wide credentials some platforms need beside the organizer's own: Google Ads
# calls carry the developer token of the app (and a manager account id, if any), and
# organizers' OAuth refresh tokens are exchanged for access tokens with Usher's OAuth
# client (the one organizers granted access to when they connected Google Ads).
GOOGLE_ADS_CLIENT_ID = os.environ.get(
    "GOOGLE_ADS_CLIENT_ID", "sandbox-client-id.apps.googleusercontent.com"
)
GOOGLE_ADS_CLIENT_SECRET = os.environ.get("GOOGLE_ADS_CLIENT_SECRET", "sandbox-client-secret")
PLATFORM_DESTINATION_SETTINGS = {
    "google_ads": {
        key: value
        for key, value in {
            "developer_token": os.environ.get(
                "GOOGLE_ADS_DEVELOPER_TOKEN", "sandbox-developer-token"
            ),
            "login_customer_id": os.environ.get("GOOGLE_ADS_LOGIN_CUSTOMER_ID", ""),
        }.items()
        if value
    },
}
