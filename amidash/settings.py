"""amidash settings, read from the environment (see the table in README.md)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from amidash.queues import BACKGROUND, task_routes

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0/yes/no/on/off, not {raw!r}")


def whole_number(name: str, raw: str, minimum: int | None = None) -> int:
    """``raw`` as an int of at least ``minimum``; otherwise stop, naming the setting."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return whole_number(name, raw, minimum)


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_counts(name: str, minimum: int = 1) -> dict[str, int]:
    """Comma-separated ``key=count`` pairs (``deregister=2,disable=1``); empty when unset.

    A pair without ``=`` or a key, or a count that is not a whole number of at least
    ``minimum``, stops the process: silently dropping it would leave the default in force.
    """
    counts: dict[str, int] = {}
    for entry in env_list(name, []):
        key, equals, raw = entry.partition("=")
        if not equals or not key.strip():
            raise ImproperlyConfigured(f"{name} must be key=count pairs, not {entry!r}")
        counts[key.strip()] = whole_number(f"{name} ({key.strip()})", raw, minimum)
    return counts


def load_secret_key(data_dir: Path, debug: bool) -> str:
    """SECRET_KEY from the environment; for local use (DEBUG on), one generated once in data_dir."""
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not debug:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def database_url(data_dir: Path, debug: bool) -> str:
    """DATABASE_URL; for local use (DEBUG on), the embedded PostgreSQL under data_dir.

    With DEBUG off a missing DATABASE_URL is an error: a production process must never start a
    database of its own inside the code folder.
    """
    url = env_str("DATABASE_URL")
    if url:
        return url
    if not debug:
        raise ImproperlyConfigured(
            "DATABASE_URL must be set when DEBUG is off (the embedded PostgreSQL is for local "
            "use only, with DEBUG=true)"
        )
    from amidash.embedded_db import embedded_database_url

    return embedded_database_url(data_dir)


def database_config(url: str) -> dict:
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        raise ImproperlyConfigured(f"DATABASE_URL must be a PostgreSQL URL, not {url!r}")
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0))
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid URL: {error}") from None
    config["ENGINE"] = "django.db.backends.postgresql"
    return config


DEBUG = env_bool("DEBUG", False)
DATA_DIR = Path(env_str("AMIDASH_DATA_DIR") or BASE_DIR / ".data").resolve()
SECRET_KEY = load_secret_key(DATA_DIR, DEBUG)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_celery_beat",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "amidash",
    "inventory",
    "lifecycle",
    "policies",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "amidash.sessions.IdleTimeoutMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "amidash.middleware.RoleRequiredMiddleware",
    "amidash.twofactor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy on every answer: scripts, styles and images from our own origin only,
# no inline script or style (templates use static files and classes; htmx is told not to inject
# its indicator style). Pages are never framed. The API documentation widens styles for itself.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

ROOT_URLCONF = "amidash.urls"
WSGI_APPLICATION = "amidash.wsgi.application"

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
                "amidash.context_processors.user_role",
            ],
            "builtins": ["django_htmx.templatetags.django_htmx"],
        },
    },
]

