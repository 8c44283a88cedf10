"""Helpers several API test modules share: a credential put straight into a vault, ledger events
recorded straight through the service, the at-rest canary search over a data folder, and an inbox
link as a release before revision 0006 wrote it."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.support.backends import Backend, fresh_backend
from wallet.crypto import VaultKey
from wallet.ports import Activity, ActivityKind
from wallet.receive.inbox import LINK_CATEGORY
from wallet.receive.tables import inbox_links
from wallet.vault import StoredCredential


async def put_credential(client: TestClient[Any, Any], token: str, *, title: str,
                         types: tuple[str, ...] = ("VerifiableCredential", "OpenBadgeCredential"),
                         issuer: str = "https://uni.example", fmt: str = "ldp_vc",
                         raw: str = "{}", claims: dict[str, Any] | None = None,
                         added: datetime | None = None, status: str = "valid",
                         verification: dict[str, Any] | None = None,
                         expires_at: datetime | None = None) -> str:
    """Store a credential straight into the learner's vault (the import route is tested apart):
    by default valid, with a valid signature of an issuer not on the trust list."""
    services = client.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    cid = str(uuid.uuid4())
    await services.stores.vault.for_learner(session.learner_id, session.dek).credentials.put(
        StoredCredential(id=cid, format=fmt, raw=raw, types=types, issuer=issuer, title=title,
                         issued_at=datetime(2024, 1, 1, tzinfo=UTC), expires_at=expires_at,
                         status=status, added_at=added or datetime.now(UTC),
                         data={"claims": claims or {}, "disclosable": [],
                               "verification": verification or {
                                   "signature": "valid", "issuer_trusted": False,
                                   "status": status, "checked_at": None}}))
    return cid


def encoded_forms(canary: str) -> list[bytes]:
    raw = canary.encode()
    forms = [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"=")]
    # base64 of a string embedded at any byte offset: the three alignments
    for shift in (1, 2):
        enc = base64.b64encode(b"x" * shift + raw)[4:-4]
        forms.append(enc)
    return forms


def grep_tree(folder: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path.name}:{n!r}" for n in needles if n in data]
    return hits


VERIFIER = "x509_san_dns:verifier.example"


async def record(client: TestClient[Any, Any], token: str, activity: Activity) -> str:
    services = client.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    return await services.consent.activity.record(session.learner_id, session.dek, activity,
                                                  before_disclosure=True)


async def five_events(client: TestClient[Any, Any], token: str) -> list[str]:
    ids = [await record(client, token, Activity(kind=ActivityKind.CREDENTIAL_RECEIVED,
                                                counterparty="https://uni.example",
                                                credential_ids=("c1",)))]
    for i in range(3):
        ids.append(await record(client, token, Activity(
            kind="presentation_sent", counterparty=VERIFIER, counterparty_name="Employer",
            purpose=f"job application {i}", claims=(("given_name",), ("degrees", None, "type")),
            credential_ids=("c1",))))
    ids.append(await record(client, token, Activity(kind=ActivityKind.SHARE_LINK_CREATED,
                                                    counterparty="share-link:1",
                                                    claims=(("title",),), credential_ids=("c1",))))
    return ids


async def earlier_inbox_link(client: TestClient[Any, Any], learner_id: str, dek: VaultKey,
                             label: str) -> str:
    """An inbox link as a release before revision 0006 created it: its row without
    ``sealed_record``, its label in the learner's vault. Its id."""
    link_id, now = str(uuid.uuid4()), datetime.now(UTC)
    await client.app[WIRING].stores.vault.for_learner(learner_id, dek).records(
        LINK_CATEGORY).put(link_id, {"label": label, "created_at": now.isoformat()})
    async with client.app[WIRING].stores.engine.begin() as conn:  # as that release wrote it
        await conn.execute(inbox_links.insert().values(
            id=link_id, learner_id=learner_id, token_hash=uuid.uuid4().hex, created_at=now))
    return link_id


@asynccontextmanager
async def other_backend(backend: Backend, folder: Path) -> AsyncIterator[Backend]:
    """The backend this test does not run on: PostgreSQL for SQLite and the other way round."""
    await asyncio.to_thread(folder.mkdir)
    async with fresh_backend("sqlite" if backend.kind == "postgres" else "postgres",
                             folder) as other:
        yield other
