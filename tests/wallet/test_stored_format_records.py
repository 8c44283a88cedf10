"""Records as today's vaults hold them, one per stored format, read back exactly as before.

Pinned before ``StoredCredential.format`` was typed (wallet.formats.traits): the sealed
plaintexts below are what ``to_bytes`` wrote then, byte for byte. Each must parse, keep its
format's spelling, write the same bytes again, and be found by a format filter on every backend
(the filter is a blinded tag of the format string: a changed spelling would hide the record).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.backends import fresh_backend
from wallet.crypto import VaultKey
from wallet.vault import (
    CredentialQuery,
    CredentialSummary,
    InMemoryVault,
    StoredCredential,
    VaultBackend,
    VaultStore,
    generate_store_key,
)

#: Every spelling a record may carry in ``format`` today (the four wire names and ``pdf``).
FORMATS = ("dc+sd-jwt", "vc+sd-jwt", "jwt_vc_json", "ldp_vc", "pdf")


def _record(fmt: str) -> bytes:
    return (f'{{"v":1,"id":"urn:uuid:{fmt}","format":"{fmt}","raw":"raw-{fmt}","types":["T"],'
            '"issuer":"https://uni.example","title":"Titre é","issued_at":'
            '"2025-05-01T12:00:00+02:00","expires_at":null,"status":"valid",'
            '"added_at":"2026-01-01T00:00:00+00:00","data":{"claims":{"a":1}}}').encode()


def _summaries(fmt: str) -> dict[str, bytes]:
    """The three summary versions a vault may hold, as each was written."""
    head = (f'"urn:uuid:{fmt}","{fmt}",["T"],"https://uni.example","Titre",'
            '"2025-05-01T12:00:00+02:00",null,"valid","2026-01-01T00:00:00+00:00","text"')
    return {"s1": f'["s1",{head}]'.encode(),
            "s2": f'["s2",{head},"Uni","trusted"]'.encode(),
            "s3": f'["s3",{head},"Uni","trusted","fr",null]'.encode()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_stored_record_of_every_format_reads_and_writes_as_before(fmt: str) -> None:
    blob = _record(fmt)
    stored = StoredCredential.from_bytes(blob)
    assert stored.format == fmt and type(stored.format) is str
    assert stored.to_bytes() == blob
    summary = stored.summary()
    assert summary.format == fmt
    assert CredentialSummary.from_bytes(summary.to_bytes()) == summary
    for version, sealed in _summaries(fmt).items():
        read = CredentialSummary.from_bytes(sealed)
        assert read.format == fmt and type(read.format) is str, version
        again = json.loads(read.to_bytes())
        assert again[0] == "s3" and again[2] == fmt


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VaultBackend]:
    if request.param == "memory":
        yield InMemoryVault()
        return
    async with fresh_backend(request.param, tmp_path) as backend:
        s = await VaultStore.open(backend.vault_uri, generate_store_key())
        yield s
        await s.close()


async def test_every_format_is_found_by_its_filter_on_every_backend(store: VaultBackend) -> None:
    await store.create_profile("ada")
    ada = store.for_learner("ada", VaultKey.generate())
    for fmt in FORMATS:
        await ada.credentials.put(StoredCredential.from_bytes(_record(fmt)))
    for fmt in FORMATS:
        page = await ada.credentials.list(CredentialQuery(format=fmt))
        assert [c.id for c in page.items] == [f"urn:uuid:{fmt}"]
        got = await ada.credentials.get(f"urn:uuid:{fmt}")
        assert got.to_bytes() == _record(fmt)
        assert got.added_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert (await ada.credentials.list(CredentialQuery(format="jwt_vc"))).items == []
