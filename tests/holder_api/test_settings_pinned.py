"""What every declared variable accepts and refuses, pinned: each accepted example with the
value it gives the field it fills, each refused example refused. Written against the settings
before their types and bounds moved into ``settings.toml``; a change here changes what an
operator's configuration means, so make it knowingly."""

from __future__ import annotations

from pathlib import Path

import pytest

from holder_api.settings import DECLARED, Settings, SettingsError

#: read by hand below, not through the table (what they fill depends on other settings)
SPECIAL = frozenset({"SATCHEL_DATA_DIR", "SATCHEL_ALLOW_WEAK_KDF"})

_BOOL_YES = [("1", True), ("true", True), (" Yes ", True), ("ON", True)]
_BOOL_NO = [("0", False), ("false", False), ("no", False), (" Off", False), ("", False)]
_BOOL_BAD = ["maybe", "2", "-1", "y"]
_DAY = ["ten", "10", "0/60", "10/0", "-1/60", "10/86401", "10/300/2", "1.5/60", "/"]


def _int(least: int, good: list[tuple[str, object]]) -> tuple[list[tuple[str, object]],
                                                             list[str]]:
    return ([(str(least), least), (f" {least + 5} ", least + 5), (f"+{least + 1}", least + 1),
             *good], [str(least - 1), "ten", "1.5", "1e3", *([] if least else ["-1"])])


def _seconds(least: float, most: float) -> tuple[list[tuple[str, object]], list[str]]:
    return ([(f"{least:g}", least), (f"{most:g}", most), (" 1e0 ", 1.0)],
            [f"{least - 0.0001:g}" if least else "-0.01", f"{most + 1:g}", "nan", "inf",
             "soon"])


def _rate(most: int | None) -> tuple[list[tuple[str, object]], list[str]]:
    good: list[tuple[str, object]] = [("10/300", (10, 300)), (" 5 / 60 ", (5, 60)),
                                      ("1/86400", (1, 86400))]
    if most is None:
        return [*good, ("10/86401", (10, 86401))], [b for b in _DAY if b != "10/86401"]
    return good, _DAY


