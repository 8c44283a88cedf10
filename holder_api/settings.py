"""Satchel's configuration: one frozen object, built once from the environment.

Every setting has an environment variable (names in API.md "Starting it"); a secret can also come
from a file named by ``<NAME>_FILE`` (Docker/Kubernetes secrets), which wins over the plain variable.
Nothing else in the code base reads the environment: the app factory passes the values it needs
down explicitly (DESIGN §2 rule 5).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wallet.errors import BadInput

__all__ = ["ENV_HELP", "MIN_PRODUCTION_KDF_MIB", "Settings", "SettingsError"]

#: The Argon2id memory floor for any deployment that did not explicitly opt into test costs.
MIN_PRODUCTION_KDF_MIB = 64


class SettingsError(BadInput):
    """A setting is missing, malformed or unsafe; raised at start-up, never at request time."""

    code = "invalid_settings"


#: (variable, default, meaning) — printed by ``satchel --help`` so the CLI explains itself.
ENV_HELP: tuple[tuple[str, str, str], ...] = (
    ("SATCHEL_DATA_DIR", "./satchel-data", "folder for the embedded stores, keys and keyring"),
    ("SATCHEL_PUBLIC_URL", "http://<host>:<port>", "base URL used in inbox and share links"),
    ("SATCHEL_VAULT_URI", "sqlite://<data>/vault.db", "Askar vault store (sqlite:// or postgres://)"),
    ("SATCHEL_DATABASE_URL", "sqlite+aiosqlite:///<data>/satchel.db",
     "SQLAlchemy URL for accounts, sessions, rate limits and the ledger (postgresql+asyncpg://)"),
    ("SATCHEL_KEYRING_URI", "<data>/keyring/",
     "where per-learner erasure keys live: a folder, or a separate Askar store (sqlite://, "
     "postgres://) that is NOT one of the databases above"),
    ("SATCHEL_STORE_KEY[_FILE]", "generated into <data>/store.key",
     "raw Askar store key (required when the vault is not embedded)"),
    ("SATCHEL_KEYRING_KEY[_FILE]", "generated into <data>/keyring-store/store.key",
     "raw key of an Askar keyring store"),
    ("SATCHEL_SESSION_KEY[_FILE]", "generated into <data>/session.key",
     "32-byte base64url service key: signs access tokens and seals the vault key inside them; "
     "every replica needs the same one"),
    ("SATCHEL_DATA_KEY[_FILE]", "the session key",
     "long-lived secret for the username pepper and the consent-ledger keys; set it at scale "
     "so that SATCHEL_SESSION_KEY can be rotated (rotating the session key then only logs "
     "everyone out)"),
    ("SATCHEL_FETCH_ALLOW_HOSTS", "", "comma-separated hosts exempt from the private-address "
     "block (tests, private deployments); TLS stays on"),
    ("SATCHEL_EXTRA_CA_FILE", "", "PEM file of extra trust anchors for outgoing TLS and, by "
     "default, for x5c chains"),
    ("SATCHEL_X5C_ANCHORS_FILE", "SATCHEL_EXTRA_CA_FILE", "PEM file of the anchors x5c chains in "
     "signed objects must lead to (issuers' credential keys, verifiers' request objects); 'none': "
     "no x5c anchors (set it when the extra CA is for TLS only)"),
    ("SATCHEL_TRUST_LIST", "", "JSON file of trusted issuers and verifiers (see README)"),
    ("SATCHEL_ACCEPT_LEGACY_SD_JWT_VC", "0", "1: also accept SD-JWT VCs with the legacy typ "
     "vc+sd-jwt (stored with format vc+sd-jwt); 0: only dc+sd-jwt"),
    ("SATCHEL_TOKEN_TTL", "900", "access token lifetime in seconds"),
    ("SATCHEL_KDF_MEMLIMIT_MIB", "64", "Argon2id memory per unlock (MiB); never below 64 unless "
     "SATCHEL_ALLOW_WEAK_KDF=1 (test suites only)"),
    ("SATCHEL_KDF_OPSLIMIT", "3", "Argon2id passes"),
    ("SATCHEL_MAX_CONCURRENT_UNLOCKS", "2", "Argon2id derivations running at once (memory bound)"),
    ("SATCHEL_UNLOCK_LIMIT", "10/300", "unlock attempts per account (three times as many per "
     "client address): count/seconds"),
    ("SATCHEL_MAX_BODY_BYTES", "1048576", "largest request body accepted"),
    ("SATCHEL_FETCH_TIMEOUT", "10", "seconds an outgoing request (issuer, status list) may take"),
    ("SATCHEL_INBOX_LINK_LIMIT", "60/3600", "pushes stored per inbox link: count/seconds"),
    ("SATCHEL_INBOX_CLIENT_LIMIT", "120/60", "pushes accepted per client address: count/seconds"),
    ("SATCHEL_INBOX_TTL", "2592000", "seconds after which an unaccepted inbox item or pending "
     "offer expires (30 days; hidden, refused with 410, then purged)"),
    ("SATCHEL_TRUST_FORWARDED", "0", "1: take the client address for rate limits from the last "
     "X-Forwarded-For hop (only behind your own reverse proxy)"),
    ("SATCHEL_ACCESS_LOG", "errors", "access lines: errors (4xx/5xx and requests over 1 s; "
     "data minimisation), all, or off; /metrics counts every request regardless"),
    ("SATCHEL_LOG_LEVEL", "INFO", "log level (logs are JSON lines; never secrets or claims)"),
    ("SATCHEL_MAX_IN_FLIGHT", "16", "requests a replica runs at once (operator endpoints "
     "excepted)"),
    ("SATCHEL_MAX_QUEUED", "16", "requests that may wait for one of those slots; beyond them a "
     "request is answered 503 overloaded with Retry-After at once"),
    ("SATCHEL_SIGNUP_SWEEP_GRACE", "3600", "seconds a sign-up may take before the orphan sweep "
     "(at start-up, then every that many seconds, and `satchel sweep`) removes the erasure key "
     "and vault profile it left without an account"),
)


def _read_secret(env: Mapping[str, str], name: str) -> str | None:
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"cannot read {name}_FILE") from exc
    value = env.get(name)
    return value.strip() if value else None


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise SettingsError(f"{name} must be one of: {', '.join(allowed)}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0")


def _rate(env: Mapping[str, str], name: str, default: tuple[int, int]) -> tuple[int, int]:
    raw = env.get(name)
    if not raw:
        return default
    try:
        count, seconds = (int(p) for p in raw.split("/", 1))
    except ValueError as exc:
        raise SettingsError(f"{name} must look like 10/300 (count/seconds)") from exc
    if count < 1 or seconds < 1:
        raise SettingsError(f"{name} must be positive")
    return count, seconds


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number of seconds") from exc
    if not 0.05 <= value <= 600:
        raise SettingsError(f"{name} must be between 0.05 and 600 seconds")
    return value


def _secret_file(path: Path, make: str) -> str:
    """Read a generated secret, creating it (mode 0600) on first run of the embedded default."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(make)
    return make


