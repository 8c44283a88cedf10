"""Satchel's configuration: one frozen object, built once from the environment.

Every setting has an environment variable, declared once with its default and help in
``settings.toml`` (data, read into :data:`DECLARED`); a secret can also come from a file named by
``<NAME>_FILE`` (Docker/Kubernetes secrets), which wins over the plain variable.
Nothing else in the code base reads the environment: the composition root (:mod:`holder_api.compose`)
passes the values it needs down explicitly.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from holder_api.admission import OVERLOAD_RULES, OverloadRule
from wallet.accounts.limits import MAX_WINDOW
from wallet.accounts.tokens import ServiceKeys
from wallet.errors import BadInput
from wallet.vault import SummaryRows

__all__ = ["DECLARED", "MIN_PRODUCTION_KDF_MIB", "KeyringInData", "Setting", "Settings",
           "SettingsError", "sqlite_file"]

#: The Argon2id memory floor for any deployment that did not explicitly opt into test costs.
MIN_PRODUCTION_KDF_MIB = 64


class SettingsError(BadInput):
    """A setting is missing, malformed or unsafe; raised at start-up, never at request time."""

    code = "invalid_settings"


class KeyringInData(SettingsError):
    """``SATCHEL_KEYRING_URI`` names the database ``setting`` names (the spelling here, the
    servers at start-up: holder_api.compose.deployment)."""

    def __init__(self, setting: str) -> None:
        super().__init__(f"SATCHEL_KEYRING_URI names the database {setting} names: the erasure "
                         "keys must be kept apart from the data they erase and its backups (a "
                         "database of their own: `satchel move-keyring` moves them there)")
        self.setting = setting


class Setting(NamedTuple):
    """One environment variable: its name, its default and what it means (``settings.toml``).

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


def _load() -> tuple[Setting, ...]:
    text = resources.files(__package__).joinpath("settings.toml").read_text(encoding="utf-8")
    return tuple(Setting(**entry) for entry in tomllib.loads(text)["setting"])


#: Every setting, in the order ``satchel --help`` lists them (declared in ``settings.toml``).
DECLARED: tuple[Setting, ...] = _load()
_BY_NAME = {setting.name: setting for setting in DECLARED}


def _raw(env: Mapping[str, str], name: str) -> str:
    """The variable's text, or its declared default when it is unset or empty (a ``name`` not
    declared in ``settings.toml`` is a KeyError: every setting read must be declared)."""
    return env.get(name) or _BY_NAME[name].default


def _read_secret(env: Mapping[str, str], name: str) -> str | None:
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"cannot read {name}_FILE") from exc
    value = env.get(name)
    return value.strip() if value else None


def _int(env: Mapping[str, str], name: str, *, minimum: int = 0) -> int:
    try:
        value = int(_raw(env, name))
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = _raw(env, name).strip().lower()
    if value not in allowed:
        raise SettingsError(f"{name} must be one of: {', '.join(allowed)}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = _raw(env, name).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0")


def _rate(env: Mapping[str, str], name: str, *, most_seconds: int | None = None
          ) -> tuple[int, int]:
    try:
        count, seconds = (int(p) for p in _raw(env, name).split("/", 1))
    except ValueError as exc:
        raise SettingsError(f"{name} must look like 10/300 (count/seconds)") from exc
    if count < 1 or seconds < 1:
        raise SettingsError(f"{name} must be positive")
    if most_seconds is not None and seconds > most_seconds:
        raise SettingsError(f"{name}: at most {most_seconds} seconds")
    return count, seconds


def _seconds(env: Mapping[str, str], name: str, *, minimum: float = 0.05) -> float:
    try:
        value = float(_raw(env, name))
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number of seconds") from exc
    if not minimum <= value <= 600:
        raise SettingsError(f"{name} must be between {minimum:g} and 600 seconds")
    return value