# name -> (accepted (raw, field value), refused raw); "" as accepted means unset (the default);
# "<data>" in a raw or expected text stands for the data folder
PINS: dict[str, tuple[list[tuple[str, object]], list[str]]] = {
    "SATCHEL_PUBLIC_URL": ([("https://w.example/", "https://w.example"),
                            ("not a url", "not a url"),
                            ("http://<host>:<port>/x/", "http://127.0.0.1:8080/x"),
                            ("", "http://127.0.0.1:8080")], []),
    "SATCHEL_VAULT_URI": ([("sqlite://<data>/v.db", "sqlite://<data>/v.db"),
                           ("", "sqlite://<data>/vault.db")],
                          ["postgres://db/vault"]),  # needs the replicas' secrets
    "SATCHEL_SUMMARY_ROWS": ([("", "read"), (" Read ", "read"), ("WRITE", "write")],
                             ["both", "on", "1"]),
    "SATCHEL_DATABASE_URL": ([("sqlite+aiosqlite:///<data>/s.db", "sqlite+aiosqlite:///<data>/s.db"),
                              ("postgresql+asyncpg://db/s", "postgresql+asyncpg://db/s"),
                              ("", "sqlite+aiosqlite:///<data>/satchel.db")], []),
    "SATCHEL_KEYRING_URI": ([("sqlite://<data>/ring.db", "sqlite://<data>/ring.db"),
                             ("<data>/kr", "<data>/kr"), ("", "<data>/keyring")],
                            ["sqlite://<data>/vault.db", "sqlite://<data>//vault.db"]),
    "SATCHEL_STORE_KEY": ([("k", "k"), (" k \n", "k"), ("", None)], []),
    "SATCHEL_KEYRING_KEY": ([("k", "k"), ("", None)], []),
    "SATCHEL_SESSION_KEY": ([("s" * 43, "s" * 43), ("!" * 32, "!" * 32)],
                            ["short", "s" * 42, "!" * 31]),  # 32 bytes, base64url or not
    "SATCHEL_DATA_KEY": ([("d" * 43, "d" * 43), ("", None)], ["short", "d" * 31]),
    "SATCHEL_DEPLOYMENT_ID": ([("edu.example", "edu.example"), (" x ", "x"), ("", None),
                               ("a" * 200, "a" * 200)], ["two words", "a" * 201, "é"]),
    "SATCHEL_FETCH_ALLOW_HOSTS": ([(" A.example, b ,,", frozenset({"a.example", "b"})),
                                   ("", frozenset())], []),
    "SATCHEL_EXTRA_CA_FILE": ([("/etc/x.pem", Path("/etc/x.pem")), ("", None)], []),
    "SATCHEL_X5C_ANCHORS_FILE": ([("/etc/x.pem", Path("/etc/x.pem")), (" NONE ", None),
                                  ("none", None), ("", None)], []),
    "SATCHEL_TRUST_LIST": ([("/t.json", Path("/t.json")), ("", None)], []),
    "SATCHEL_ACCEPT_LEGACY_SD_JWT_VC": ([*_BOOL_YES, *_BOOL_NO], _BOOL_BAD),
    "SATCHEL_TOKEN_TTL": _int(30, [("", 900), ("1_000", 1000)]),
    "SATCHEL_KDF_MEMLIMIT_MIB": ([("64", 64), (" 128 ", 128), ("", 64)], ["63", "8", "0", "x"]),
    "SATCHEL_KDF_OPSLIMIT": _int(1, [("", 3)]),
    "SATCHEL_MAX_CONCURRENT_UNLOCKS": _int(1, [("", 2)]),
    "SATCHEL_UNLOCK_LIMIT": _rate(86400),
    "SATCHEL_UNLOCK_ACCOUNT_LIMIT": _rate(86400),
    "SATCHEL_SIGNUP_LIMIT": _rate(86400),
    "SATCHEL_MAX_BODY_BYTES": _int(1024, [("", 1048576)]),
    "SATCHEL_MAX_PDF_BYTES": _int(1024, [("", 10485760)]),
    "SATCHEL_MAX_CONCURRENT_IMPORTS": _int(1, [("", 2)]),
    "SATCHEL_MAX_CONCURRENT_UPLOADS": _int(1, [("", 2)]),
    "SATCHEL_FETCH_TIMEOUT": _seconds(0.05, 600),
    "SATCHEL_INBOX_LINK_LIMIT": _rate(None),
    "SATCHEL_INBOX_CLIENT_LIMIT": _rate(86400),
    "SATCHEL_INBOX_TTL": _int(60, [("", 2592000)]),
    "SATCHEL_TRUST_FORWARDED": ([*_BOOL_YES, *_BOOL_NO], _BOOL_BAD),
    "SATCHEL_ACCESS_LOG": ([("all", "all"), (" OFF ", "off"), ("", "errors")],
                           ["none", "verbose", "1"]),
    # not checked here: the logging set-up refuses an unknown level at start
    "SATCHEL_LOG_LEVEL": ([("debug", "DEBUG"), ("", "INFO"), ("banana", "BANANA")], []),
    "SATCHEL_SIGNUP_SWEEP_GRACE": _int(60, [("", 3600)]),
    "SATCHEL_MAX_IN_FLIGHT": _int(1, [("", 8)]),
    "SATCHEL_ADAPTIVE_IN_FLIGHT": ([*_BOOL_YES, *_BOOL_NO], _BOOL_BAD),
    "SATCHEL_MAX_QUEUED": _int(0, [("", 16)]),
    # the interval's default is 0.1: the target must stay below it
    "SATCHEL_QUEUE_TARGET": ([("0.0005", 0.0005), ("0.099", 0.099), ("", 0.005)],
                             ["0.0004", "0.1", "600", "601", "nan", "soon"]),
    # the target's default is 0.005: the interval must stay above it
    "SATCHEL_QUEUE_INTERVAL": ([("0.006", 0.006), ("600", 600.0), ("", 0.1)],
                               ["0.005", "0.0004", "601", "nan", "soon"]),
    "SATCHEL_ADMISSION_RULE": ([("head", "head"), ("SHED", "shed"), (" Sojourn ", "sojourn"),
                                ("", "sojourn")],
                               ["fifo", "1"]),
    "SATCHEL_MAX_CONNECTIONS": _int(0, [("", 1024)]),
    "SATCHEL_MAX_CONNECTIONS_PER_CLIENT": _int(0, [("", 256)]),
    "SATCHEL_BODY_TIMEOUT": _seconds(0.05, 600),
    "SATCHEL_HEAD_TIMEOUT": _seconds(0.05, 600),
    "SATCHEL_METRICS_TOKEN": ([("x" * 16, "x" * 16), (f" {'x' * 16}\n", "x" * 16),
                               ("!~" * 8, "!~" * 8), ("", None)],
                              ["short", "x" * 15, "with spaces in it ok", "é" * 16,
                               "x" * 8 + "\t" + "x" * 8]),
    "SATCHEL_METRICS_CACHE": _seconds(0, 60),
    "SATCHEL_EARLY_BODY_BYTES": _int(0, [("", 33554432)]),
    "SATCHEL_EARLY_BODY_CLIENT_BYTES": _int(0, [("", 4194304)]),
    "SATCHEL_SHUTDOWN_DRAIN": _seconds(0, 600),
    "SATCHEL_SHUTDOWN_TIMEOUT": _seconds(0.05, 600),
    "SATCHEL_LEDGER_OUTBOX_FLUSH_TIMEOUT": _seconds(0.05, 600),
}