def _x5c_anchors(x5c: str | None, extra_ca: str | None) -> Path | None:
    """The anchors ``x5c`` chains must lead to. API.md makes ``SATCHEL_EXTRA_CA_FILE`` serve TLS
    *and* ``x5c``; ``SATCHEL_X5C_ANCHORS_FILE`` overrides it for ``x5c`` alone, and ``none`` keeps
    a TLS-only CA from anchoring anything it signs (a private CA's server certificates)."""
    if x5c is not None and x5c.strip().lower() == "none":
        return None
    if x5c:
        return Path(x5c)
    return Path(extra_ca) if extra_ca else None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Satchel needs to start. Build with :meth:`from_env`."""

    data_dir: Path
    public_url: str
    vault_uri: str
    database_url: str
    keyring_uri: str
    store_key: str | None  # None: generate/read <data>/store.key (embedded vault only)
    keyring_key: str | None
    session_key: str
    data_key: str | None = None  # SATCHEL_DATA_KEY: long-lived pepper + ledger key (rotation)
    fetch_allow_hosts: frozenset[str] = frozenset()
    extra_ca_file: Path | None = None  # outgoing TLS (and x5c, unless x5c_anchors_file says)
    x5c_anchors_file: Path | None = None  # x5c chains of credentials and request objects
    trust_list: Path | None = None
    accept_legacy_sd_jwt_vc: bool = False  # SATCHEL_ACCEPT_LEGACY_SD_JWT_VC: typ vc+sd-jwt too
    token_ttl: int = 900
    kdf_memlimit_mib: int = 64
    kdf_opslimit: int = 3
    max_concurrent_unlocks: int = 2
    unlock_limit: tuple[int, int] = (10, 300)
    max_body_bytes: int = 1 << 20
    log_level: str = "INFO"
    trust_forwarded: bool = False
    access_log: str = "errors"
    host: str = "127.0.0.1"
    port: int = 8080
    extra: Mapping[str, str] = field(default_factory=dict)
    # receiving (OpenID4VCI offers, inbox links)
    fetch_timeout: float = 10.0
    inbox_link_limit: tuple[int, int] = (60, 3600)
    inbox_client_limit: tuple[int, int] = (120, 60)
    # the orphan sweep (wallet.accounts.sweep)
    signup_sweep_grace: int = 3600
    inbox_ttl: int = 30 * 86400  # seconds until an unaccepted inbox item / pending offer expires
    # admission control (holder_api.admission): requests running / waiting per replica
    max_in_flight: int = 16
    max_queued: int = 16

    @property
    def embedded_vault(self) -> bool:
        return self.vault_uri.startswith("sqlite:")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, host: str = "127.0.0.1",
                 port: int = 8080) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("SATCHEL_DATA_DIR") or "./satchel-data").resolve()
        vault_uri = env.get("SATCHEL_VAULT_URI") or f"sqlite://{data_dir}/vault.db"
        database_url = env.get("SATCHEL_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir}/satchel.db"
        keyring_uri = env.get("SATCHEL_KEYRING_URI") or str(data_dir / "keyring")
        if keyring_uri in (vault_uri, database_url):
            raise SettingsError("SATCHEL_KEYRING_URI must not be one of the databases")

        store_key = _read_secret(env, "SATCHEL_STORE_KEY")
        if store_key is None and not vault_uri.startswith("sqlite:"):
            raise SettingsError("SATCHEL_STORE_KEY (or _FILE) is required for a non-embedded vault")
        keyring_key = _read_secret(env, "SATCHEL_KEYRING_KEY")
        session_key = _read_secret(env, "SATCHEL_SESSION_KEY")
        if session_key is None:
            if not vault_uri.startswith("sqlite:"):
                raise SettingsError("SATCHEL_SESSION_KEY (or _FILE) is required with replicas")
            session_key = _secret_file(data_dir / "session.key", secrets.token_urlsafe(32))

        data_key = _read_secret(env, "SATCHEL_DATA_KEY")
        memlimit = _int(env, "SATCHEL_KDF_MEMLIMIT_MIB", 64, minimum=1)
        if memlimit < MIN_PRODUCTION_KDF_MIB and env.get("SATCHEL_ALLOW_WEAK_KDF") != "1":
            raise SettingsError(
                f"SATCHEL_KDF_MEMLIMIT_MIB below {MIN_PRODUCTION_KDF_MIB} needs "
                "SATCHEL_ALLOW_WEAK_KDF=1 (test suites only)")

        allow = frozenset(h.strip().lower() for h in env.get("SATCHEL_FETCH_ALLOW_HOSTS", "").split(",")
                          if h.strip())
        extra_ca = env.get("SATCHEL_EXTRA_CA_FILE")
        x5c_anchors = env.get("SATCHEL_X5C_ANCHORS_FILE")
        trust = env.get("SATCHEL_TRUST_LIST")
        public_url = (env.get("SATCHEL_PUBLIC_URL") or f"http://{host}:{port}").rstrip("/")
        return cls(
            data_dir=data_dir,
            public_url=public_url,
            vault_uri=vault_uri,
            database_url=database_url,
            keyring_uri=keyring_uri,
            store_key=store_key,
            keyring_key=keyring_key,
            session_key=session_key,
            data_key=data_key,
            fetch_allow_hosts=allow,
            extra_ca_file=Path(extra_ca) if extra_ca else None,
            x5c_anchors_file=_x5c_anchors(x5c_anchors, extra_ca),
            trust_list=Path(trust) if trust else None,
            accept_legacy_sd_jwt_vc=_flag(env, "SATCHEL_ACCEPT_LEGACY_SD_JWT_VC", False),
            token_ttl=_int(env, "SATCHEL_TOKEN_TTL", 900, minimum=30),
            kdf_memlimit_mib=memlimit,
            kdf_opslimit=_int(env, "SATCHEL_KDF_OPSLIMIT", 3, minimum=1),
            max_concurrent_unlocks=_int(env, "SATCHEL_MAX_CONCURRENT_UNLOCKS", 2, minimum=1),
            unlock_limit=_rate(env, "SATCHEL_UNLOCK_LIMIT", (10, 300)),
            max_body_bytes=_int(env, "SATCHEL_MAX_BODY_BYTES", 1 << 20, minimum=1024),
            log_level=(env.get("SATCHEL_LOG_LEVEL") or "INFO").upper(),
            trust_forwarded=_flag(env, "SATCHEL_TRUST_FORWARDED", False),
            access_log=_choice(env, "SATCHEL_ACCESS_LOG", ("errors", "all", "off"), "errors"),
            host=host,
            port=port,
            fetch_timeout=_seconds(env, "SATCHEL_FETCH_TIMEOUT", 10.0),
            inbox_link_limit=_rate(env, "SATCHEL_INBOX_LINK_LIMIT", (60, 3600)),
            inbox_client_limit=_rate(env, "SATCHEL_INBOX_CLIENT_LIMIT", (120, 60)),
            signup_sweep_grace=_int(env, "SATCHEL_SIGNUP_SWEEP_GRACE", 3600, minimum=60),
            inbox_ttl=_int(env, "SATCHEL_INBOX_TTL", 30 * 86400, minimum=60),
            max_in_flight=_int(env, "SATCHEL_MAX_IN_FLIGHT", 16, minimum=1),
            max_queued=_int(env, "SATCHEL_MAX_QUEUED", 16, minimum=0),
        )
