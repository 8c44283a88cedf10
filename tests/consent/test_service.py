"""Fail closed: when the ledger cannot be written, the disclosure does not happen (503)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from consent.errors import InvalidEvent, LedgerErased, LedgerUnavailable
from consent.events import ConsentEvent, EventKind
from consent.ledger import Ledger
from consent.service import ConsentService
from tests.support.ledger import NaclSealer
from wallet.errors import BadInput, Unavailable

A = "learner-a"
EVENT = ConsentEvent(kind=EventKind.PRESENTATION_SENT, counterparty="x509_san_dns:v.example",
                     claims=[["given_name"]])


async def disclose(service: ConsentService, sealer: NaclSealer, sent: list[str]) -> None:
    """What sharing does: record first, then send."""
    await service.record_before_disclosure(A, sealer, EVENT)
    sent.append("vp_token")


async def refused(action: Callable[[], Awaitable[None]], sent: list[str]) -> Unavailable:
    with pytest.raises(Unavailable) as info:
        await action()
    # aiosqlite stops the worker of a failed connect through the loop: let it finish first.
    await asyncio.sleep(0.05)
    assert sent == []
    assert info.value.status == 503 and info.value.code == "ledger_unavailable"
    return info.value


async def test_records_then_discloses(ledger: Ledger, sealer: NaclSealer) -> None:
    service, sent = ConsentService(ledger), []
    await disclose(service, sealer, sent)
    assert sent == ["vp_token"]
    assert (await service.verify(A)).length == 1


@pytest.mark.parametrize("table", ["ledger_entries", "ledger_heads"])
async def test_dropped_table_refuses_and_rolls_back(ledger: Ledger, sealer: NaclSealer,
                                                    engine: AsyncEngine, table: str) -> None:
    service, sent = ConsentService(ledger), []
    await service.record(A, sealer, EVENT)
    async with engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    await refused(lambda: disclose(service, sealer, sent), sent)
    async with engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))
    report = await ledger.verify(A)  # nothing half-written: the head did not move
    assert report.valid and report.length == 1


async def test_unreachable_database_refuses(backend, signing_key, sealer: NaclSealer) -> None:
    url = ("sqlite+aiosqlite:////nonexistent-dir/x/satchel.db" if backend.kind == "sqlite"
           else "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    engine = create_async_engine(url)
    try:
        sent: list[str] = []
        await refused(lambda: disclose(ConsentService(Ledger(engine, signing_key)), sealer, sent),
                      sent)
    finally:
        await engine.dispose()


async def test_disposed_engine_under_a_dropped_database(backend, signing_key,
                                                        sealer: NaclSealer) -> None:
    """The store vanishes under a running engine (database dropped / file deleted)."""
    engine = create_async_engine(backend.database_url)
    from consent.models import create_all
    await create_all(engine)
    service, sent = ConsentService(Ledger(engine, signing_key)), []
    await service.record(A, sealer, EVENT)
    await engine.dispose()
    if backend.kind == "sqlite":
        import os
        os.remove(backend.database_url.split("///", 1)[1])
        os.makedirs(backend.database_url.split("///", 1)[1])  # a directory where the file was
    else:
        import asyncpg
        conn = await asyncpg.connect("postgres://postgres@127.0.0.1:5432/postgres")
        name = backend.database_url.rsplit("/", 1)[1]
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()
    try:
        await refused(lambda: disclose(service, sealer, sent), sent)
    finally:
        await engine.dispose()


async def test_driver_failure_mid_transaction_refuses(ledger: Ledger, sealer: NaclSealer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.ext.asyncio import AsyncConnection
    real = AsyncConnection.execute
    calls = {"n": 0}

    async def flaky(self, statement, *args, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:  # after the head is locked, while inserting the entry
            raise RuntimeError("connection reset")
        return await real(self, statement, *args, **kw)

    monkeypatch.setattr(AsyncConnection, "execute", flaky)
    sent: list[str] = []
    err = await refused(lambda: disclose(ConsentService(ledger), sealer, sent), sent)
    assert isinstance(err, LedgerUnavailable)
    monkeypatch.setattr(AsyncConnection, "execute", real)
    assert (await ledger.verify(A)).length == 0


async def test_sealer_failure_refuses(ledger: Ledger) -> None:
    class Broken(NaclSealer):
        def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
            raise OSError("hsm gone")

    sent: list[str] = []
    await refused(lambda: disclose(ConsentService(ledger), Broken(), sent), sent)


async def test_slow_ledger_times_out_closed(ledger: Ledger, sealer: NaclSealer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    async def stuck(*args: object, **kw: object) -> None:
        await asyncio.sleep(10)

    monkeypatch.setattr(ledger, "append", stuck)
    sent: list[str] = []
    await refused(lambda: disclose(ConsentService(ledger, timeout=0.05), sealer, sent), sent)


async def test_request_errors_pass_through_typed(ledger: Ledger, sealer: NaclSealer) -> None:
    service = ConsentService(ledger)
    with pytest.raises(InvalidEvent) as info:
        await service.record_before_disclosure(A, sealer, "not an event")  # type: ignore[arg-type]
    assert isinstance(info.value, BadInput) and not isinstance(info.value, Unavailable)
    await service.erase(A)
    with pytest.raises(LedgerErased):
        await service.record_before_disclosure(A, sealer, EVENT)