def field_of(name: str) -> str:
    return name.removeprefix("SATCHEL_").lower()


def _in(data: Path, value: object) -> object:
    if isinstance(value, str):
        return value.replace("<data>", str(data))
    return value


def test_every_declared_variable_is_pinned() -> None:
    declared = {s.name for s in DECLARED}
    assert sorted(declared - set(PINS) - SPECIAL) == []
    assert sorted((set(PINS) | SPECIAL) - declared) == []
    for name, (good, bad) in PINS.items():
        assert good, name  # every variable accepts something, at least its default


@pytest.mark.parametrize("name", sorted(PINS))
def test_accepted_and_refused(name: str, tmp_path: Path) -> None:
    good, bad = PINS[name]
    base = {"SATCHEL_DATA_DIR": str(tmp_path)}
    for raw, expected in good:
        settings = Settings.from_env({**base, name: str(_in(tmp_path, raw))})
        assert getattr(settings, field_of(name)) == _in(tmp_path, expected), (name, raw)
    for raw in bad:
        with pytest.raises(SettingsError):
            Settings.from_env({**base, name: str(_in(tmp_path, raw))})
            pytest.fail(f"{name}={raw!r} was accepted")


def test_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path / "a" / ".." / "b")}
                             ).data_dir == tmp_path / "b"
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).data_dir == tmp_path / "satchel-data"
    assert Settings.from_env({"SATCHEL_DATA_DIR": ""}).data_dir == tmp_path / "satchel-data"


def test_the_argon2id_floor_is_lifted_by_exactly_1(tmp_path: Path) -> None:
    """Only ``SATCHEL_ALLOW_WEAK_KDF=1`` lifts the 64 MiB floor; anything else leaves it in
    place without being refused itself."""
    base = {"SATCHEL_DATA_DIR": str(tmp_path), "SATCHEL_KDF_MEMLIMIT_MIB": "8"}
    assert Settings.from_env({**base, "SATCHEL_ALLOW_WEAK_KDF": "1"}).kdf_memlimit_mib == 8
    for other in ("", "0", "true", "yes", "on", " 1", "2", "garbage"):
        with pytest.raises(SettingsError, match="SATCHEL_ALLOW_WEAK_KDF=1"):
            Settings.from_env({**base, "SATCHEL_ALLOW_WEAK_KDF": other})
        assert Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path),
                                  "SATCHEL_ALLOW_WEAK_KDF": other}).kdf_memlimit_mib == 64
    with pytest.raises(SettingsError):  # never below 1, opted in or not
        Settings.from_env({**base, "SATCHEL_KDF_MEMLIMIT_MIB": "0", "SATCHEL_ALLOW_WEAK_KDF": "1"})


def test_max_connections_set_says_whether_the_operator_set_it(tmp_path: Path) -> None:
    base = {"SATCHEL_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(base).max_connections_set is False
    assert Settings.from_env({**base, "SATCHEL_MAX_CONNECTIONS": ""}).max_connections_set is False
    assert Settings.from_env({**base, "SATCHEL_MAX_CONNECTIONS": "1024"}).max_connections_set


#: refusals that a rule between settings makes, not the variable's own bounds
BETWEEN = {("SATCHEL_VAULT_URI", "postgres://db/vault"),
           ("SATCHEL_KEYRING_URI", "sqlite://<data>/vault.db"),
           ("SATCHEL_KEYRING_URI", "sqlite://<data>//vault.db"),
           ("SATCHEL_QUEUE_INTERVAL", "0.005")}  # said by the target: not shorter than it


@pytest.mark.parametrize("name", sorted(PINS))
def test_a_refusal_names_the_variable_its_value_and_what_it_accepts(name: str,
                                                                   tmp_path: Path) -> None:
    """One form: ``NAME='value' refused; allowed: …`` (a secret's value never repeated)."""
    setting = next(s for s in DECLARED if s.name == name)
    for raw in PINS[name][1]:
        if (name, raw) in BETWEEN:
            continue
        with pytest.raises(SettingsError) as refused:
            Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path), name: raw})
        said = "(not shown)" if setting.secret else repr(raw)
        assert refused.value.detail == f"{name}={said} refused; allowed: {setting.allowed}"
        if setting.secret:
            assert raw.strip() not in refused.value.detail


def test_the_production_floor_is_said_in_the_same_form(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path), "SATCHEL_KDF_MEMLIMIT_MIB": "8"})
    assert refused.value.detail == (
        "SATCHEL_KDF_MEMLIMIT_MIB='8' refused; allowed: integer (MiB), at least 1; at least 64 "
        "unless SATCHEL_ALLOW_WEAK_KDF=1 (test suites only)")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path), "SATCHEL_QUEUE_INTERVAL": "0.004"})
    assert refused.value.detail.startswith("SATCHEL_QUEUE_TARGET='0.005' refused; allowed: "
                                           "seconds, 0.0005–600; shorter than")
