"""Django settings. Environment variables:

- ``DATABASE_URL``: the application role's PostgreSQL URL; unset means the embedded server
  under ./var/. ``DATABASE_OWNER_URL``: the table owner's, for migrations (backend.database).
- ``TIPGRAPH_DEBUG=1``: development mode (GraphiQL on, demo helpers on). Off by default.
- ``TIPGRAPH_SECRET_KEY``: required outside development; in development a key is kept in ./var.
- ``TIPGRAPH_ALLOWED_HOSTS``: comma-separated host names (default: localhost names).
- ``DATABASE_REPLICA_URL``: a read replica for statistics (backend.replicas).
  ``TIPGRAPH_DB_POOL_MAX`` (and ``..._MIN``, ``..._TIMEOUT``): a bounded connection pool per
  process, for the ASGI server (backend.database).
- ``TIPGRAPH_STATIC_ROOT``: where collectstatic puts the static files (default ./var/static);
  ``TIPGRAPH_TRUST_X_FORWARDED_PROTO=1``, ``TIPGRAPH_CSRF_TRUSTED_ORIGINS``: behind a TLS
  terminating load balancer (docs/deployment.md).
- ``TIPGRAPH_LOGIN_FAILURE_LIMIT``: failed sign-ins (within 30 minutes) that lock an account
  and, separately, the address they came from (default 5).
- ``TIPGRAPH_LINK_MAX_TIPS``: how many tips one identifier may link before it is marked too
  common and links no more (default 50).
- ``TIPGRAPH_LINK_IP_WINDOW_HOURS``: two tips sharing an IP address link only when they saw it
  within this many hours of each other (default 24).
- ``TIPGRAPH_DISCLOSURE_REOPEN_DAYS``: how long a partner-agency investigator may reopen what a
  traveller lookup of theirs returned before they must look it up again (default 30 days).
- ``TIPGRAPH_RETENTION_<CATEGORY>_DAYS``: the agency's retention period of a record category
  (``backend.retention``; the categories and defaults are in docs/retention.md).
  ``DATABASE_DISPOSAL_URL``: the disposal worker's role (backend.disposal_database);
  ``TIPGRAPH_DISPOSAL_SECOND_APPROVER=0``: the requester of a disposal run may approve it.
- ``TIPGRAPH_STATS_MIN_GROUP``: statistics groups smaller than this are suppressed for reporting
  clients (default 10); ``TIPGRAPH_STATS_MAX_ROWS``: most rows one statistics query returns
  (default 5000); ``TIPGRAPH_STATS_TIME_ZONE``: the IANA time zone whose whole days the
  statistics windows of those clients are aligned to (default UTC).
- ``TIPGRAPH_REDIS_URL``: carry live alerts (GraphQL subscriptions) between server processes
  over Redis (channels-redis) instead of PostgreSQL LISTEN/NOTIFY, the default;
  ``TIPGRAPH_CHANNEL_LAYER_URL``: the PostgreSQL the default layer listens on, when Django's
  own connections go through PgBouncer in transaction mode (docs/subscriptions.md).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from backend.database import (
    CONNECTION_KEYS,
    database_settings,
    owner_settings,
    replica_settings,
)
from backend.disposal_database import disposal_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = os.environ.get("TIPGRAPH_DEBUG", "") in {"1", "true", "yes"}


def _secret_key() -> str:
    """``TIPGRAPH_SECRET_KEY``; in development only (``TIPGRAPH_DEBUG=1``), a key kept in ./var.

    Outside development a missing key is refused: a key written to a local file would differ
    between the nodes behind a load balancer (sessions and CSRF tokens would not survive a
    change of node) and would be lost with the node.
    """
    if key := os.environ.get("TIPGRAPH_SECRET_KEY", "").strip():
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "TIPGRAPH_SECRET_KEY is not set. In production set it to a long random value, the "
            "same on every node (for example the output of: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'), kept in your secret store; for development "
            "set TIPGRAPH_DEBUG=1 instead, which keeps a key in ./var/secret_key "
            "(docs/deployment.md)."
        )
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("TIPGRAPH_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(
        ","
    )
    if h.strip()
]

INSTALLED_APPS = [
    # The admin site is ours: open to system administrators and program managers only.
    "backend.apps.TipGraphAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "strawberry_django",
    "backend.apps.BackendConfig",
    "backend.dashboard.apps.DashboardConfig",
    "permissions.apps.PermissionsConfig",
    "audit.apps.AuditConfig",
    "axes",
    # The task queue (PostgreSQL, no broker): import jobs and disposal runs (backend.tasks).
    "procrastinate.contrib.django",
]

MIDDLEWARE = [
    # First: /healthz and /readyz answer before the host check, sessions, authentication and
    # audit (a load balancer's probe names no host of ours and is no user).
    "backend.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves STATIC_ROOT (filled by collectstatic) in production: no CDN, no web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "permissions.authentication.BearerTokenMiddleware",
    "audit.middleware.AdminAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a lockout into the "locked" response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses any sign-in of a locked-out username or address before a password is tried.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Grants the admin-site permissions of system administrators and program managers by role.
    "permissions.admin_access.RoleAdminBackend",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
ASGI_APPLICATION = "backend.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backend" / "templates"],
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

DATABASES = {"default": database_settings(BASE_DIR)}
# Hot read statements run prepared (backend.prepared): off for a pooler that cannot keep
# prepared statements (PgBouncer before 1.21 in transaction mode).
DATABASE_PREPARED_STATEMENTS = os.environ.get("TIPGRAPH_DB_PREPARED_STATEMENTS", "1") != "0"
if DATABASE_PREPARED_STATEMENTS:
    # Django turns psycopg's prepared statements off (prepare_threshold None); this turns them
    # on for the statements that ask (prepare=True), and for nothing else.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
# DATABASE_REPLICA_URL: a streaming replica (hot standby) of the same database, as the
# application role. Only statistics read from it, and only through
# backend.replicas.reading_from_replica(); writes, the audit log and everything else stay on
# "default" (backend.replicas.ReplicaRouter).
if _replica := replica_settings(DATABASES["default"]):
    DATABASES["replica"] = _replica
DATABASE_ROUTERS = ["backend.replicas.ReplicaRouter"]
#: Who connects to that database (backend.database): the application role, as which every
#: process runs, and the owner, as which migrate runs. Kept apart from DATABASES["default"],
#: whose credentials migrate swaps for the owner's while it runs.
DATABASE_APPLICATION = {key: DATABASES["default"][key] for key in CONNECTION_KEYS}
DATABASE_OWNER = owner_settings(BASE_DIR)
# The disposal worker's connection, as the one role that may delete notes and history and
# redact the audit log during an approved run (backend.disposal_database;
# DATABASE_DISPOSAL_URL, else the same server as tipgraph_disposal).
DATABASES["disposal"] = disposal_settings(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "backend.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# The browser libraries of the dashboard and of GraphiQL (development only) come from npm
# (package.json, installed by `make` with `npm ci`) and are served from node_modules under
# these prefixes: no CDN, no bundler. GraphiQL's browser (UMD) build runs on React 18's UMD
# builds, hence react/umd and react-dom/umd (React 19 has none). The development server
# (`make demo`) and the tests' live server serve them through django.contrib.staticfiles; in
# production run `manage.py collectstatic` into STATIC_ROOT and let the web server serve
# that folder.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    ("vendor/cytoscape", NODE_MODULES / "cytoscape" / "dist"),
    ("vendor/chart.js", NODE_MODULES / "chart.js" / "dist"),
    ("vendor/graphiql", NODE_MODULES / "graphiql" / "dist"),
    ("vendor/react", NODE_MODULES / "react" / "umd"),
    ("vendor/react-dom", NODE_MODULES / "react-dom" / "umd"),
]
STATIC_ROOT = Path(os.environ.get("TIPGRAPH_STATIC_ROOT", str(VAR_DIR / "static")))
# WhiteNoise serves STATIC_ROOT, gzip- and Brotli-compressed by collectstatic (`make serve`
# runs it). Names are not hashed: the tests and the development server render pages without
# a collectstatic run, which a manifest would require.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/graphql"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 60 * 60
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# Behind a load balancer that terminates TLS (docs/deployment.md): trust its
# X-Forwarded-Proto header (only when the application nodes are reachable through it alone),
# and name the browser-facing origins, e.g. https://tips.example.gov.
if os.environ.get("TIPGRAPH_TRUST_X_FORWARDED_PROTO", "") in {"1", "true", "yes"}:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("TIPGRAPH_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

STRAWBERRY_DJANGO = {
    "FIELD_DESCRIPTION_FROM_HELP_TEXT": True,
    "TYPE_DESCRIPTION_FROM_MODEL_DOCSTRING": True,
    "MAP_AUTO_ID_AS_GLOBAL_ID": True,
    "PAGINATION_DEFAULT_LIMIT": 100,
    "PAGINATION_MAX_LIMIT": 100,
}

# GraphQL limits: a dashboard query (tips -> identifiers -> tips ...) stays well inside them.
GRAPHQL_MAX_DEPTH = int(os.environ.get("TIPGRAPH_GRAPHQL_MAX_DEPTH", "15"))
GRAPHQL_MAX_ALIASES = int(os.environ.get("TIPGRAPH_GRAPHQL_MAX_ALIASES", "30"))
GRAPHQL_MAX_TOKENS = int(os.environ.get("TIPGRAPH_GRAPHQL_MAX_TOKENS", "3000"))
GRAPHQL_MAX_RESULTS = 100
GRAPHQL_MAX_BATCH = int(os.environ.get("TIPGRAPH_GRAPHQL_MAX_BATCH", "10"))
# Checked before an operation runs (schema.limits): its estimated cost (how many objects the
# answer may hold: page sizes multiplied along nested lists), and the size of every string
# and list in its arguments and variables.
GRAPHQL_MAX_COST = int(os.environ.get("TIPGRAPH_GRAPHQL_MAX_COST", "50000"))
GRAPHQL_MAX_STRING_LENGTH = int(os.environ.get("TIPGRAPH_GRAPHQL_MAX_STRING_LENGTH", "100000"))
GRAPHQL_MAX_LIST_LENGTH = int(os.environ.get("TIPGRAPH_GRAPHQL_MAX_LIST_LENGTH", "1000"))
# Trusted documents (schema.trusted_documents): the committed folder `manage.py
# load_documents` loads, and how many other documents' parses each process keeps
# (schema.document_cache, least recently used first out; registered ones are always kept).
GRAPHQL_DOCUMENTS_DIR = BASE_DIR / "schema" / "documents"
GRAPHQL_DOCUMENT_CACHE_SIZE = int(os.environ.get("TIPGRAPH_GRAPHQL_DOCUMENT_CACHE_SIZE", "256"))

# Traveller lookups (backend.services.lookups): a name matches a person's name or alias when
# their pg_trgm similarity is at least LOOKUP_NAME_THRESHOLD (with the exact date of birth); a
# lookup matching more than LOOKUP_MAX_TIPS tips is refused as too broad.
LOOKUP_NAME_THRESHOLD = float(os.environ.get("TIPGRAPH_LOOKUP_NAME_THRESHOLD", "0.45"))
LOOKUP_MAX_TIPS = int(os.environ.get("TIPGRAPH_LOOKUP_MAX_TIPS", "200"))
# Passenger-list screening (backend.services.screening): at most SCREENING_MAX_TRAVELLERS
# travellers per list, each looked up as a traveller lookup. What one screening answers over
# all its travellers together is bounded as well (the cost limit, schema.limits, counts on
# it): SCREENING_MAX_MATCHES matches (and as many people, and identifiers), SCREENING_MAX_TIPS
# tips, SCREENING_MAX_MATCH_TIPS tips listed under the matches. Past these, the travellers
# matching most are left out, each with an error saying to look them up one at a time.
SCREENING_MAX_TRAVELLERS = int(os.environ.get("TIPGRAPH_SCREENING_MAX_TRAVELLERS", "500"))
SCREENING_MAX_MATCHES = int(os.environ.get("TIPGRAPH_SCREENING_MAX_MATCHES", "1000"))
SCREENING_MAX_TIPS = int(os.environ.get("TIPGRAPH_SCREENING_MAX_TIPS", "2000"))
SCREENING_MAX_MATCH_TIPS = int(os.environ.get("TIPGRAPH_SCREENING_MAX_MATCH_TIPS", "5000"))
# A partner-agency investigator may reopen what a lookup of theirs returned for this many days
# (permissions.scoping), then must look the traveller up again.
DISCLOSURE_REOPEN_DAYS = float(os.environ.get("TIPGRAPH_DISCLOSURE_REOPEN_DAYS", "30"))

# Statistics (backend.services.statistics): groups smaller than this are suppressed for callers
# who may not read the records themselves (reporting clients), so no person can be singled out.
STATS_MIN_GROUP_SIZE = int(os.environ.get("TIPGRAPH_STATS_MIN_GROUP", "10"))
STATS_MAX_ROWS = int(os.environ.get("TIPGRAPH_STATS_MAX_ROWS", "5000"))
# For those callers every window is put on one grid (backend.services.statistics.align_window):
# whole days (or whole periods of the series) in this IANA time zone, ending at its last
# midnight, so that subtracting two queries gives nothing finer than a day.
STATS_REPORTING_TIME_ZONE = os.environ.get("TIPGRAPH_STATS_TIME_ZONE", "UTC")

# Linking (backend.services.linking): the over-linking cap per identifier, and the window
# within which two sightings of one IP address link their tips (addresses are reassigned).
LINK_MAX_TIPS_PER_IDENTIFIER = int(os.environ.get("TIPGRAPH_LINK_MAX_TIPS", "50"))
LINK_IP_WINDOW_HOURS = int(os.environ.get("TIPGRAPH_LINK_IP_WINDOW_HOURS", "24"))

# Bulk intake (backend.intake): files up to INTAKE_MAX_BYTES and INTAKE_MAX_ROWS rows; files
# up to INTAKE_INLINE_MAX_BYTES are imported during the request, larger ones (or on request)
# by the background worker (manage.py run_import_worker), which stores them under MEDIA_ROOT.
# Uploads above FILE_UPLOAD_MAX_MEMORY_SIZE stream to a temporary file, never into memory.
INTAKE_MAX_BYTES = int(os.environ.get("TIPGRAPH_INTAKE_MAX_BYTES", str(250 * 1024 * 1024)))
INTAKE_INLINE_MAX_BYTES = int(
    os.environ.get("TIPGRAPH_INTAKE_INLINE_MAX_BYTES", str(2 * 1024 * 1024))
)
INTAKE_MAX_ROWS = int(os.environ.get("TIPGRAPH_INTAKE_MAX_ROWS", "1000000"))
INTAKE_BATCH_SIZE = int(os.environ.get("TIPGRAPH_INTAKE_BATCH_SIZE", "1000"))
INTAKE_MAX_REPORTED_ERRORS = 1000
MEDIA_ROOT = Path(os.environ.get("TIPGRAPH_MEDIA_ROOT", str(VAR_DIR / "uploads")))
MEDIA_URL = "/media/"  # never served: uploads are read by the worker only
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Non-file form fields (the GraphQL operations and map of a multipart upload) stay small.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# API tokens expire after this many days unless a shorter expiry is asked for.
API_TOKEN_MAX_DAYS = 90


# Retention (backend.retention): the agency's period, in days, of each record category of the
# schedule (NARA N1-567-10-014 gives none in the PIA), from TIPGRAPH_RETENTION_<CATEGORY>_DAYS
# (for example TIPGRAPH_RETENTION_LOOKUPS_WITHOUT_HITS_DAYS=30); a category not named keeps its
# documented default (docs/retention.md). A name that is no category fails the system check.
def _retention_days(prefix: str = "TIPGRAPH_RETENTION_", suffix: str = "_DAYS") -> dict[str, int]:
    found: dict[str, int] = {}
    for name, value in os.environ.items():
        if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix + suffix):
            try:
                found[name[len(prefix) : -len(suffix)]] = int(value)
            except ValueError:
                raise ImproperlyConfigured(
                    f"{name} must be a whole number of days, got {value!r}"
                ) from None
    return found


RETENTION_DAYS: dict[str, int] = _retention_days()
# Disposal runs (backend.services.disposal): a second program manager approves a run unless
# TIPGRAPH_DISPOSAL_SECOND_APPROVER=0 (an agency with one); the worker disposes of at most
# DISPOSAL_BATCH_SIZE rows per transaction; TIPGRAPH_DISPOSAL_NIGHTLY=0 stops the nightly
# preparation of a run for review (backend.tasks).
DISPOSAL_SECOND_APPROVER = os.environ.get("TIPGRAPH_DISPOSAL_SECOND_APPROVER", "1") != "0"
DISPOSAL_BATCH_SIZE = int(os.environ.get("TIPGRAPH_DISPOSAL_BATCH_SIZE", "500"))
DISPOSAL_NIGHTLY = os.environ.get("TIPGRAPH_DISPOSAL_NIGHTLY", "1") != "0"
# The task queue (procrastinate): tasks are in backend/tasks.py; finished jobs (ids only) are
# deleted by a periodic task after PROCRASTINATE_KEEP_JOBS_HOURS.
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "tasks"
PROCRASTINATE_KEEP_JOBS_HOURS = int(os.environ.get("TIPGRAPH_QUEUE_KEEP_JOBS_HOURS", "168"))

# Access lifecycle (permissions.lifecycle, permissions.review): annual privacy and security
# training lapses after ANNUAL_TRAINING_DAYS; privileges are due for review every
# PRIVILEGE_REVIEW_DAYS; an account unused for IDLE_ACCOUNT_DAYS is reported as idle.
ANNUAL_TRAINING_DAYS = 365
PRIVILEGE_REVIEW_DAYS = 180
IDLE_ACCOUNT_DAYS = 90

# Sign-in lockout (django-axes). AXES_FAILURE_LIMIT failures within AXES_COOLOFF_TIME lock the
# username (from any address) and, separately, the client address (for any username); the lock
# lifts after AXES_COOLOFF_TIME, or sooner when an administrator deletes the access attempt in
# the admin. A successful sign-in clears only that username's failures from that address
# (permissions.authentication.SignInLockoutHandler): never the address's failures for other
# usernames, so spraying guesses and signing in once between rounds does not reset the
# address lock. Bearer tokens of a locked-out username are refused too
# (permissions.authentication). The client address is REMOTE_ADDR; behind a
# reverse proxy, set AXES_CLIENT_IP_CALLABLE so that it is the real client's address.
AXES_FAILURE_LIMIT = int(os.environ.get("TIPGRAPH_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_USE_ATTEMPT_EXPIRATION = True
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "permissions.authentication.SignInLockoutHandler"
# Keep every failed sign-in (lockouts flagged) for the admin, not only the live counters.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_COOLOFF_MESSAGE = (
    "Account locked: too many failed sign-ins. Try again in "
    f"{AXES_COOLOFF_TIME.seconds // 60} minutes, or ask a system administrator to unlock it."
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# Live alerts (GraphQL subscriptions over graphql-transport-ws, ``schema.subscriptions``): the
# channel layer that carries them between server processes (docs/subscriptions.md).
if _redis_url := os.environ.get("TIPGRAPH_REDIS_URL", "").strip():
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_redis_url], "prefix": "tipgraph"},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "backend.channel_layer.PostgresNotifyLayer",
            "CONFIG": {"url": os.environ.get("TIPGRAPH_CHANNEL_LAYER_URL", "").strip() or None},
        }
    }
