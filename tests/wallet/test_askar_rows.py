"""The lean reader of Askar row batches gives exactly what aries_askar's own entries give."""

from __future__ import annotations

from pathlib import Path

from aries_askar import Store, bindings
from aries_askar.store import EntryList

from wallet.vault.askar_rows import entry_rows


async def test_entry_rows_match_aries_askar_entries(tmp_path: Path) -> None:
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
    await store.close(remove=True)
