"""Settings from the environment and the ``satchel`` command line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from holder_api.cli import main
from holder_api.compose.migrations import REVISION_FOLDERS
from holder_api.settings import DECLARED, Settings, SettingsError
from tests.support.apps import SESSION_KEY
from wallet.db import known_revisions


def test_embedded_defaults_and_generated_secret(tmp_path: Path) -> None:
    s = Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path / "d")})
    assert s.vault_uri == f"sqlite://{tmp_path / 'd'}/vault.db"
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert s.kdf_memlimit_mib >= 64 and s.embedded_vault
    key_file = tmp_path / "d" / "session.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # the generated secret is stable across starts
    assert Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path / "d")}).session_key == s.session_key


def test_secrets_from_files_win(tmp_path: Path) -> None:
    f = tmp_path / "session"
    f.write_text("from-the-file-secret-value-with-more-than-enough-bytes\n")
    s = Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path), "SATCHEL_SESSION_KEY": "plain",
                           "SATCHEL_SESSION_KEY_FILE": str(f)})
    assert s.session_key == "from-the-file-secret-value-with-more-than-enough-bytes"
    with pytest.raises(SettingsError):
        Settings.from_env({"SATCHEL_DATA_DIR": str(tmp_path),
                           "SATCHEL_SESSION_KEY_FILE": str(tmp_path / "missing")})


def test_unsafe_settings_refused(tmp_path: Path) -> None:
    base = {"SATCHEL_DATA_DIR": str(tmp_path)}
    with pytest.raises(SettingsError, match="ALLOW_WEAK_KDF"):
        Settings.from_env({**base, "SATCHEL_KDF_MEMLIMIT_MIB": "8"})
    assert Settings.from_env({**base, "SATCHEL_KDF_MEMLIMIT_MIB": "8",
                              "SATCHEL_ALLOW_WEAK_KDF": "1"}).kdf_memlimit_mib == 8
    pg = {**base, "SATCHEL_VAULT_URI": "postgres://db/vault"}
    with pytest.raises(SettingsError, match="STORE_KEY"):
        Settings.from_env(pg)
    with pytest.raises(SettingsError, match="SESSION_KEY"):
        Settings.from_env({**pg, "SATCHEL_STORE_KEY": "k"})
    with pytest.raises(SettingsError):
        Settings.from_env({**base, "SATCHEL_UNLOCK_LIMIT": "ten"})
    # a budget's window is a day at most (a bucket left alone for a day is swept)
    for name in ("SATCHEL_UNLOCK_LIMIT", "SATCHEL_SIGNUP_LIMIT"):
        with pytest.raises(SettingsError, match="at most 86400 seconds"):
            Settings.from_env({**base, name: "10/86401"})
        assert Settings.from_env({**base, name: "10/86400"})
    with pytest.raises(SettingsError):
        Settings.from_env({**base, "SATCHEL_KEYRING_URI": f"sqlite://{tmp_path}/vault.db",
                           "SATCHEL_VAULT_URI": f"sqlite://{tmp_path}/vault.db"})


def test_legacy_sd_jwt_vc_typ_is_off_unless_set(tmp_path: Path) -> None:
    base = {"SATCHEL_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(base).accept_legacy_sd_jwt_vc is False
    assert Settings.from_env({**base, "SATCHEL_ACCEPT_LEGACY_SD_JWT_VC": "0"}
                             ).accept_legacy_sd_jwt_vc is False
    assert Settings.from_env({**base, "SATCHEL_ACCEPT_LEGACY_SD_JWT_VC": "1"}
                             ).accept_legacy_sd_jwt_vc is True
    with pytest.raises(SettingsError, match="SATCHEL_ACCEPT_LEGACY_SD_JWT_VC"):
        Settings.from_env({**base, "SATCHEL_ACCEPT_LEGACY_SD_JWT_VC": "maybe"})


def test_x5c_anchors_default_to_the_extra_ca_file_and_can_be_split(tmp_path: Path) -> None:
    base = {"SATCHEL_DATA_DIR": str(tmp_path)}
    s = Settings.from_env({**base, "SATCHEL_EXTRA_CA_FILE": "/etc/tls.pem"})  # the contract: TLS and x5c
    assert (s.extra_ca_file, s.x5c_anchors_file) == (Path("/etc/tls.pem"), Path("/etc/tls.pem"))
    s = Settings.from_env({**base, "SATCHEL_EXTRA_CA_FILE": "/etc/tls.pem",
                           "SATCHEL_X5C_ANCHORS_FILE": "none"})  # a TLS-only private CA
    assert (s.extra_ca_file, s.x5c_anchors_file) == (Path("/etc/tls.pem"), None)
    s = Settings.from_env({**base, "SATCHEL_X5C_ANCHORS_FILE": "/etc/x5c.pem"})
    assert (s.extra_ca_file, s.x5c_anchors_file) == (None, Path("/etc/x5c.pem"))
    assert Settings.from_env(base).x5c_anchors_file is None


def test_no_command_is_an_error_said_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """`satchel` alone printed its whole 220-line help to stdout with exit status 2."""
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1].startswith("satchel: a command is needed: serve, migrate,"), err
    assert len(err.splitlines()) <= 3, err


@pytest.mark.parametrize("command", ["serve", "migrate", "sweep", "reset-summary-markers",
                                     "record-deployment", "move-keyring", "keygen"])
def test_every_command_says_what_it_does(command: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Each command's --help has a description beyond its usage and options: what it does and
    (but keygen) its exit statuses."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert not description.startswith(("options:", "usage:")), out
    assert len(description.split()) >= 20, out
    if command != "keygen":
        assert "exit" in out.lower(), out


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for setting in DECLARED:
        assert setting.label in out
    for flag in ("--host", "--port", "--data-dir"):
        assert flag in out


def test_cli_entry_point_and_bad_config(tmp_path: Path) -> None:
    env = {**os.environ, "SATCHEL_DATA_DIR": str(tmp_path), "SATCHEL_KDF_MEMLIMIT_MIB": "1"}
    r = subprocess.run([sys.executable, "-m", "holder_api.cli", "serve"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "configuration error" in r.stderr and "ALLOW_WEAK_KDF" in r.stderr
    r = subprocess.run([sys.executable, "-m", "holder_api.cli", "migrate"],
                       env={**os.environ, "SATCHEL_DATA_DIR": str(tmp_path)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        f"satchel: schema is up to date ({tmp_path / 'satchel.db'}: it had none; now at "
        f"{known_revisions(REVISION_FOLDERS)[-1]})"), r.stderr
    assert (tmp_path / "satchel.db").exists()
    r = subprocess.run([sys.executable, "-m", "holder_api.cli", "keygen"], capture_output=True,
                       text=True, timeout=60)
    assert {line.split("=")[0] for line in r.stdout.splitlines()} == {
        "SATCHEL_SESSION_KEY", "SATCHEL_DATA_KEY", "SATCHEL_STORE_KEY", "SATCHEL_KEYRING_KEY"}


def test_migrate_names_what_it_did_and_makes_no_data_folder(tmp_path: Path) -> None:
    """A mistyped --data-dir used to get a new folder, an empty database migrated and a new
    session.key, exit status 0 and "schema is up to date"."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATCHEL_")}
    typo = tmp_path / "satchel-dta"
    r = subprocess.run([sys.executable, "-m", "holder_api.cli", "migrate", "--data-dir",
                        str(typo)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"satchel: no data folder {typo} (`satchel serve` makes it at its first start): check "
        "--data-dir / SATCHEL_DATA_DIR. Nothing was created"], r.stderr
    assert not typo.exists()
    typo.mkdir()
    for said in ("it had none; now at", "nothing to do"):
        r = subprocess.run([sys.executable, "-m", "holder_api.cli", "migrate", "--data-dir",
                            str(typo)], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert said in r.stderr.strip().splitlines()[-1], r.stderr
    assert sorted(p.name for p in typo.iterdir()) == ["satchel.db"]  # no session.key made


@pytest.mark.parametrize(("missing", "env"), [
    ("SATCHEL_STORE_KEY", {}),
    ("SATCHEL_SESSION_KEY", {"SATCHEL_STORE_KEY": "k"}),
    ("SATCHEL_SESSION_KEY=(not shown) refused; allowed: at least 32 bytes",
     {"SATCHEL_STORE_KEY": "k", "SATCHEL_SESSION_KEY": "short"}),
    ("SATCHEL_DATABASE_URL", {"SATCHEL_STORE_KEY": "k",
                              "SATCHEL_SESSION_KEY": SESSION_KEY}),
    ("SATCHEL_KEYRING_KEY", {"SATCHEL_STORE_KEY": "k",
                             "SATCHEL_SESSION_KEY": SESSION_KEY,
                             "SATCHEL_DATABASE_URL": "postgresql+asyncpg://db/satchel",
                             "SATCHEL_KEYRING_URI": "postgres://db/keyring"}),
    # the data key keys every username hash: a replica without it signed learners up again
    ("SATCHEL_DATA_KEY", {"SATCHEL_STORE_KEY": "k", "SATCHEL_SESSION_KEY": SESSION_KEY,
                          "SATCHEL_DATABASE_URL": "postgresql+asyncpg://db/satchel",
                          "SATCHEL_KEYRING_URI": "postgres://db/keyring",
                          "SATCHEL_KEYRING_KEY": "k"}),
    ("SATCHEL_DATA_KEY=(not shown) refused; allowed: at least 32 bytes",
     {"SATCHEL_STORE_KEY": "k", "SATCHEL_SESSION_KEY": SESSION_KEY, "SATCHEL_DATA_KEY": "short",
      "SATCHEL_DATABASE_URL": "postgresql+asyncpg://db/satchel",
      "SATCHEL_KEYRING_URI": "postgres://db/keyring", "SATCHEL_KEYRING_KEY": "k"}),
    # the default keyring is a folder of this replica's own: keys no other replica has
    ("SATCHEL_KEYRING_URI", {"SATCHEL_STORE_KEY": "k", "SATCHEL_SESSION_KEY": SESSION_KEY,
                             "SATCHEL_DATA_KEY": SESSION_KEY,
                             "SATCHEL_DATABASE_URL": "postgresql+asyncpg://db/satchel"}),
    ("SATCHEL_KEYRING_URI", {"SATCHEL_STORE_KEY": "k", "SATCHEL_SESSION_KEY": SESSION_KEY,
                             "SATCHEL_DATA_KEY": SESSION_KEY,
                             "SATCHEL_DATABASE_URL": "postgresql+asyncpg://db/satchel",
                             "SATCHEL_KEYRING_URI": "sqlite:///tmp/keyring.db"}),
])
def test_a_replica_without_what_it_needs_refuses_to_start(tmp_path: Path, missing: str,
                                                          env: dict[str, str]) -> None:
    """On a shared vault, a missing or unusable secret or a store only this replica would see
    stops `satchel serve` at once: exit 2 and one line naming it (not a 500 per request later).
    Nothing is contacted: the hosts named do not exist."""
    full = {**os.environ, "SATCHEL_DATA_DIR": str(tmp_path),
            "SATCHEL_VAULT_URI": "postgres://db/vault", **env}
    for name in ("SATCHEL_STORE_KEY", "SATCHEL_SESSION_KEY", "SATCHEL_DATABASE_URL",
                 "SATCHEL_KEYRING_URI", "SATCHEL_KEYRING_KEY", "SATCHEL_DATA_KEY"):
        if name not in env:
            full.pop(name, None)
    r = subprocess.run([sys.executable, "-m", "holder_api.cli", "serve"], env=full,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("satchel: configuration error:"), r.stderr
    assert missing in lines[0], lines


def test_deployment_id_is_checked(tmp_path: Path) -> None:
    base = {"SATCHEL_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(base).deployment_id is None
    assert Settings.from_env({**base, "SATCHEL_DEPLOYMENT_ID": "edu.example"}).deployment_id == (
        "edu.example")
    with pytest.raises(SettingsError, match="DEPLOYMENT_ID"):
        Settings.from_env({**base, "SATCHEL_DEPLOYMENT_ID": "two words"})