def _metrics_cache(env: Mapping[str, str]) -> float:
    """``SATCHEL_METRICS_CACHE``: 0-60 seconds (a scrape interval is 15 s or more)."""
    value = _seconds(env, "SATCHEL_METRICS_CACHE", minimum=0.0)
    if value > 60:
        raise SettingsError("SATCHEL_METRICS_CACHE must be between 0 and 60 seconds")
    return value


def _metrics_token(env: Mapping[str, str]) -> str | None:
    token = _read_secret(env, "SATCHEL_METRICS_TOKEN")
    if token is not None and (len(token) < 16 or not token.isascii() or not token.isprintable()
                              or " " in token):
        raise SettingsError("SATCHEL_METRICS_TOKEN must be 16 or more printable ASCII "
                            "characters without spaces")
    return token


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = _raw(env, name)
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
_SQLALCHEMY_SQLITE = re.compile(r"sqlite(\+\w+)?:///")
_LOOPBACK = frozenset({"", "localhost", "localhost.", "ip6-localhost", "127.0.0.1", "::1"})


def sqlite_file(uri: str, *, sqlalchemy: bool = False) -> str | None:
    """The file a SQLite URI names, absolute with links resolved: Askar's ``sqlite://<path>``,
    or with ``sqlalchemy`` SQLAlchemy's ``sqlite+aiosqlite:///<path>``; ``None`` for another
    scheme or an in-memory database."""
    if sqlalchemy:
        match = _SQLALCHEMY_SQLITE.match(uri)
        path = uri[match.end():] if match else None
    else:
        path = uri[len("sqlite://"):] if uri.startswith("sqlite://") else None
    path = path.split("?", 1)[0] if path is not None else None
    if not path or path.startswith(":memory:"):
        return None
    return os.path.realpath(path)


def _database_of(uri: str, *, sqlalchemy: bool = False) -> tuple[str, ...] | None:
    """Where a store's URI points, however it is spelt: a SQLite file, or a PostgreSQL
    database as (host, port, name) with every loopback spelling one host. A cheap first look
    only: holder_api.compose.deployment asks the servers themselves at start-up."""
    if uri.startswith("sqlite"):
        path = sqlite_file(uri, sqlalchemy=sqlalchemy)
        return None if path is None else ("sqlite", path)
    parts = urlsplit(uri)
    if parts.scheme.split("+", 1)[0] not in ("postgres", "postgresql"):
        return None
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        port = str(parts.port or query.get("port") or 5432)
    except ValueError:
        return None
    host = (parts.hostname or query.get("host") or "").lower()
    user = unquote(parts.username or query.get("user") or "")
    name = unquote(parts.path.lstrip("/")) or query.get("dbname") or user
    return ("postgres", "loopback" if host in _LOOPBACK or host.startswith("/") else host,
            port, name)


def _check_keyring_apart(keyring_uri: str, vault_uri: str, database_url: str) -> None:
    """The erasure keys must not live in a database that holds the data they erase."""
    ring = _database_of(keyring_uri)
    for name, uri, sqlalchemy in (("SATCHEL_DATABASE_URL", database_url, True),
                                  ("SATCHEL_VAULT_URI", vault_uri, False)):
        if keyring_uri == uri or (ring is not None
                                  and ring == _database_of(uri, sqlalchemy=sqlalchemy)):
            raise KeyringInData(name)


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
    if keyring_uri.startswith("postgres://") and _read_secret(env, "SATCHEL_KEYRING_KEY") is None:
        raise SettingsError("SATCHEL_KEYRING_KEY (or _FILE) is required for a PostgreSQL keyring")
    if vault_uri.startswith("sqlite:"):
        return
    # a shared vault: whatever keys or holds the learners' data must be the deployment's, not
    # this replica's (what each of these is compared with: holder_api.compose.deployment)
    if database_url.startswith("sqlite"):
        raise SettingsError("SATCHEL_DATABASE_URL must name the shared database "
                            "(postgresql+asyncpg://) when the vault is not embedded")
    if data_key is None:
        raise SettingsError("SATCHEL_DATA_KEY (or _FILE) is required when the vault is not "
                            "embedded: every replica needs the same (`satchel keygen` makes one)")
    if not keyring_uri.startswith("postgres://"):
        raise SettingsError("SATCHEL_KEYRING_URI must name the shared keyring (postgres://) when "
                            "the vault is not embedded: a keyring in this replica's own folder "
                            "holds keys no other replica has")


