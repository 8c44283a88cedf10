"""``satchel reset-summary-markers``: after a downgrade to a version without summary rows and an
upgrade again, a vault's marker says its summary rows are complete while the earlier version
stored and deleted credentials without them (simulated as the rolling-upgrade tests in
``tests/wallet/test_vault.py`` do: credential rows written and removed alone). Lists in ``read``
then miss credentials and show deleted ones; the command removes every marker, and each
learner's next list rebuilds the summary rows (docs/operations.md). Both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from holder_api.cli import main
from holder_api.compose.stores import open_stores
from holder_api.settings import Settings
from tests.support.apps import app_env
from tests.support.backends import Backend
from wallet.clock import SYSTEM_CLOCK
from wallet.crypto import VaultKey
from wallet.vault import LearnerVault, StoredCredential, VaultStore, generate_store_key

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUMMARIES = "credential_summary"  # the Askar category of the summary rows; the marker is ""


def _credential(n: int) -> StoredCredential:
    return StoredCredential(
        id=f"urn:uuid:marker-{n:04d}", format="jwt_vc_json", raw=f"eyJ.raw-{n}.sig",
        types=("VerifiableCredential",), issuer="https://uni.example", title=f"Badge {n}",
        issued_at=T0, expires_at=None, status="valid", added_at=T0 + timedelta(minutes=n),
        data={})


async def _stored_by_earlier_version(vault: LearnerVault, dek: VaultKey,
                                     c: StoredCredential) -> None:
    """A credential row as a version without summary rows wrote it: no summary row."""
    await vault._store.insert("credential", c.id, dek.seal(
        c.to_bytes(), b"satchel/vault/v1\x00credential\x00" + c.id.encode()),
        vault.credentials._tags(c))


async def _listed(vault: LearnerVault) -> list[str]:
    return [c.id for c in (await vault.credentials.list_summaries()).items]


async def _open(settings: Settings) -> VaultStore:
    """The vault as ``satchel serve`` with ``settings`` opens it (lists in ``read``), in a
    deployment that ``satchel serve`` started once (the operator command checks it)."""
    async with open_stores(settings, SYSTEM_CLOCK, None):
        pass
    return await VaultStore.open(settings.vault_uri, settings.store_key or
                                 VaultStore.load_or_create_store_key(settings.data_dir),
                                 summary_rows="read")


def _run(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(["reset-summary-markers"])


async def test_reset_summary_markers_makes_lists_rebuild_after_a_downgrade(
        backend: Backend, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    env = app_env(backend)
    settings = Settings.from_env(env)
    store = await _open(settings)
    try:
        dek = VaultKey.generate()
        await store.create_profile("ana")
        await store.create_profile("ben")  # never listed: no marker
        ana = store.for_learner("ana", dek)
        kept, gone = _credential(1), _credential(2)
        await ana.credentials.put(kept)
        await ana.credentials.put(gone)
        assert await _listed(ana) == [gone.id, kept.id]  # the marker is written
        assert await ana._store.fetch(SUMMARIES, "") is not None
        # the earlier version runs again: stores one credential, deletes another
        new = _credential(3)
        await _stored_by_earlier_version(ana, dek, new)
        await ana._store.remove("credential", gone.id)
        assert await _listed(ana) == [gone.id, kept.id]  # the stale marker: the known gap

        assert await asyncio.to_thread(_run, env, monkeypatch) == 0
        err = capsys.readouterr().err
        assert "2/2 vaults checked, 1 marker(s) removed" in err
        assert ("done: 1 marker(s) removed of 2 vault(s); each rebuilds its summary rows at its "
                "first list with SATCHEL_SUMMARY_ROWS=read") in err
        assert "ana" not in err and "ben" not in err  # counts only, never ids
        assert await ana._store.fetch(SUMMARIES, "") is None
        assert await asyncio.to_thread(_run, env, monkeypatch) == 0  # idempotent
        assert "done: 0 marker(s) removed of 2 vault(s)" in capsys.readouterr().err
        assert await _listed(ana) == [new.id, kept.id]  # rebuilt from the credential rows
        assert await ana._store.fetch(SUMMARIES, "") is not None  # and marked again
        assert set(dict(await ana._store.fetch_all(SUMMARIES))) == {"", new.id, kept.id}
    finally:
        await store.close()



async def _vaults_with_markers(store: VaultStore, prefix: str, n: int) -> None:
    """``n`` vaults with one credential each, listed once (which writes their marker)."""
    for i in range(n):
        await store.create_profile(f"{prefix}{i}")
        vault = store.for_learner(f"{prefix}{i}", VaultKey.generate())
        await vault.credentials.put(_credential(i))
        await vault.credentials.list_summaries()

async def test_forget_summary_markers_reports_progress_and_counts(backend: Backend) -> None:
    settings = Settings.from_env(app_env(backend))
    store = await _open(settings)
    try:
        await _vaults_with_markers(store, "p", 5)
        seen: list[tuple[int, int, int]] = []
        assert await store.forget_summary_markers(lambda *p: seen.append(p)) == (5, 5)
        assert seen == [(5, 5, 5)]  # every 1000 profiles, and at the end
        assert await store.forget_summary_markers() == (5, 0)
    finally:
        await store.close()


async def test_a_vault_erased_during_the_run_is_skipped(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """An erasure (or the orphan sweep) removes a profile after the run listed it: that vault
    has no marker any more, and the run goes on with the others."""
    settings = Settings.from_env(app_env(backend))
    store = await _open(settings)
    try:
        await _vaults_with_markers(store, "e", 4)
        listing = VaultStore.learner_profiles

        async def erased_meanwhile(self: VaultStore) -> list[str]:
            profiles = await listing(self)
            await self.remove_profile("e1")
            await self.remove_profile("e2")
            return profiles

        monkeypatch.setattr(VaultStore, "learner_profiles", erased_meanwhile)
        assert await store.forget_summary_markers() == (4, 2)
    finally:
        await store.close()


@pytest.mark.parametrize("command", ["reset-summary-markers", "sweep"])
def test_operator_commands_create_nothing_in_a_wrong_data_folder(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    wrong = tmp_path / "not-the-data-folder"
    monkeypatch.setenv("SATCHEL_DATA_DIR", str(wrong))
    assert main([command]) == 1
    err = capsys.readouterr().err
    assert f"no vault store key (store.key) in the data folder {wrong}" in err
    assert "Nothing was changed" in err
    assert not wrong.exists()  # no store.key, no session.key, no database


@pytest.mark.parametrize("command", ["reset-summary-markers", "sweep"])
def test_operator_commands_name_no_uri_when_there_is_no_vault(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A store key but no store where SATCHEL_VAULT_URI points: an error, the URI not shown
    (it may carry a password)."""
    monkeypatch.setenv("SATCHEL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SATCHEL_STORE_KEY", generate_store_key())
    monkeypatch.setenv("SATCHEL_VAULT_URI", f"sqlite://{tmp_path}/missing.db")
    assert main([command]) == 1
    err = capsys.readouterr().err
    assert f"no vault store at the data folder {tmp_path}" in err
    assert "missing.db" not in err and not (tmp_path / "missing.db").exists()

