"""Satchel's configuration: one frozen object, built once from the environment.

Every setting has an environment variable, declared once with its default and help in
:data:`DECLARED`; a secret can also come from a file named by ``<NAME>_FILE`` (Docker/Kubernetes
secrets), which wins over the plain variable.
Nothing else in the code base reads the environment: the app factory passes the values it needs
down explicitly.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from wallet.accounts.tokens import ServiceKeys
from wallet.errors import BadInput

__all__ = ["DECLARED", "MIN_PRODUCTION_KDF_MIB", "Setting", "Settings", "SettingsError"]

#: The Argon2id memory floor for any deployment that did not explicitly opt into test costs.
MIN_PRODUCTION_KDF_MIB = 64


class SettingsError(BadInput):
    """A setting is missing, malformed or unsafe; raised at start-up, never at request time."""

    code = "invalid_settings"


class Setting(NamedTuple):
    """One environment variable: its name, its default and what it means, declared once here.

    ``satchel --help`` prints these, :meth:`Settings.from_env` takes its defaults from them, and a
    test holds the README configuration table to them. ``default`` is the value used when the
    variable is unset; ``<data>``, ``<host>`` and ``<port>`` in it stand for the data folder and
    the listening address. ``shown`` replaces it in the help where the default is not a value (a
    generated key, another setting).
    """

    name: str
    default: str
    help: str
    secret: bool = False  # may also come from a file named by NAME_FILE
    shown: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}[_FILE]" if self.secret else self.name

    @property
    def documented_default(self) -> str:
        return self.shown if self.shown is not None else self.default


DATA_DIR = Setting("SATCHEL_DATA_DIR", "./satchel-data",
                   "folder for the embedded stores, keys and keyring")
PUBLIC_URL = Setting("SATCHEL_PUBLIC_URL", "http://<host>:<port>",
                     "base URL used in inbox and share links")
VAULT_URI = Setting("SATCHEL_VAULT_URI", "sqlite://<data>/vault.db",
                    "Askar vault store (sqlite:// or postgres://)")
DATABASE_URL = Setting("SATCHEL_DATABASE_URL", "sqlite+aiosqlite:///<data>/satchel.db",
                       "SQLAlchemy URL for accounts, sessions, rate limits and the ledger "
                       "(postgresql+asyncpg://)")
KEYRING_URI = Setting("SATCHEL_KEYRING_URI", "<data>/keyring",
                      "where per-learner erasure keys live: a folder, or a separate Askar store "
                      "(sqlite://, postgres://) that is NOT one of the databases above")
STORE_KEY = Setting("SATCHEL_STORE_KEY", "", "raw Askar store key (required when the vault is "
                    "not embedded)", secret=True, shown="generated into <data>/store.key")
KEYRING_KEY = Setting("SATCHEL_KEYRING_KEY", "", "raw key of an Askar keyring store",
                      secret=True, shown="generated into <data>/keyring-store/store.key")
SESSION_KEY = Setting("SATCHEL_SESSION_KEY", "", "32-byte base64url service key: signs access "
                      "tokens and seals the vault key inside them; every replica needs the same "
                      "one", secret=True, shown="generated into <data>/session.key")
DATA_KEY = Setting("SATCHEL_DATA_KEY", "", "long-lived secret for the username pepper and the "
                   "consent-ledger keys; set it at scale so that SATCHEL_SESSION_KEY can be "
                   "rotated (rotating the session key then only logs everyone out)",
                   secret=True, shown="the session key")
DEPLOYMENT_ID = Setting("SATCHEL_DEPLOYMENT_ID", "", "the deployment's identity, the issuer of "
                        "its access tokens: the same on every replica whatever URL each is "
                        "reached under", shown="derived from SATCHEL_DATA_KEY (or the session key)")
FETCH_ALLOW_HOSTS = Setting("SATCHEL_FETCH_ALLOW_HOSTS", "", "comma-separated hosts exempt "
                            "from the private-address block (tests, private deployments); TLS "
                            "stays on")
EXTRA_CA_FILE = Setting("SATCHEL_EXTRA_CA_FILE", "", "PEM file of extra trust anchors for "
                        "outgoing TLS and, by default, for x5c chains")
X5C_ANCHORS_FILE = Setting("SATCHEL_X5C_ANCHORS_FILE", "", "PEM file of the anchors x5c chains "
                           "in signed objects must lead to (issuers' credential keys, verifiers' "
                           "request objects); 'none': no x5c anchors (set it when the extra CA "
                           "is for TLS only)", shown="SATCHEL_EXTRA_CA_FILE")
TRUST_LIST = Setting("SATCHEL_TRUST_LIST", "", "JSON file of trusted issuers and verifiers "
                     "(see README)")
ACCEPT_LEGACY_SD_JWT_VC = Setting("SATCHEL_ACCEPT_LEGACY_SD_JWT_VC", "0", "1: also accept "
                                  "SD-JWT VCs with the legacy typ vc+sd-jwt (stored with format "
                                  "vc+sd-jwt); 0: only dc+sd-jwt")
TOKEN_TTL = Setting("SATCHEL_TOKEN_TTL", "900", "access token lifetime in seconds")
KDF_MEMLIMIT_MIB = Setting("SATCHEL_KDF_MEMLIMIT_MIB", "64", "Argon2id memory per unlock (MiB); "
                           "never below 64 unless SATCHEL_ALLOW_WEAK_KDF=1 (test suites only)")
ALLOW_WEAK_KDF = Setting("SATCHEL_ALLOW_WEAK_KDF", "0", "1: allow an Argon2id memory below 64 "
                         "MiB (test suites only)")
KDF_OPSLIMIT = Setting("SATCHEL_KDF_OPSLIMIT", "3", "Argon2id passes")
MAX_CONCURRENT_UNLOCKS = Setting("SATCHEL_MAX_CONCURRENT_UNLOCKS", "2",
                                 "Argon2id derivations running at once (memory bound)")
UNLOCK_LIMIT = Setting("SATCHEL_UNLOCK_LIMIT", "10/300", "attempts at a learner's passphrase "
                       "from one client address (count/seconds); past it that address waits the "
                       "window, then twice as long after each further failure (up to a day); an "
                       "address gets three times as many across accounts")
UNLOCK_ACCOUNT_LIMIT = Setting("SATCHEL_UNLOCK_ACCOUNT_LIMIT", "100/300", "attempts at one "
                               "learner's passphrase from all addresses together (count/seconds): "
                               "only a storm from many addresses meets it; recovery codes have a "
                               "budget of their own, so the way back in stays open")
MAX_BODY_BYTES = Setting("SATCHEL_MAX_BODY_BYTES", "1048576", "largest request body accepted")
MAX_PDF_BYTES = Setting("SATCHEL_MAX_PDF_BYTES", "10485760", "largest PDF accepted by POST "
                        "/v1/credentials (application/pdf; its own limit, since signed PDFs "
                        "outgrow JSON bodies)")
FETCH_TIMEOUT = Setting("SATCHEL_FETCH_TIMEOUT", "10", "seconds an outgoing request (issuer, "
                        "status list) may take")
INBOX_LINK_LIMIT = Setting("SATCHEL_INBOX_LINK_LIMIT", "60/3600",
                           "pushes stored per inbox link: count/seconds")
INBOX_CLIENT_LIMIT = Setting("SATCHEL_INBOX_CLIENT_LIMIT", "120/60",
                             "pushes accepted per client address: count/seconds")
INBOX_TTL = Setting("SATCHEL_INBOX_TTL", "2592000", "seconds after which an unaccepted inbox item "
                    "or pending offer expires (30 days; hidden, refused with 410, then purged)")
TRUST_FORWARDED = Setting("SATCHEL_TRUST_FORWARDED", "0", "1: take the client address for rate "
                          "limits from the last X-Forwarded-For hop (only behind your own reverse "
                          "proxy)")
ACCESS_LOG = Setting("SATCHEL_ACCESS_LOG", "errors", "access lines: errors (4xx/5xx and requests "
                     "over 1 s; data minimisation), all, or off; /metrics counts every request "
                     "regardless")
LOG_LEVEL = Setting("SATCHEL_LOG_LEVEL", "INFO",
                    "log level (logs are JSON lines; never secrets or claims)")
SIGNUP_SWEEP_GRACE = Setting("SATCHEL_SIGNUP_SWEEP_GRACE", "3600", "seconds a sign-up may take "
                             "before the orphan sweep (at start-up, then every that many seconds, "
                             "and `satchel sweep`) removes the erasure key and vault profile it "
                             "left without an account")
MAX_IN_FLIGHT = Setting("SATCHEL_MAX_IN_FLIGHT", "16", "requests a replica runs at once "
                        "(admission control; /healthz, /readyz and /metrics excepted)")
MAX_QUEUED = Setting("SATCHEL_MAX_QUEUED", "16", "requests that may wait for one of those "
                     "slots; beyond them a request is answered 503 overloaded with Retry-After "
                     "at once")
SHUTDOWN_DRAIN = Setting("SATCHEL_SHUTDOWN_DRAIN", "5", "seconds `satchel serve` keeps serving "
                         "after SIGTERM with /readyz already unready, so a load balancer stops "
                         "sending before the listener closes (0-600)")
SHUTDOWN_TIMEOUT = Setting("SATCHEL_SHUTDOWN_TIMEOUT", "30", "seconds requests in flight may take "
                           "to finish once the listener is closed (0.05-600)")

#: Every setting, in the order ``satchel --help`` lists them.
DECLARED: tuple[Setting, ...] = (
    DATA_DIR, PUBLIC_URL, VAULT_URI, DATABASE_URL, KEYRING_URI, STORE_KEY, KEYRING_KEY,
    SESSION_KEY, DATA_KEY, DEPLOYMENT_ID, FETCH_ALLOW_HOSTS, EXTRA_CA_FILE, X5C_ANCHORS_FILE,
    TRUST_LIST, ACCEPT_LEGACY_SD_JWT_VC, TOKEN_TTL, KDF_MEMLIMIT_MIB, ALLOW_WEAK_KDF, KDF_OPSLIMIT,
    MAX_CONCURRENT_UNLOCKS, UNLOCK_LIMIT, UNLOCK_ACCOUNT_LIMIT, MAX_BODY_BYTES, MAX_PDF_BYTES,
    FETCH_TIMEOUT, INBOX_LINK_LIMIT, INBOX_CLIENT_LIMIT, INBOX_TTL, TRUST_FORWARDED, ACCESS_LOG,
    LOG_LEVEL, SIGNUP_SWEEP_GRACE, MAX_IN_FLIGHT, MAX_QUEUED, SHUTDOWN_DRAIN, SHUTDOWN_TIMEOUT,
)


def _raw(env: Mapping[str, str], setting: Setting) -> str:
    """The variable's text, or its declared default when it is unset or empty."""
    return env.get(setting.name) or setting.default