def _summary_rows(env: Mapping[str, str], vault_uri: str) -> SummaryRows:
    """Unset: ``read`` on the embedded vault (one process, so no earlier version can run beside
    it), else ``write``, which is safe while replicas of an earlier version still write
    credentials (docs/operations.md: upgrading to the summary rows)."""
    if not _raw(env, "SATCHEL_SUMMARY_ROWS").strip():
        return "read" if vault_uri.startswith("sqlite:") else "write"
    return "read" if _choice(env, "SATCHEL_SUMMARY_ROWS", ("write", "read")) == "read" else "write"


def _deployment_id(env: Mapping[str, str]) -> str | None:
    value = _raw(env, "SATCHEL_DEPLOYMENT_ID").strip()
    if value and not _DEPLOYMENT_ID.fullmatch(value):
        raise SettingsError("SATCHEL_DEPLOYMENT_ID must be 1-200 printable characters "
                            "without spaces")
    return value or None


def _queue_delay(env: Mapping[str, str]) -> tuple[float, float]:
    target = _seconds(env, "SATCHEL_QUEUE_TARGET", minimum=0.0005)
    interval = _seconds(env, "SATCHEL_QUEUE_INTERVAL", minimum=0.0005)
    if target >= interval:
        raise SettingsError("SATCHEL_QUEUE_TARGET must be shorter than SATCHEL_QUEUE_INTERVAL")
    return target, interval


def _admission_rule(env: Mapping[str, str]) -> OverloadRule:
    value = _choice(env, "SATCHEL_ADMISSION_RULE", OVERLOAD_RULES)
    return next(rule for rule in OVERLOAD_RULES if rule == value)