DATABASE_URL = database_url(DATA_DIR, DEBUG)
DATABASES = {"default": database_config(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Rights come from role groups only (amidash/roles.py), never from permissions given to a user.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "amidash.roles.RoleBackend"]

# Sign-in lockout (amidash/signin.py): by user name and by client address, each on its own.
CLIENT_IP_HEADER = env_str("AMIDASH_CLIENT_IP_HEADER")  # e.g. X-Forwarded-For behind a proxy
AXES_FAILURE_LIMIT = env_int("AMIDASH_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AMIDASH_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "amidash.signin.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# The audit log keeps at most this many failed sign-ins per user name or address per lockout
# period, and one lockout: guessing cannot flood it (see lifecycle/receivers.py).
AUDIT_FAILED_SIGNINS_PER_PERIOD = env_int("AMIDASH_AUDIT_FAILED_SIGNINS", 3, minimum=1)
# Two-factor sign-in (amidash/twofactor.py): required of Approvers and superusers outside DEBUG;
# approving or rejecting needs a sign-in or code within REAUTHENTICATE_MINUTES.
REQUIRE_2FA = env_bool("AMIDASH_REQUIRE_2FA", not DEBUG)
REAUTHENTICATE_MINUTES = env_int("AMIDASH_REAUTHENTICATE_MINUTES", 15, minimum=1)
OTP_TOTP_ISSUER = env_str("AMIDASH_TOTP_ISSUER", "amidash")
# OpenID Connect sign-in beside local accounts (amidash/oidc.py), on when a client id is set.
OIDC_ENABLED = bool(env_str("AMIDASH_OIDC_CLIENT_ID"))
OIDC_RP_CLIENT_ID = env_str("AMIDASH_OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("AMIDASH_OIDC_CLIENT_SECRET")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("AMIDASH_OIDC_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("AMIDASH_OIDC_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("AMIDASH_OIDC_USERINFO_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("AMIDASH_OIDC_JWKS_ENDPOINT")
OIDC_RP_SIGN_ALGO = env_str("AMIDASH_OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("AMIDASH_OIDC_SCOPES", "openid email profile groups")
OIDC_ROLE_MAP_RAW = env_str("AMIDASH_OIDC_ROLE_MAP")  # checked when the app is ready
OIDC_USE_PKCE = True
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("amidash.oidc.RoleMappingBackend")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inventory:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# A session ends after this long without a request (amidash/sessions.py pushes the end further).
SESSION_COOKIE_AGE = env_int("AMIDASH_SESSION_IDLE_MINUTES", 8 * 60, minimum=10) * 60

# HTTPS: redirect plain HTTP (off when the proxy redirects itself), trust the proxy's scheme
# header only when named ("X-Forwarded-Proto"), and ask browsers to remember HTTPS (HSTS).
SECURE_SSL_REDIRECT = env_bool("AMIDASH_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes speak plain HTTP to the web process
_PROXY_SSL_HEADER = env_str("AMIDASH_PROXY_SSL_HEADER")
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"),
        env_str("AMIDASH_PROXY_SSL_VALUE", "https"),
    )
SECURE_HSTS_SECONDS = env_int("AMIDASH_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("AMIDASH_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("AMIDASH_HSTS_PRELOAD", not DEBUG)

# Celery: Redis in production; with no CELERY_BROKER_URL a filesystem broker under the data
# folder, so the demo runs a real worker and beat without any server. The transport ignores the
# host; naming one spares kombu's "No hostname was supplied" warning on every connection.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://localhost/"
BROKER_DIR = Path(env_str("AMIDASH_BROKER_DIR") or DATA_DIR / "broker")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Exchange bindings; unset, kombu writes them to ./control in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        # How often a worker looks for new files: kombu's default of a second is paid at every
        # hop (run -> Regions -> the next Regions), which made the demo's first sync slow.
        "polling_interval": env_float("AMIDASH_BROKER_POLLING_SECONDS", 0.1, minimum=0.01),
    }
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queues (amidash/queues.py): lifecycle, sync, background; unrouted tasks go to background.
CELERY_QUEUE_PREFIX = env_str("AMIDASH_QUEUE_PREFIX")
CELERY_TASK_ROUTES = task_routes(CELERY_QUEUE_PREFIX)
CELERY_TASK_DEFAULT_QUEUE = f"{CELERY_QUEUE_PREFIX}{BACKGROUND}"
# Every task has a soft limit (an exception the task handles: a Region fails, an item settles)
# and a hard one (the worker process is killed; the reapers settle what it left). Tasks with
# longer work set their own (see each app's tasks.py).
CELERY_TASK_SOFT_TIME_LIMIT = env_int("AMIDASH_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60

# AWS access
AWS_RETRY_MAX_ATTEMPTS = env_int("AMIDASH_AWS_MAX_ATTEMPTS", 5, minimum=1)
AWS_CONNECT_TIMEOUT = env_float("AMIDASH_AWS_CONNECT_TIMEOUT", 5.0, minimum=0.1)
AWS_READ_TIMEOUT = env_float("AMIDASH_AWS_READ_TIMEOUT", 30.0, minimum=0.1)
SYNC_INTERVAL_MINUTES = env_int("AMIDASH_SYNC_INTERVAL_MINUTES", 60, minimum=1)
STORAGE_PRICE_PER_GB_MONTH = env_float("AMIDASH_STORAGE_PRICE_PER_GB_MONTH", 0.05, minimum=0)
AWS_MAX_POOL_CONNECTIONS = env_int("AMIDASH_AWS_MAX_POOL_CONNECTIONS", 10, minimum=1)
AWS_ROLE_SESSION_SECONDS = env_int("AMIDASH_AWS_ROLE_SESSION_SECONDS", 3600, minimum=900)
# One account+Region's listing and save; past it the Region fails (soft) or the process is
# killed (hard, 60 s later) and the sync reaper fails the Region as "worker lost".
SYNC_REGION_TIME_LIMIT = env_int("AMIDASH_SYNC_REGION_TIME_LIMIT", 1800, minimum=10)
# A running Region whose worker holds no lock on it any more is lost after this grace.
SYNC_REAP_AFTER_SECONDS = env_int("AMIDASH_SYNC_REAP_AFTER_SECONDS", 60, minimum=1)
SYNC_REGIONS = env_list("AMIDASH_SYNC_REGIONS", [])
SYNC_REGIONS_PER_ACCOUNT = env_int("AMIDASH_SYNC_REGIONS_PER_ACCOUNT", 4, minimum=1)
# At most this many Regions' tasks are queued per minute (queue_due_regions): a thousand
# accounts never flood the broker and the workers in one burst. A scheduled run spreads its
# Regions over the sync interval; a run somebody starts is due at once, paced by this budget.
SYNC_REGIONS_PER_MINUTE = env_int("AMIDASH_SYNC_REGIONS_PER_MINUTE", 500, minimum=1)
LAUNCH_PERMISSIONS_MAX_AGE_HOURS = env_int(
    "AMIDASH_LAUNCH_PERMISSIONS_MAX_AGE_HOURS", 24, minimum=1
)
LAUNCH_PERMISSIONS_PER_SECOND = env_float("AMIDASH_LAUNCH_PERMISSIONS_PER_SECOND", 2.0, minimum=0.1)
# AMI usage reports (consumers outside the synced accounts): older than this is "usage unknown".
CONSUMER_REPORT_MAX_AGE_HOURS = env_int("AMIDASH_CONSUMER_REPORT_MAX_AGE_HOURS", 24, minimum=1)
CONSUMER_REPORTS_PER_PASS = env_int("AMIDASH_CONSUMER_REPORTS_PER_PASS", 50, minimum=1)
CONSUMER_REPORTS_PER_SECOND = env_float("AMIDASH_CONSUMER_REPORTS_PER_SECOND", 1.0, minimum=0.1)
# Inspector findings (GetImageFindings) older than this are read again by the same paced pass,
# at LAUNCH_PERMISSIONS_PER_SECOND.
FINDINGS_MAX_AGE_HOURS = env_int("AMIDASH_FINDINGS_MAX_AGE_HOURS", 24, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "inventory-sync": {
        "task": "inventory.tasks.scheduled_sync",
        "schedule": SYNC_INTERVAL_MINUTES * 60.0,
    },
    "inventory-reap": {"task": "inventory.tasks.reap_sync_runs", "schedule": 60.0},
    "inventory-queue-due": {"task": "inventory.tasks.queue_due_regions", "schedule": 30.0},
    "inventory-launch-permissions": {
        "task": "inventory.tasks.refresh_launch_permissions",
        "schedule": 3600.0,
    },
    "inventory-consumer-reports": {
        "task": "inventory.tasks.refresh_consumer_reports",
        "schedule": 900.0,
    },
}

# Audit log: signed digests and the Ed25519 key live outside the database.
AUDIT_DIGEST_DIR = Path(env_str("AMIDASH_AUDIT_DIGEST_DIR") or DATA_DIR / "audit-digests")
AUDIT_SIGNING_KEY_FILE = Path(
    env_str("AMIDASH_AUDIT_SIGNING_KEY_FILE") or DATA_DIR / "audit-signing-key.pem"
)
# The SHA-256 fingerprint the signing key must have (as the Audit page shows it); empty: any key.
AUDIT_KEY_FINGERPRINT = env_str("AMIDASH_AUDIT_KEY_FINGERPRINT").lower()
AUDIT_DIGEST_INTERVAL_MINUTES = env_int("AMIDASH_AUDIT_DIGEST_INTERVAL_MINUTES", 60, minimum=1)
AUDIT_PDF_MAX_EVENTS = env_int("AMIDASH_AUDIT_PDF_MAX_EVENTS", 5000, minimum=1)
# Seconds a worker may take to re-hash the whole log (about 16,000 events a second on 2 cores).
AUDIT_FULL_VERIFICATION_TIME_LIMIT = env_int("AMIDASH_AUDIT_VERIFY_TIME_LIMIT", 14400, minimum=60)
CELERY_BEAT_SCHEDULE["audit-digest"] = {
    "task": "lifecycle.tasks.write_audit_digest",
    "schedule": AUDIT_DIGEST_INTERVAL_MINUTES * 60.0,
}
# Last month's audit report, on the 1st at REPORT_HOUR (UTC): kept in REPORT_DIR with its signed
# manifest and emailed to REPORT_RECIPIENTS (none: no report is made).
REPORT_RECIPIENTS = env_list("AMIDASH_REPORT_RECIPIENTS", [])
REPORT_DIR = Path(env_str("AMIDASH_REPORT_DIR") or DATA_DIR / "reports")
REPORT_HOUR = env_int("AMIDASH_REPORT_HOUR", 6, minimum=0)
if REPORT_HOUR > 23:
    raise ImproperlyConfigured(f"AMIDASH_REPORT_HOUR must be 0 to 23, not {REPORT_HOUR}")
CELERY_BEAT_SCHEDULE["audit-monthly-report"] = {
    "task": "lifecycle.tasks.deliver_monthly_report",
    "schedule": crontab(minute=0, hour=REPORT_HOUR, day_of_month=1),
}
# Who made the changes a sync observed: CloudTrail LookupEvents after each sync (and hourly for
# what was throttled), paced per account+Region below CloudTrail's 2 calls per second.
CLOUDTRAIL_LOOKUPS_PER_SECOND = min(
    env_float("AMIDASH_CLOUDTRAIL_LOOKUPS_PER_SECOND", 1.0, minimum=0.1), 2.0
)
CLOUDTRAIL_LOOKUPS_PER_RUN = env_int("AMIDASH_CLOUDTRAIL_LOOKUPS_PER_RUN", 200, minimum=1)
CELERY_BEAT_SCHEDULE["cloudtrail-lookups"] = {
    "task": "lifecycle.tasks.look_up_cloudtrail",
    "schedule": 3600.0,
}

# Lifecycle requests: approvals per action ("deregister=2,disable=1"; others need 1), expiry,
# mutation pacing per account+Region (tokens per second and burst; below EC2's buckets), the grace
# before the reconciler settles an item left executing, and an optional Slack-compatible webhook.
# The action names are checked against the actions when the lifecycle app is ready.
LIFECYCLE_APPROVALS_REQUIRED = env_counts("AMIDASH_APPROVALS_REQUIRED")
LIFECYCLE_REQUEST_EXPIRY_DAYS = env_int("AMIDASH_REQUEST_EXPIRY_DAYS", 7, minimum=1)
LIFECYCLE_MUTATIONS_PER_SECOND = env_float("AMIDASH_MUTATIONS_PER_SECOND", 4.0, minimum=0.01)
LIFECYCLE_MUTATION_BURST = env_int("AMIDASH_MUTATION_BURST", 10, minimum=1)
LIFECYCLE_THROTTLE_RETRIES = env_int("AMIDASH_THROTTLE_RETRIES", 8, minimum=0)
LIFECYCLE_RECONCILE_AFTER_SECONDS = env_int("AMIDASH_RECONCILE_AFTER_SECONDS", 300, minimum=1)
# A worker holds an item for this long, renewed right before each AWS mutation; never shorter
# than a call may take (connect + read timeouts), so an expired lease means no call is in flight.
LIFECYCLE_LEASE_SECONDS = env_int("AMIDASH_LEASE_SECONDS", 120, minimum=1)
# One execution task (a request, or one account+Region of it); past it the worker is stopped and
# its items' leases expire.
LIFECYCLE_TASK_TIME_LIMIT = env_int("AMIDASH_LIFECYCLE_TASK_TIME_LIMIT", 3600, minimum=10)
LIFECYCLE_WEBHOOK_URL = env_str("AMIDASH_WEBHOOK_URL")
CELERY_BEAT_SCHEDULE["lifecycle-reconcile"] = {
    "task": "lifecycle.tasks.reconcile_requests",
    "schedule": 60.0,
}

# Retention policies: how often enabled policies are evaluated (and propose requests) and the
# plans of disabled ones refreshed (a sync plans only policies that have no plan yet), how old a
# Region's last complete listing may be before its usage counts as unknown, how many plans per
# policy keep their rows, and owner teams' addresses ("team=address,..." for owner tags).
POLICY_EVALUATION_INTERVAL_MINUTES = env_int("AMIDASH_POLICY_INTERVAL_MINUTES", 360, minimum=5)
POLICY_USAGE_MAX_AGE_HOURS = env_int("AMIDASH_POLICY_USAGE_MAX_AGE_HOURS", 48, minimum=1)
POLICY_PLANS_KEPT = env_int("AMIDASH_POLICY_PLANS_KEPT", 5, minimum=2)
POLICY_TEAM_EMAILS = {
    team.strip(): address.strip()
    for team, _, address in (entry.partition("=") for entry in env_list("AMIDASH_TEAM_EMAILS", []))
    if address.strip()
}
CELERY_BEAT_SCHEDULE["policies-evaluate"] = {
    "task": "policies.tasks.evaluate_enabled_policies",
    "schedule": POLICY_EVALUATION_INTERVAL_MINUTES * 60.0,
}
CELERY_BEAT_SCHEDULE["policies-refresh"] = {
    "task": "policies.tasks.refresh_plans",
    "schedule": POLICY_EVALUATION_INTERVAL_MINUTES * 60.0,
    "kwargs": {"disabled_only": True},
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND") or "django.core.mail.backends.console.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
# A stalled mail server fails the notification task after this long (it is retried).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "amidash@localhost"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "werkzeug": {"level": "WARNING"},
    },
}

# The cache holds the API's rate-limit counters: shared by every process through Redis when
# AMIDASH_CACHE_URL is set, per process otherwise.
CACHE_URL = env_str("AMIDASH_CACHE_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# The JSON API (api/): bearer tokens only, problem responses, a rate limit per token.
API_RATE_LIMIT = env_str("AMIDASH_API_RATE_LIMIT", "600/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.permissions.TokenHasScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "amidash API",
    "DESCRIPTION": "Images, accounts, syncs, lifecycle requests, policies and the audit log.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Requests and their items both have a "status": each set gets its own name.
    "ENUM_NAME_OVERRIDES": {
        "RequestStatusEnum": "lifecycle.choices.RequestStatus",
        "RequestItemStatusEnum": "lifecycle.choices.ItemStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_problem_responses",
    ],
}