def _read_secret(env: Mapping[str, str], setting: Setting) -> str | None:
    path = env.get(f"{setting.name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"cannot read {setting.name}_FILE") from exc
    value = env.get(setting.name)
    return value.strip() if value else None


def _int(env: Mapping[str, str], setting: Setting, *, minimum: int = 0) -> int:
    try:
        value = int(_raw(env, setting))
    except ValueError as exc:
        raise SettingsError(f"{setting.name} must be an integer") from exc
    if value < minimum:
        raise SettingsError(f"{setting.name} must be at least {minimum}")
    return value


def _choice(env: Mapping[str, str], setting: Setting, allowed: tuple[str, ...]) -> str:
    value = _raw(env, setting).strip().lower()
    if value not in allowed:
        raise SettingsError(f"{setting.name} must be one of: {', '.join(allowed)}")
    return value


def _flag(env: Mapping[str, str], setting: Setting) -> bool:
    raw = _raw(env, setting).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{setting.name} must be 1 or 0")


def _rate(env: Mapping[str, str], setting: Setting) -> tuple[int, int]:
    try:
        count, seconds = (int(p) for p in _raw(env, setting).split("/", 1))
    except ValueError as exc:
        raise SettingsError(f"{setting.name} must look like 10/300 (count/seconds)") from exc
    if count < 1 or seconds < 1:
        raise SettingsError(f"{setting.name} must be positive")
    return count, seconds


def _seconds(env: Mapping[str, str], setting: Setting, *, minimum: float = 0.05) -> float:
    try:
        value = float(_raw(env, setting))
    except ValueError as exc:
        raise SettingsError(f"{setting.name} must be a number of seconds") from exc
    if not minimum <= value <= 600:
        raise SettingsError(f"{setting.name} must be between {minimum:g} and 600 seconds")
    return value


def _path(env: Mapping[str, str], setting: Setting) -> Path | None:
    raw = _raw(env, setting)
    return Path(raw) if raw else None


def _secret_file(path: Path, make: str) -> str:
    """Read a generated secret, creating it (mode 0600) on first run of the embedded default."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(make)
    return make


_DEPLOYMENT_ID = re.compile(r"[!-~]{1,200}")


def _check_shared(env: Mapping[str, str], vault_uri: str, database_url: str, keyring_uri: str,
                  session_key: str, data_key: str | None) -> None:
    """What every replica needs, checked before anything starts (never per request)."""
    for name, value in (("SATCHEL_SESSION_KEY", session_key), ("SATCHEL_DATA_KEY", data_key)):
        if value is not None:
            try:
                ServiceKeys.from_secret(value)
            except BadInput as exc:
                raise SettingsError(f"{name} must hold at least 32 bytes "
                                    "(`satchel keygen` makes one)") from exc
    if keyring_uri.startswith("postgres://") and _read_secret(env, KEYRING_KEY) is None:
        raise SettingsError("SATCHEL_KEYRING_KEY (or _FILE) is required for a PostgreSQL keyring")
    if not vault_uri.startswith("sqlite:") and database_url.startswith("sqlite"):
        raise SettingsError("SATCHEL_DATABASE_URL must name the shared database "
                            "(postgresql+asyncpg://) when the vault is not embedded")


def _deployment_id(env: Mapping[str, str]) -> str | None:
    value = _raw(env, DEPLOYMENT_ID).strip()
    if value and not _DEPLOYMENT_ID.fullmatch(value):
        raise SettingsError("SATCHEL_DEPLOYMENT_ID must be 1-200 printable characters "
                            "without spaces")
    return value or None


def _x5c_anchors(env: Mapping[str, str]) -> Path | None:
    """The anchors ``x5c`` chains must lead to. The HTTP contract makes ``SATCHEL_EXTRA_CA_FILE``
    serve TLS *and* ``x5c``; ``SATCHEL_X5C_ANCHORS_FILE`` overrides it for ``x5c`` alone, and
    ``none`` keeps a TLS-only CA from anchoring anything it signs (a private CA's server
    certificates)."""
    x5c = _raw(env, X5C_ANCHORS_FILE)
    if x5c.strip().lower() == "none":
        return None
    return Path(x5c) if x5c else _path(env, EXTRA_CA_FILE)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Satchel needs to start. Build with :meth:`from_env` (defaults: :data:`DECLARED`)."""

    data_dir: Path
    public_url: str
    vault_uri: str
    database_url: str
    keyring_uri: str
    store_key: str | None  # None: generate/read <data>/store.key (embedded vault only)
    keyring_key: str | None
    session_key: str
    data_key: str | None  # long-lived pepper + ledger key, so the session key can rotate
    deployment_id: str | None  # None: derived from the data key (ServiceKeys)
    fetch_allow_hosts: frozenset[str]
    extra_ca_file: Path | None  # outgoing TLS (and x5c, unless x5c_anchors_file says)
    x5c_anchors_file: Path | None  # x5c chains of credentials and request objects
    trust_list: Path | None
    accept_legacy_sd_jwt_vc: bool  # typ vc+sd-jwt too
    token_ttl: int
    kdf_memlimit_mib: int
    kdf_opslimit: int
    max_concurrent_unlocks: int
    unlock_limit: tuple[int, int]
    unlock_account_limit: tuple[int, int]
    max_body_bytes: int
    max_pdf_bytes: int  # POST /v1/credentials with a PDF body
    log_level: str
    trust_forwarded: bool
    access_log: str
    host: str
    port: int
    # receiving (OpenID4VCI offers, inbox links)
    fetch_timeout: float
    inbox_link_limit: tuple[int, int]
    inbox_client_limit: tuple[int, int]
    # the orphan sweep (wallet.accounts.sweep)
    signup_sweep_grace: int
    inbox_ttl: int  # seconds until an unaccepted inbox item / pending offer expires
    # admission control (holder_api.admission): requests running / waiting per replica
    max_in_flight: int
    max_queued: int
    # stopping (holder_api.lifecycle)
    shutdown_drain: float
    shutdown_timeout: float

    @property
    def embedded_vault(self) -> bool:
        return self.vault_uri.startswith("sqlite:")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, host: str = "127.0.0.1",
                 port: int = 8080) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(_raw(env, DATA_DIR)).resolve()

        def in_data(setting: Setting) -> str:
            return _raw(env, setting).replace("<data>", str(data_dir))

        vault_uri, database_url = in_data(VAULT_URI), in_data(DATABASE_URL)
        keyring_uri = in_data(KEYRING_URI)
        if keyring_uri in (vault_uri, database_url):
            raise SettingsError("SATCHEL_KEYRING_URI must not be one of the databases")

        store_key = _read_secret(env, STORE_KEY)
        if store_key is None and not vault_uri.startswith("sqlite:"):
            raise SettingsError("SATCHEL_STORE_KEY (or _FILE) is required for a non-embedded vault")
        session_key = _read_secret(env, SESSION_KEY)
        if session_key is None:
            if not vault_uri.startswith("sqlite:"):
                raise SettingsError("SATCHEL_SESSION_KEY (or _FILE) is required with replicas")
            session_key = _secret_file(data_dir / "session.key", secrets.token_urlsafe(32))

        data_key = _read_secret(env, DATA_KEY)
        _check_shared(env, vault_uri, database_url, keyring_uri, session_key, data_key)
        memlimit = _int(env, KDF_MEMLIMIT_MIB, minimum=1)
        if memlimit < MIN_PRODUCTION_KDF_MIB and _raw(env, ALLOW_WEAK_KDF) != "1":
            raise SettingsError(
                f"SATCHEL_KDF_MEMLIMIT_MIB below {MIN_PRODUCTION_KDF_MIB} needs "
                "SATCHEL_ALLOW_WEAK_KDF=1 (test suites only)")

        allow = frozenset(h.strip().lower() for h in _raw(env, FETCH_ALLOW_HOSTS).split(",")
                          if h.strip())
        public_url = _raw(env, PUBLIC_URL).replace("<host>", host).replace("<port>", str(port))
        return cls(
            data_dir=data_dir,
            public_url=public_url.rstrip("/"),
            vault_uri=vault_uri,
            database_url=database_url,
            keyring_uri=keyring_uri,
            store_key=store_key,
            keyring_key=_read_secret(env, KEYRING_KEY),
            session_key=session_key,
            data_key=data_key,
            deployment_id=_deployment_id(env),
            fetch_allow_hosts=allow,
            extra_ca_file=_path(env, EXTRA_CA_FILE),
            x5c_anchors_file=_x5c_anchors(env),
            trust_list=_path(env, TRUST_LIST),
            accept_legacy_sd_jwt_vc=_flag(env, ACCEPT_LEGACY_SD_JWT_VC),
            token_ttl=_int(env, TOKEN_TTL, minimum=30),
            kdf_memlimit_mib=memlimit,
            kdf_opslimit=_int(env, KDF_OPSLIMIT, minimum=1),
            max_concurrent_unlocks=_int(env, MAX_CONCURRENT_UNLOCKS, minimum=1),
            unlock_limit=_rate(env, UNLOCK_LIMIT),
            unlock_account_limit=_rate(env, UNLOCK_ACCOUNT_LIMIT),
            max_body_bytes=_int(env, MAX_BODY_BYTES, minimum=1024),
            max_pdf_bytes=_int(env, MAX_PDF_BYTES, minimum=1024),
            log_level=_raw(env, LOG_LEVEL).upper(),
            trust_forwarded=_flag(env, TRUST_FORWARDED),
            access_log=_choice(env, ACCESS_LOG, ("errors", "all", "off")),
            host=host,
            port=port,
            fetch_timeout=_seconds(env, FETCH_TIMEOUT),
            inbox_link_limit=_rate(env, INBOX_LINK_LIMIT),
            inbox_client_limit=_rate(env, INBOX_CLIENT_LIMIT),
            signup_sweep_grace=_int(env, SIGNUP_SWEEP_GRACE, minimum=60),
            inbox_ttl=_int(env, INBOX_TTL, minimum=60),
            max_in_flight=_int(env, MAX_IN_FLIGHT, minimum=1),
            max_queued=_int(env, MAX_QUEUED, minimum=0),
            shutdown_drain=_seconds(env, SHUTDOWN_DRAIN, minimum=0.0),
            shutdown_timeout=_seconds(env, SHUTDOWN_TIMEOUT),
        )
