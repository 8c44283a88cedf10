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
from holder_api.settings import Settings
from tests.conftest import Backend
from tests.holder_api.conftest import app_env
from wallet.crypto import VaultKey
from wallet.vault import LearnerVault, StoredCredential, VaultStore

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
    """The vault as ``satchel serve`` with ``settings`` opens it (lists in ``read``)."""
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
        assert "done: 1 of 2 vault(s) will rebuild their summary rows" in err
        assert "ana" not in err and "ben" not in err  # counts only, never ids
        assert await ana._store.fetch(SUMMARIES, "") is None
        assert await asyncio.to_thread(_run, env, monkeypatch) == 0  # idempotent
        assert "done: 0 of 2 vault(s)" in capsys.readouterr().err
        assert await _listed(ana) == [new.id, kept.id]  # rebuilt from the credential rows
        assert await ana._store.fetch(SUMMARIES, "") is not None  # and marked again
        assert set(dict(await ana._store.fetch_all(SUMMARIES))) == {"", new.id, kept.id}
    finally:
        await store.close()


async def test_forget_summary_markers_reports_progress_and_counts(backend: Backend) -> None:
    settings = Settings.from_env(app_env(backend))
    store = await _open(settings)
    try:
        for n in range(5):
            await store.create_profile(f"p{n}")
            vault = store.for_learner(f"p{n}", VaultKey.generate())
            await vault.credentials.put(_credential(n))
            await vault.credentials.list_summaries()
        seen: list[tuple[int, int, int]] = []
        assert await store.forget_summary_markers(lambda *p: seen.append(p)) == (5, 5)
        assert seen == [(5, 5, 5)]  # every 1000 profiles, and at the end
        assert await store.forget_summary_markers() == (5, 0)
    finally:
        await store.close()


def test_reset_summary_markers_without_a_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SATCHEL_DATA_DIR", str(tmp_path))
    assert main(["reset-summary-markers"]) == 0
    assert "no vault yet: nothing to reset" in capsys.readouterr().err
