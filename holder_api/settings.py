"""Satchel's configuration: one frozen object, built once from the environment.

Every setting has an environment variable, declared once with its default, help, type and bounds
in ``settings.toml`` (data, read into :data:`DECLARED`): :meth:`Settings.from_env` reads each into
the field it fills with the same generic parse and check, and a refusal always has one form
(:meth:`Setting.refused`: the variable, what it was, what it accepts); only the rules between
settings are written out there. A secret can also come from a file named by ``<NAME>_FILE``
(Docker/Kubernetes secrets), which wins over the plain variable.
Nothing else in the code base reads the environment: the composition root (:mod:`holder_api.compose`)
passes the values it needs down explicitly.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args
from urllib.parse import parse_qs, unquote, urlsplit

from holder_api.admission import OverloadRule
from wallet.accounts.tokens import ServiceKeys
from wallet.errors import BadInput
from wallet.vault import SummaryRows

__all__ = ["DECLARED", "KINDS", "MIN_PRODUCTION_KDF_MIB", "KeyringInData", "Setting",
           "Settings", "SettingsError", "Value", "declaration", "sqlite_file"]

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


#: What a setting's ``type`` in ``settings.toml`` may be, and what each accepts (the text a
#: refusal, ``satchel --help`` and the README table give is :attr:`Setting.allowed`).
Kind = Literal[
    "int",       # an integer (int()), within min/max; ``unit`` names what it counts
    "bytes",     # an integer number of bytes, within min/max
    "duration",  # seconds, a number (float()), within min/max
    "rate",      # count/seconds, both at least 1; max: the longest window in seconds
    "bool",      # 1/true/yes/on or 0/false/no/off, any case
    "opt_in",    # exactly 1 opts in; anything else does not (and is not refused)
    "enum",      # one of ``choices``, any case, spaces around ignored; the choice's spelling
    "text",      # free text, spaces around dropped, empty: None; ``pattern`` if given
    "level",     # a logging level name, upper-cased (the logging set-up checks it at serve)
    "path",      # a file path; empty: None
    "url",       # a URI; <data>, <host>, <port> in it stand for the data folder and address
    "hosts",     # comma-separated host names, lower-cased
    "secret",    # text from NAME or the file NAME_FILE names, stripped; ``pattern`` if given
]
KINDS: frozenset[Kind] = frozenset(get_args(Kind))
_NUMERIC = frozenset({"int", "bytes", "duration", "rate"})
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

#: What a setting gives the field it fills.
Value = int | float | bool | str | Path | tuple[int, int] | frozenset[str] | None


class Setting(NamedTuple):
    """One environment variable, declared once in ``settings.toml``: its name, its default, what
    it means, and its type and bounds.

    ``satchel --help`` prints these, :meth:`Settings.from_env` reads each into the field it
    fills (``field``, or the name without ``SATCHEL_`` in lower case) with :meth:`read`, and a
    test holds the README configuration table to them. ``default`` is the value used when the
    variable is unset or empty; ``<data>``, ``<host>`` and ``<port>`` in it stand for the data
    folder and the listening address. ``shown`` replaces it in the help where the default is
    not a value (a generated key, another setting). ``minimum``/``maximum`` bound a numeric
    kind (inclusive; a ``rate``'s ``maximum`` bounds its window), ``choices`` an ``enum``,
    ``pattern`` (a regular expression the whole value must match, said in words by ``rule``) a
    ``text`` or ``secret``.
    """

    name: str
    default: str
    help: str
    kind: Kind
    shown: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    rule: str | None = None
    unit: str | None = None
    field: str | None = None

    @property
    def secret(self) -> bool:
        """May also come from a file named by NAME_FILE, and is never repeated in a refusal."""
        return self.kind == "secret"

    @property
    def label(self) -> str:
        return f"{self.name}[_FILE]" if self.secret else self.name

    @property
    def documented_default(self) -> str:
        return self.shown if self.shown is not None else self.default

    @property
    def described(self) -> str:
        """Its entry in ``satchel --help``: what it means, what it accepts, its default."""
        return (f"{self.help} [allowed: {self.allowed}] "
                f"[default: {self.documented_default or 'none'}]")

    @property
    def attribute(self) -> str:
        """The :class:`Settings` field this setting fills."""
        return self.field or self.name.removeprefix("SATCHEL_").lower()

    @property
    def allowed(self) -> str:
        """What the variable accepts, in words: said by a refusal, the help and the README."""
        if self.kind == "rate":
            most = "" if self.maximum is None else f", window at most {_num(self.maximum)} seconds"
            return f"count/seconds, both at least 1{most}"
        if self.kind in _NUMERIC:
            what = {"int": f"integer ({self.unit})" if self.unit else "integer",
                    "bytes": "bytes (integer)", "duration": "seconds"}[self.kind]
            also = "" if self.rule is None else f"; {self.rule}"
            return f"{what}, {_range(self.minimum, self.maximum)}{also}"
        if self.kind == "enum":
            others, last = self.choices[:-1], self.choices[-1]
            return f"{', '.join(others)} or {last}" if others else last
        if self.rule is not None:
            return self.rule
        return {"bool": "1 or 0 (or true/false, yes/no, on/off)",
                "opt_in": "1 (anything else: off)", "level": "a logging level name",
                "path": "a file path", "url": "a URI", "hosts": "comma-separated host names",
                }.get(self.kind, "any text")

    def refused(self, value: str) -> SettingsError:
        """The one form of a refusal: the variable, what it was (never a secret) and what it
        accepts."""
        said = "(not shown)" if self.secret else repr(value)
        return SettingsError(f"{self.name}={said} refused; allowed: {self.allowed}")

    def read(self, env: Mapping[str, str]) -> Value:
        """The variable's value, or its default's when it is unset or empty, parsed and held to
        its bounds (a secret: its file's or its own text; ``None`` when neither is set)."""
        if self.secret:
            value = _read_secret(env, self.name)
            if value is not None and self.pattern and not re.fullmatch(self.pattern, value):
                raise self.refused(value)
            return value
        return self.parse(_text(env, self.name))

    def parse(self, raw: str) -> Value:
        kind = self.kind
        if kind in ("int", "bytes", "duration"):
            number: type[float] = float if kind == "duration" else int
            try:
                return self._within(raw, number(raw))
            except ValueError:
                raise self.refused(raw) from None
        if kind == "rate":
            try:
                count, window = (int(p) for p in raw.split("/", 1))
            except ValueError:
                raise self.refused(raw) from None
            if count < 1 or window < 1 or (self.maximum is not None and window > self.maximum):
                raise self.refused(raw)
            return count, window
        if kind == "bool":
            if raw.strip().lower() in _TRUE + _FALSE:
                return raw.strip().lower() in _TRUE
            raise self.refused(raw)
        if kind == "opt_in":
            return raw == "1"
        if kind == "enum":
            said = raw.strip().lower()
            if not said and not self.default:
                return None  # unset, no default: the caller decides
            for choice in self.choices:
                if said == choice.lower():
                    return choice
            raise self.refused(raw)
        if kind == "text":
            text = raw.strip()
            if text and self.pattern and not re.fullmatch(self.pattern, text):
                raise self.refused(raw)
            return text or None
        if kind == "level":
            return raw.upper()
        if kind == "path":
            return Path(raw) if raw else None
        if kind == "hosts":
            return frozenset(h.strip().lower() for h in raw.split(",") if h.strip())
        return raw  # url

    def _within(self, raw: str, number: float) -> float:
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if not low <= number <= high:  # NaN is in no range
            raise self.refused(raw)
        return number


def _num(number: float) -> str:
    return str(int(number)) if number == int(number) else repr(number)


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{_num(low)}–{_num(high)}"
    if low is not None:
        return f"at least {_num(low)}"
    return "any" if high is None else f"at most {_num(high)}"


_KEYS = {"name": "name", "default": "default", "help": "help", "type": "kind", "shown": "shown",
         "min": "minimum", "max": "maximum", "choices": "choices", "pattern": "pattern",
         "rule": "rule", "unit": "unit", "field": "field"}


def declaration(entry: Mapping[str, object]) -> Setting:
    """One ``[[setting]]`` of ``settings.toml``, its keys checked (a typo is an error here, at
    import, not a bound silently missing)."""
    name = entry.get("name")
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise ValueError(f"settings.toml: {name}: unknown keys {unknown}")
    kind = entry.get("type")
    if kind not in KINDS:
        raise ValueError(f"settings.toml: {name}: type must be one of {sorted(KINDS)}")
    if ("min" in entry or "max" in entry) and kind not in _NUMERIC:
        raise ValueError(f"settings.toml: {name}: min/max bound a number ({sorted(_NUMERIC)})")
    if ("choices" in entry) != (kind == "enum"):
        raise ValueError(f"settings.toml: {name}: an enum, and only an enum, has choices")
    if "pattern" in entry and ("rule" not in entry or kind not in ("text", "secret")):
        raise ValueError(f"settings.toml: {name}: a pattern (text, secret) is said by a rule")
    fields: dict[str, Any] = {_KEYS[key]: value for key, value in entry.items()}
    if "choices" in fields:
        fields["choices"] = tuple(fields["choices"])
    return Setting(**fields)


def _load() -> tuple[Setting, ...]:
    text = resources.files(__package__).joinpath("settings.toml").read_text(encoding="utf-8")
    return tuple(declaration(entry) for entry in tomllib.loads(text)["setting"])


#: Every setting, in the order ``satchel --help`` lists them (declared in ``settings.toml``).
DECLARED: tuple[Setting, ...] = _load()
_BY_NAME = {setting.name: setting for setting in DECLARED}


def _text(env: Mapping[str, str], name: str) -> str:
    """What a (not secret) setting was: its variable, or its default when unset or empty."""
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


def _secret_file(path: Path, make: str) -> str:
    """Read a generated secret, creating it (mode 0600) on first run of the embedded default."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(make)
    return make


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


def _check_shared(vault_uri: str, database_url: str, keyring_uri: str, session_key: str,
                  data_key: str | None, keyring_key: str | None) -> None:
    """What every replica needs, checked before anything starts (never per request)."""
    for name, value in (("SATCHEL_SESSION_KEY", session_key), ("SATCHEL_DATA_KEY", data_key)):
        if value is not None:
            try:
                ServiceKeys.from_secret(value)
            except BadInput as exc:
                raise _BY_NAME[name].refused(value) from exc
    if keyring_uri.startswith("postgres://") and keyring_key is None:
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
    # SATCHEL_ALLOW_WEAK_KDF=1: kdf_memlimit_mib may be below MIN_PRODUCTION_KDF_MIB (tests)
    allow_weak_kdf: bool = False
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
        """Every declared setting read into its field (:meth:`Setting.read`: parsed and held to
        its bounds), then the rules between settings. ``provision=False``: the operator
        commands, which must create nothing in a data folder that may be the wrong one (an
        embedded default's missing ``session.key`` is then a transient value: they sign no
        session). ``keyring_apart=False``: `satchel move-keyring` only, which reads the
        configuration of a keyring kept in a data database to move it out (every other command
        refuses it)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {setting.attribute: setting.read(env) for setting in DECLARED}
        data_dir = values["data_dir"] = Path(values["data_dir"]).resolve()
        for setting in DECLARED:
            if setting.kind == "url":
                values[setting.attribute] = (
                    values[setting.attribute].replace("<data>", str(data_dir))
                    .replace("<host>", host).replace("<port>", str(port)))
        values["public_url"] = values["public_url"].rstrip("/")
        vault_uri, database_url = values["vault_uri"], values["database_url"]
        keyring_uri = values["keyring_uri"]
        embedded = vault_uri.startswith("sqlite:")
        if keyring_apart:
            _check_keyring_apart(keyring_uri, vault_uri, database_url)

        if values["store_key"] is None and not embedded:
            raise SettingsError("SATCHEL_STORE_KEY (or _FILE) is required for a non-embedded vault")
        if values["session_key"] is None:
            if not embedded:
                raise SettingsError("SATCHEL_SESSION_KEY (or _FILE) is required with replicas")
            values["session_key"] = (
                _secret_file(data_dir / "session.key", secrets.token_urlsafe(32))
                if provision or (data_dir / "session.key").exists()
                else secrets.token_urlsafe(32))
        _check_shared(vault_uri, database_url, keyring_uri, values["session_key"],
                      values["data_key"], values["keyring_key"])
        if values["kdf_memlimit_mib"] < MIN_PRODUCTION_KDF_MIB and not values["allow_weak_kdf"]:
            raise _BY_NAME["SATCHEL_KDF_MEMLIMIT_MIB"].refused(_text(env, "SATCHEL_KDF_MEMLIMIT_MIB"))
        if values["queue_target"] >= values["queue_interval"]:
            raise _BY_NAME["SATCHEL_QUEUE_TARGET"].refused(_text(env, "SATCHEL_QUEUE_TARGET"))
        if values["summary_rows"] is None:
            # unset: ``read`` on the embedded vault (one process, so no earlier version can run
            # beside it), else ``write``, which is safe while replicas of an earlier version
            # still write credentials (docs/operations.md: upgrading to the summary rows)
            values["summary_rows"] = "read" if embedded else "write"
        # The HTTP contract makes SATCHEL_EXTRA_CA_FILE serve TLS *and* x5c;
        # SATCHEL_X5C_ANCHORS_FILE overrides it for x5c alone, and ``none`` keeps a TLS-only CA
        # from anchoring anything it signs (a private CA's server certificates).
        if (env.get("SATCHEL_X5C_ANCHORS_FILE") or "").strip().lower() == "none":
            values["x5c_anchors_file"] = None
        elif values["x5c_anchors_file"] is None:
            values["x5c_anchors_file"] = values["extra_ca_file"]
        return cls(**values, host=host, port=port,
                   max_connections_set=bool(env.get("SATCHEL_MAX_CONNECTIONS")))
