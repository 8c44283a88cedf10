"""Each setting is declared once (name, default, help): the CLI help is generated from that
declaration, ``Settings.from_env`` takes its defaults from it, and the README configuration table
documents every declared setting and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from holder_api.cli import main
from holder_api.settings import DECLARED, Setting, Settings, SettingsError

README = Path(__file__).parents[2] / "README.md"
_NAME = re.compile(r"`(SATCHEL_[A-Z0-9_]+?)(?:\[_FILE\])?`")


def readme_rows(text: str) -> dict[str, str]:
    """variable name -> its default cell, from the table under ``## Configuration``."""
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = _NAME.findall(cells[0])
        defaults = [d.strip() for d in cells[1].split(" / ")]
        for i, name in enumerate(names):
            assert name not in rows, f"{name} has two rows"
            rows[name] = defaults[i] if len(defaults) == len(names) else cells[1]
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
        assert f"[default: {setting.documented_default}]" in out
        assert " ".join(setting.help.split()) in out


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