def _x5c_anchors(env: Mapping[str, str]) -> Path | None:
    """The anchors ``x5c`` chains must lead to. The HTTP contract makes ``SATCHEL_EXTRA_CA_FILE``
    serve TLS *and* ``x5c``; ``SATCHEL_X5C_ANCHORS_FILE`` overrides it for ``x5c`` alone, and
    ``none`` keeps a TLS-only CA from anchoring anything it signs (a private CA's server
    certificates)."""
    x5c = _raw(env, "SATCHEL_X5C_ANCHORS_FILE")
    if x5c.strip().lower() == "none":
        return None
    return Path(x5c) if x5c else _path(env, "SATCHEL_EXTRA_CA_FILE")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Satchel needs to start. Build with :meth:`from_env` (defaults: :data:`DECLARED`)."""

    data_dir: Path
    public_url: str
    vault_uri: str
    summary_rows: SummaryRows  # what the vault's credential summary rows serve
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
    signup_limit: tuple[int, int]
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
    adaptive_in_flight: bool
    max_queued: int
    queue_target: float  # seconds: the queue delay a standing queue is held to (CoDel)
    queue_interval: float  # seconds: how long it may stand above the target before shedding
    admission_rule: OverloadRule  # what keeps an overloaded replica overloaded (the queue stood)
    max_connections: int  # open connections per replica; beyond, 503 at once (0: no bound)
    max_connections_set: bool  # by the operator: refused, not lowered, if open files can't hold it
    body_timeout: float  # seconds a request body may stall (holder_api.http: 408 after)
    head_timeout: float  # seconds from a request head's first byte to its end (connections gate)
    metrics_cache: float  # seconds a rendered /metrics is served again (0: rendered every scrape)
    metrics_token: str | None  # the bearer token /metrics asks of a scraper (None: none asked)
    early_body_bytes: int  # small bodies read before admission, together (holder_api.http)
    # stopping (holder_api.lifecycle)
    shutdown_drain: float
    shutdown_timeout: float
    # the ledger outbox (wallet.ledger_outbox): one background flush attempt at most this long
    ledger_outbox_flush_timeout: float
    # bundle imports a replica runs at once (consent.rights: admitted before the body is read)
    max_concurrent_imports: int = 2
    # large uploads a replica reads at once: PDFs, the web form's file, QR photos (wallet.large_bodies)
    max_concurrent_uploads: int = 2
    # connections one client address holds (holder_api.connections; 0: no cap)
    max_connections_per_client: int = 256
    # bytes of early_body_bytes one client address holds at once (holder_api.http; 0: no share)
    early_body_client_bytes: int = 4 * 1024 * 1024

    @property
    def embedded_vault(self) -> bool:
        return self.vault_uri.startswith("sqlite:")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, host: str = "127.0.0.1",
                 port: int = 8080, provision: bool = True,
                 keyring_apart: bool = True) -> Settings:
        """``provision=False``: the operator commands, which must create nothing in a data
        folder that may be the wrong one (an embedded default's missing ``session.key`` is then
        a transient value: they sign no session). ``keyring_apart=False``: `satchel
        move-keyring` only, which reads the configuration of a keyring kept in a data database
        to move it out (every other command refuses it)."""
        env = os.environ if env is None else env
        data_dir = Path(_raw(env, "SATCHEL_DATA_DIR")).resolve()

        def in_data(name: str) -> str:
            return _raw(env, name).replace("<data>", str(data_dir))

        vault_uri, database_url = in_data("SATCHEL_VAULT_URI"), in_data("SATCHEL_DATABASE_URL")
        keyring_uri = in_data("SATCHEL_KEYRING_URI")
        if keyring_apart:
            _check_keyring_apart(keyring_uri, vault_uri, database_url)

        store_key = _read_secret(env, "SATCHEL_STORE_KEY")
        if store_key is None and not vault_uri.startswith("sqlite:"):
            raise SettingsError("SATCHEL_STORE_KEY (or _FILE) is required for a non-embedded vault")
        session_key = _read_secret(env, "SATCHEL_SESSION_KEY")
        if session_key is None:
            if not vault_uri.startswith("sqlite:"):
                raise SettingsError("SATCHEL_SESSION_KEY (or _FILE) is required with replicas")
            session_key = (_secret_file(data_dir / "session.key", secrets.token_urlsafe(32))
                           if provision or (data_dir / "session.key").exists()
                           else secrets.token_urlsafe(32))

        data_key = _read_secret(env, "SATCHEL_DATA_KEY")
        _check_shared(env, vault_uri, database_url, keyring_uri, session_key, data_key)
        memlimit = _int(env, "SATCHEL_KDF_MEMLIMIT_MIB", minimum=1)
        if memlimit < MIN_PRODUCTION_KDF_MIB and _raw(env, "SATCHEL_ALLOW_WEAK_KDF") != "1":
            raise SettingsError(
                f"SATCHEL_KDF_MEMLIMIT_MIB below {MIN_PRODUCTION_KDF_MIB} needs "
                "SATCHEL_ALLOW_WEAK_KDF=1 (test suites only)")

        allow = frozenset(h.strip().lower() for h in _raw(env, "SATCHEL_FETCH_ALLOW_HOSTS").split(",")
                          if h.strip())
        queue_target, queue_interval = _queue_delay(env)
        public_url = _raw(env, "SATCHEL_PUBLIC_URL").replace("<host>", host).replace("<port>", str(port))
        return cls(
            data_dir=data_dir,
            public_url=public_url.rstrip("/"),
            vault_uri=vault_uri,
            summary_rows=_summary_rows(env, vault_uri),
            database_url=database_url,
            keyring_uri=keyring_uri,
            store_key=store_key,
            keyring_key=_read_secret(env, "SATCHEL_KEYRING_KEY"),
            session_key=session_key,
            data_key=data_key,
            deployment_id=_deployment_id(env),
            fetch_allow_hosts=allow,
            extra_ca_file=_path(env, "SATCHEL_EXTRA_CA_FILE"),
            x5c_anchors_file=_x5c_anchors(env),
            trust_list=_path(env, "SATCHEL_TRUST_LIST"),
            accept_legacy_sd_jwt_vc=_flag(env, "SATCHEL_ACCEPT_LEGACY_SD_JWT_VC"),
            token_ttl=_int(env, "SATCHEL_TOKEN_TTL", minimum=30),
            kdf_memlimit_mib=memlimit,
            kdf_opslimit=_int(env, "SATCHEL_KDF_OPSLIMIT", minimum=1),
            max_concurrent_unlocks=_int(env, "SATCHEL_MAX_CONCURRENT_UNLOCKS", minimum=1),
            # the budgets of wallet.accounts.limits: windows of a day at most
            unlock_limit=_rate(env, "SATCHEL_UNLOCK_LIMIT", most_seconds=MAX_WINDOW),
            unlock_account_limit=_rate(env, "SATCHEL_UNLOCK_ACCOUNT_LIMIT",
                                       most_seconds=MAX_WINDOW),
            signup_limit=_rate(env, "SATCHEL_SIGNUP_LIMIT", most_seconds=MAX_WINDOW),
            max_body_bytes=_int(env, "SATCHEL_MAX_BODY_BYTES", minimum=1024),
            max_pdf_bytes=_int(env, "SATCHEL_MAX_PDF_BYTES", minimum=1024),
            log_level=_raw(env, "SATCHEL_LOG_LEVEL").upper(),
            trust_forwarded=_flag(env, "SATCHEL_TRUST_FORWARDED"),
            access_log=_choice(env, "SATCHEL_ACCESS_LOG", ("errors", "all", "off")),
            host=host,
            port=port,
            fetch_timeout=_seconds(env, "SATCHEL_FETCH_TIMEOUT"),
            inbox_link_limit=_rate(env, "SATCHEL_INBOX_LINK_LIMIT"),
            inbox_client_limit=_rate(env, "SATCHEL_INBOX_CLIENT_LIMIT",
                                     most_seconds=MAX_WINDOW),
            signup_sweep_grace=_int(env, "SATCHEL_SIGNUP_SWEEP_GRACE", minimum=60),
            inbox_ttl=_int(env, "SATCHEL_INBOX_TTL", minimum=60),
            max_in_flight=_int(env, "SATCHEL_MAX_IN_FLIGHT", minimum=1),
            adaptive_in_flight=_flag(env, "SATCHEL_ADAPTIVE_IN_FLIGHT"),
            max_queued=_int(env, "SATCHEL_MAX_QUEUED", minimum=0),
            queue_target=queue_target,
            queue_interval=queue_interval,
            admission_rule=_admission_rule(env),
            max_connections=_int(env, "SATCHEL_MAX_CONNECTIONS", minimum=0),
            max_connections_set=bool(env.get("SATCHEL_MAX_CONNECTIONS")),
            body_timeout=_seconds(env, "SATCHEL_BODY_TIMEOUT"),
            head_timeout=_seconds(env, "SATCHEL_HEAD_TIMEOUT"),
            metrics_cache=_metrics_cache(env),
            metrics_token=_metrics_token(env),
            early_body_bytes=_int(env, "SATCHEL_EARLY_BODY_BYTES", minimum=0),
            shutdown_drain=_seconds(env, "SATCHEL_SHUTDOWN_DRAIN", minimum=0.0),
            shutdown_timeout=_seconds(env, "SATCHEL_SHUTDOWN_TIMEOUT"),
            ledger_outbox_flush_timeout=_seconds(env, "SATCHEL_LEDGER_OUTBOX_FLUSH_TIMEOUT"),
            max_concurrent_imports=_int(env, "SATCHEL_MAX_CONCURRENT_IMPORTS", minimum=1),
            max_concurrent_uploads=_int(env, "SATCHEL_MAX_CONCURRENT_UPLOADS", minimum=1),
            max_connections_per_client=_int(env, "SATCHEL_MAX_CONNECTIONS_PER_CLIENT",
                                            minimum=0),
            early_body_client_bytes=_int(env, "SATCHEL_EARLY_BODY_CLIENT_BYTES", minimum=0),
        )
