"""The lean reader of Askar row batches gives exactly what aries_askar's own entries give."""

from __future__ import annotations

from pathlib import Path

import pytest
from aries_askar import Store, bindings
from aries_askar.store import EntryList

from wallet.vault import askar_rows
from wallet.vault.askar_rows import entry_rows


@pytest.fixture(params=["direct", "through aries_askar"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of reading rows: the direct calls, and the fallback for an aries_askar release
    whose library handle is not where this one keeps it."""
    monkeypatch.setattr(askar_rows, "_CALLS", [])
    if request.param != "direct":
        class Renamed:
            def __init__(self) -> None:
                raise AttributeError("'LibLoad' object has no attribute '_cdll'")
        monkeypatch.setattr(askar_rows, "_Calls", Renamed)
    return str(request.param)


async def test_entry_rows_match_aries_askar_entries(tmp_path: Path, reader: str) -> None:
    store = await Store.provision(f"sqlite://{tmp_path / 'rows.db'}", "raw",
                                  Store.generate_raw_key())
    written = {"plain": b"one", "empty": b"", "caf\u00e9 \u2603": bytes(range(256)) * 9, "": b"\x00"}
    async with store.transaction() as tx:
        for name, value in written.items():
            await tx.insert("c", name, value)
        await tx.commit()
    handle = await bindings.scan_start(store.handle, None, "c", None)
    batches = []
    while batch := await bindings.scan_next(handle):
        batches.append(batch)
    read = [row for batch in batches for row in entry_rows(batch)]
    theirs = [(e.name, bytes(e.raw_value)) for batch in batches for e in EntryList(batch)]
    assert read == theirs
    assert dict(read) == written
    assert (askar_rows._CALLS == [None]) == (reader != "direct")
    await store.close(remove=True)
