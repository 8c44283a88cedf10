"""The learner's credentials as the API shows them: summaries, details, deletion.

Summaries and details are built from the sealed :class:`~wallet.vault.StoredCredential` only; the
raw credential is returned exactly as it was received. A list reads only the sealed
:class:`~wallet.vault.CredentialSummary` records (never the raw credential or its claims).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wallet.crypto import VaultKey
from wallet.errors import BadInput
from wallet.vault import CredentialQuery, CredentialSummary, StoredCredential, VaultStore

__all__ = ["CredentialPage", "CredentialService", "detail", "summary"]

_GENERIC_TYPES = {"VerifiableCredential", "VerifiableAttestation"}


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def _main_type(types: tuple[str, ...]) -> str | None:
    specific = [t for t in types if t not in _GENERIC_TYPES] or list(types)
    return specific[-1] if specific else None


def summary(c: StoredCredential | CredentialSummary) -> dict[str, Any]:
    return {
        "id": c.id,
        "format": c.format,
        "type": _main_type(c.types),
        "types": list(c.types),
        "issuer": c.issuer,
        "title": c.title,
        "issued_at": _iso(c.issued_at),
        "expires_at": _iso(c.expires_at),
        "status": c.status,
        "added_at": _iso(c.added_at),
    }


def detail(c: StoredCredential) -> dict[str, Any]:
    d = c.data
    out = summary(c)
    out.update({
        "raw": c.raw,
        "claims": d.get("claims", {}),
        "disclosable": d.get("disclosable", []),
        "elements": d.get("elements"),
        "verification": d.get("verification", {
            "signature": "unsupported", "issuer_trusted": False, "status": c.status,
            "checked_at": None}),
    })
    return out


@dataclass(frozen=True, slots=True)
class CredentialPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


class CredentialService:
    def __init__(self, vault: VaultStore) -> None:
        self._vault = vault

    async def list(self, learner_id: str, dek: VaultKey, *, q: str | None = None,
                   type: str | None = None, issuer: str | None = None,  # noqa: A002 - API name
                   format: str | None = None, limit: int = 50,  # noqa: A002 - API name
                   cursor: str | None = None) -> CredentialPage:
        if not 1 <= limit <= 200:
            raise BadInput("limit must be between 1 and 200")
        for name, value in (("q", q), ("type", type), ("issuer", issuer), ("format", format)):
            if value is not None and len(value) > 512:
                raise BadInput(f"{name} is too long")
        query = CredentialQuery(format=format or None, type=type or None, issuer=issuer or None,
                                text=q or None)
        page = await self._vault.for_learner(learner_id, dek).credentials.list_summaries(
            query, limit=limit, cursor=cursor)
        return CredentialPage([summary(c) for c in page.items], page.next_cursor)

    async def get(self, learner_id: str, dek: VaultKey, credential_id: str) -> dict[str, Any]:
        c = await self._vault.for_learner(learner_id, dek).credentials.get(credential_id)
        return detail(c)

    async def delete(self, learner_id: str, dek: VaultKey, credential_id: str) -> None:
        await self._vault.for_learner(learner_id, dek).credentials.delete(credential_id)
