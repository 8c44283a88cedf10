"""Each setting is declared once (name, default, help, type and bounds): the CLI help is generated
from that declaration, ``Settings.from_env`` reads every field from it, and the README
configuration table documents every declared setting, with its bounds, and nothing else."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path

import pytest

from holder_api.admission import OVERLOAD_RULES
from holder_api.cli import main
from holder_api.settings import (
    DECLARED,
    KINDS,
    MIN_PRODUCTION_KDF_MIB,
    Setting,
    Settings,
    SettingsError,
    declaration,
)
from wallet.accounts.limits import MAX_WINDOW
from wallet.vault import SummaryRows

README = Path(__file__).parents[2] / "README.md"
_NAME = re.compile(r"`(SATCHEL_[A-Z0-9_]+?)(?:\[_FILE\])?`")


def readme_rows(text: str, column: int = 1) -> dict[str, str]:
    """variable name -> its default cell (``column`` 2: its allowed cell), from the table under
    ``## Configuration``."""
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = _NAME.findall(cells[0])
        defaults = [d.strip() for d in cells[column].split(" / ")]
        for i, name in enumerate(names):
            assert name not in rows, f"{name} has two rows"
            rows[name] = defaults[i] if len(defaults) == len(names) else cells[column]
    return rows


def _literal(setting: Setting) -> bool:
    return setting.shown is None


def test_readme_table_documents_every_setting_and_no_other() -> None:
    rows = readme_rows(README.read_text(encoding="utf-8"))
    declared = {s.name for s in DECLARED}
    assert sorted(declared - set(rows)) == [], "settings missing from the README table"
    assert sorted(set(rows) - declared) == [], "README rows for settings that do not exist"
    for setting in filter(_literal, DECLARED):
        cell = rows[setting.name].replace("`", "")
        assert (setting.default or "—") in cell, (setting.name, cell)


def test_readme_table_states_every_settings_bounds() -> None:
    rows = readme_rows(README.read_text(encoding="utf-8"), column=2)
    for setting in DECLARED:
        assert rows[setting.name] == setting.allowed, setting.name


def test_readme_check_catches_a_missing_and_a_stale_row() -> None:
    text = README.read_text(encoding="utf-8")
    rows = readme_rows(text.replace("| `SATCHEL_TOKEN_TTL` |", "| `SATCHEL_TOKEN_LIFETIME` |"))
    assert "SATCHEL_TOKEN_TTL" not in rows and "SATCHEL_TOKEN_LIFETIME" in rows


def test_help_is_generated_from_the_declarations(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for setting in DECLARED:
        assert setting.label in out
        assert f"[default: {setting.documented_default or 'none'}]" in out
        assert " ".join(setting.help.split()) in out
        assert f"[allowed: {' '.join(setting.allowed.split())}]" in out
    assert "[allowed: integer (seconds), at least 30] [default: 900]" in out  # TOKEN_TTL
    assert "[default: ]" not in out


def test_defaults_come_from_the_declarations(tmp_path: Path) -> None:
    s = Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path)}, host="h.example", port=81)
    assert s.public_url == "http://h.example:81"
    assert s.vault_uri == f"sqlite://{tmp_path}/vault.db"
    assert s.keyring_uri == str(tmp_path / "keyring")
    by_name = {d.name: d for d in DECLARED}
    assert s.token_ttl == int(by_name["SATCHEL_TOKEN_TTL"].default)
    assert s.inbox_ttl == int(by_name["SATCHEL_INBOX_TTL"].default)
    assert "/".join(map(str, s.unlock_limit)) == by_name["SATCHEL_UNLOCK_LIMIT"].default
    assert s.fetch_timeout == float(by_name["SATCHEL_FETCH_TIMEOUT"].default)
    assert s.access_log == by_name["SATCHEL_ACCESS_LOG"].default


def test_summary_rows_default_to_write_where_replicas_can_run(tmp_path: Path) -> None:
    """SATCHEL_SUMMARY_ROWS: an embedded vault is one process (``read`` is safe), a shared vault
    may still have replicas of an earlier version writing beside this one (``write``)."""
    base = {"SATCHEL_DATA_DIR": str(tmp_path)}
    pg = {**base, "SATCHEL_VAULT_URI": "postgres://db/vault", "SATCHEL_STORE_KEY": "k",
          "SATCHEL_SESSION_KEY": "s" * 43,
          "SATCHEL_DATABASE_URL": "postgresql+asyncpg://db/satchel",
          "SATCHEL_DATA_KEY": "d" * 43, "SATCHEL_KEYRING_URI": "postgres://db/keyring",
          "SATCHEL_KEYRING_KEY": "k"}
    assert Settings.from_env(base).summary_rows == "read"
    assert Settings.from_env(pg).summary_rows == "write"
    assert Settings.from_env({**pg, "SATCHEL_SUMMARY_ROWS": ""}).summary_rows == "write"
    assert Settings.from_env({**pg, "SATCHEL_SUMMARY_ROWS": " Read "}).summary_rows == "read"
    assert Settings.from_env({**base, "SATCHEL_SUMMARY_ROWS": "write"}).summary_rows == "write"
    for bad in ("both", "on", "1"):
        with pytest.raises(SettingsError, match="SATCHEL_SUMMARY_ROWS"):
            Settings.from_env({**base, "SATCHEL_SUMMARY_ROWS": bad})


# ------------------------------------------------------------------ one declaration per field
#: the fields no variable fills: the listening address (the command line's) and whether the
#: operator set SATCHEL_MAX_CONNECTIONS at all
NOT_DECLARED = {"host", "port", "max_connections_set"}


def test_every_field_is_filled_by_one_declaration() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    filled = [s.attribute for s in DECLARED]
    assert len(filled) == len(set(filled)), "two settings fill one field"
    assert sorted(set(filled) - fields) == [], "declared settings that fill no field"
    assert sorted(fields - set(filled) - NOT_DECLARED) == [], "fields no setting fills"


def _holds(value: object, hint: object) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_holds(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        return (isinstance(value, tuple) and len(value) == len(args)
                and all(_holds(v, a) for v, a in zip(value, args, strict=True)))
    if origin is frozenset:
        return isinstance(value, frozenset) and all(_holds(v, args[0]) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    assert isinstance(hint, type), hint
    return isinstance(value, hint)


def test_each_type_gives_its_field_the_fields_type(tmp_path: Path) -> None:
    """from_env fills the fields from a table mypy cannot see through: hold each value to its
    field's annotation, with the defaults and with every variable set."""
    hints = typing.get_type_hints(Settings)
    ring = tmp_path / "ring.pem"
    ring.write_text("k")
    for env in ({"SATCHEL_DATA_DIR": str(tmp_path)},
                {"SATCHEL_DATA_DIR": str(tmp_path), "SATCHEL_STORE_KEY": "k",
                 "SATCHEL_KEYRING_KEY_FILE": str(ring), "SATCHEL_DATA_KEY": "d" * 43,
                 "SATCHEL_DEPLOYMENT_ID": "edu.example", "SATCHEL_FETCH_ALLOW_HOSTS": "a,b",
                 "SATCHEL_EXTRA_CA_FILE": "/ca.pem", "SATCHEL_TRUST_LIST": "/t.json",
                 "SATCHEL_METRICS_TOKEN": "x" * 16, "SATCHEL_SUMMARY_ROWS": "write",
                 "SATCHEL_ADMISSION_RULE": "head", "SATCHEL_ALLOW_WEAK_KDF": "1"}):
        settings = Settings.from_env(env)
        for field in dataclasses.fields(Settings):
            value = getattr(settings, field.name)
            assert _holds(value, hints[field.name]), (field.name, value, hints[field.name])


def test_the_declared_bounds_are_the_codes() -> None:
    """Bounds that code elsewhere relies on, stated once in settings.toml, held to that code."""
    by_name = {s.name: s for s in DECLARED}
    assert by_name["SATCHEL_ADMISSION_RULE"].choices == OVERLOAD_RULES
    assert by_name["SATCHEL_SUMMARY_ROWS"].choices == typing.get_args(SummaryRows)
    for setting in DECLARED:  # a budget's window is a day at most (its bucket is swept after)
        if setting.kind == "rate" and setting.maximum is not None:
            assert setting.maximum == MAX_WINDOW, setting.name
    floor = f"at least {MIN_PRODUCTION_KDF_MIB} unless SATCHEL_ALLOW_WEAK_KDF=1"
    assert floor in by_name["SATCHEL_KDF_MEMLIMIT_MIB"].allowed
    assert f"never below {MIN_PRODUCTION_KDF_MIB}" in by_name["SATCHEL_KDF_MEMLIMIT_MIB"].help
    assert f"below {MIN_PRODUCTION_KDF_MIB} MiB" in by_name["SATCHEL_ALLOW_WEAK_KDF"].help
    assert {s.kind for s in DECLARED} <= KINDS


@pytest.mark.parametrize(("entry", "said"), [
    ({"type": "int", "minimum": 1}, "unknown keys"),
    ({"type": "integer"}, "type must be one of"),
    ({}, "type must be one of"),
    ({"type": "bool", "max": 1}, "min/max bound a number"),
    ({"type": "enum"}, "an enum, and only an enum, has choices"),
    ({"type": "text", "choices": ["a"]}, "an enum, and only an enum, has choices"),
    ({"type": "text", "pattern": "[a-z]+"}, "a pattern (text, secret) is said by a rule"),
])
def test_a_declaration_with_a_slip_is_refused(entry: dict[str, object], said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        declaration({"name": "SATCHEL_X", "default": "", "help": "x", **entry})
    assert declaration({"name": "SATCHEL_X", "default": "", "help": "x", "type": "int",
                      "min": 1}).minimum == 1


@pytest.mark.parametrize(("choices", "said"), [(["a"], "a"), (["a", "b"], "a or b"),
                                               (["a", "b", "c"], "a, b or c")])
def test_an_enum_says_its_choices(choices: list[str], said: str) -> None:
    setting = declaration({"name": "SATCHEL_X", "default": "a", "help": "x", "type": "enum",
                           "choices": choices})
    assert setting.allowed == said
    assert setting.parse(" A ") == "a"
    with pytest.raises(SettingsError, match=re.escape(f"SATCHEL_X='d' refused; allowed: {said}")):
        setting.parse("d")
