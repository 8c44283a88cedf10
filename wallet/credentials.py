"""The learner's credentials: import, list, read (with a fresh status), portfolio, deletion.

Details are built from the sealed :class:`~wallet.vault.StoredCredential` only; the raw
credential is returned exactly as it was received. A list reads only the sealed
:class:`~wallet.vault.CredentialSummary` records (never the raw credential or its claims).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.crypto import VaultKey
from wallet.errors import BadInput, SatchelError
from wallet.formats.model import StatusReference, Verification
from wallet.formats.pdf import DEFAULT_MAX_PDF_BYTES
from wallet.intake import STATUS_PROBLEMS, CredentialIntake
from wallet.ledger_outbox import LedgerOutbox
from wallet.microcred import (
    ElementsDocument,
    Portfolio,
    PortfolioItem,
    build_portfolio,
    map_elements,
    portfolio_items,
)
from wallet.pdf_intake import (
    PDF_FORMAT,
    PdfIntake,
    attached_ids,
    pdf_portfolio_items,
    retitled,
)
from wallet.ports import Activity, ActivityKind
from wallet.vault import CredentialQuery, CredentialSummary, StoredCredential, VaultStore

__all__ = ["CredentialDetail", "CredentialPage", "CredentialService"]


@dataclass(frozen=True, slots=True)
class CredentialDetail:
    """One credential as the learner reads it: the stored record (its summary fields and the
    raw credential exactly as received) and what intake found in it."""

    credential: StoredCredential
    claims: dict[str, Any]  # the credential's claims, a JSON document
    disclosable: list[list[str | int | None]]  # claim paths the learner may disclose selectively
    elements: ElementsDocument | None  # the micro-credential elements, in the languages asked
    verification: Verification  # the checks at import (and the last status check)

    @classmethod
    def of(cls, c: StoredCredential,
           elements: ElementsDocument | None = None) -> CredentialDetail:
        d = c.data
        unchecked: Verification = {"signature": "unsupported", "issuer_trusted": False,
                                   "status": c.status, "checked_at": None}
        return cls(
            credential=c, claims=d.get("claims", {}), disclosable=d.get("disclosable", []),
            elements=elements if elements is not None else d.get("elements"),
            verification=d.get("verification", unchecked))


@dataclass(frozen=True, slots=True)
class CredentialPage:
    items: list[CredentialSummary]
    next_cursor: str | None


#: How long a checked status stays fresh before a read re-checks it through the status list.
STATUS_FRESH = timedelta(minutes=10)


class CredentialService:
    def __init__(self, vault: VaultStore, intake: CredentialIntake, outbox: LedgerOutbox,
                 clock: Clock = SYSTEM_CLOCK, *,
                 max_pdf_bytes: int = DEFAULT_MAX_PDF_BYTES) -> None:
        self._vault = vault
        self._intake = intake
        self._pdf = PdfIntake(intake, max_bytes=max_pdf_bytes)
        self._outbox = outbox  # where each write stages its ledger entry (docs/consent.md)
        self._clock = clock

    async def import_credential(self, learner_id: str, dek: VaultKey, raw: object, *,
                                languages: Sequence[str] = ("en",),
                                source: str = "import",
                                inbox_item_id: str | None = None) -> StoredCredential:
        """Verify and store a credential the learner already holds (``inbox_item_id``: the
        inbox item it was pushed as, named in its ledger entry)."""
        result = await self._intake.admit(raw, languages=languages, source=source)
        details: dict[str, str] = {"source": source, "format": result.stored.format}
        if inbox_item_id is not None:
            details["item_id"] = inbox_item_id
        # the credential and its ledger entry (staged in the vault's ledger outbox): one
        # transaction, so never a credential the ledger does not name (docs/consent.md)
        async with self._vault.for_learner(learner_id, dek).atomic() as tx:
            staged = await self._outbox.stage(tx, Activity(
                kind=ActivityKind.CREDENTIAL_RECEIVED, counterparty=result.stored.issuer,
                credential_ids=(result.stored.id,), details=details))
            await tx.credentials.put(result.stored)
        self._outbox.flush_soon(learner_id, dek, staged)
        return result.stored

    async def import_pdf(self, learner_id: str, dek: VaultKey, data: bytes, *,
                         languages: Sequence[str] = ("en",), keep_unsigned: bool = False,
                         source: str = "import") -> StoredCredential:
        """Verify and store a signed PDF and the credentials attached to it (all or none), each
        with its ledger entry, in one vault transaction."""
        admitted = await self._pdf.admit(data, now=self._clock(), languages=languages,
                                         keep_unsigned=keep_unsigned, source=source)
        async with self._vault.for_learner(learner_id, dek).atomic() as tx:
            for c in [*admitted.attached, admitted.pdf]:
                await self._outbox.stage(tx, Activity(
                    kind=ActivityKind.CREDENTIAL_RECEIVED, counterparty=c.issuer, credential_ids=(c.id,),
                    details={"source": source if c is admitted.pdf else "pdf_attachment",
                             "format": c.format}))
                await tx.credentials.put(c)
        self._outbox.flush_soon(learner_id, dek)
        return admitted.pdf

    async def _refresh_status(self, learner_id: str, dek: VaultKey,
                              c: StoredCredential) -> StoredCredential:
        ref = c.data.get("status_ref")
        verification = c.data.get("verification")
        checked_at = None if verification is None else verification.get("checked_at")
        now = self._clock()
        if verification is None or not isinstance(ref, dict) or not isinstance(checked_at, str):
            return c
        try:
            fresh = now - datetime.fromisoformat(checked_at.replace("Z", "+00:00")) < STATUS_FRESH
        except ValueError:
            fresh = False
        if fresh:
            return c
        raw_refs = c.data.get("status_refs") or [ref]
        try:
            state, status_problems = await self._intake.status_verdict(
                [StatusReference(kind=r["kind"], uri=r["uri"], index=int(r["index"]),
                                 purpose=r.get("purpose")) for r in raw_refs], issuer=c.issuer)
        except (KeyError, TypeError, ValueError, SatchelError):
            return c
        # the status problems are the list's of *now*: replace the ones of the last check
        kept = [p for p in verification.get("problems") or [] if p not in STATUS_PROBLEMS]
        checked: Verification = {**verification, "status": state,
                                 "checked_at": now.isoformat().replace("+00:00", "Z"),
                                 "problems": list(dict.fromkeys([*kept, *status_problems]))}
        updated = dataclasses.replace(c, status=state, data={**c.data, "verification": checked})
        await self._vault.for_learner(learner_id, dek).credentials.replace(updated)
        return updated

    async def portfolio(self, learner_id: str, dek: VaultKey, *,
                        languages: Sequence[str] = ("en",)) -> Portfolio:
        items: list[PortfolioItem] = []
        of: dict[str, list[PortfolioItem]] = {}  # credential id -> its items
        pdfs: list[StoredCredential] = []  # PDFs whose items come from what they carry
        store = self._vault.for_learner(learner_id, dek).credentials
        for c in await store.all():
            if (fixed := retitled(c)) is not None:  # the list (its summary) shows it from now
                await store.replace(fixed)
            claims = c.data.get("claims")
            stored = c.data.get("portfolio_items")
            if stored and c.data.get("languages") == list(languages):
                try:  # mapped once at import: the portfolio of 1,000 credentials stays cheap
                    of[c.id] = [PortfolioItem.from_record(r) for r in stored]
                    items += of[c.id]
                    continue
                except (KeyError, TypeError, ValueError):
                    pass  # an older record: map it again below
            if c.format == PDF_FORMAT:
                pdfs.append(c)  # its claims are the document's metadata, which do not map
                continue
            if isinstance(claims, dict):
                try:
                    of[c.id] = portfolio_items(c.id, claims, format=c.format,
                                               languages=languages)
                    items += of[c.id]
                except SatchelError:
                    continue  # a credential that does not map is simply not in the portfolio
        for c in pdfs:  # stored before its items were (or in other languages): its attachment's
            items += [PortfolioItem.from_record(r) for r in pdf_portfolio_items(
                c.id, [(a, [i.to_record() for i in of.get(a, [])]) for a in attached_ids(c)])]
        return build_portfolio(items)

    async def list(self, learner_id: str, dek: VaultKey, *, q: str | None = None,
                   type: str | None = None, issuer: str | None = None,  # type, format:
                   format: str | None = None, limit: int = 50,  # the API's names (builtins)
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
        return CredentialPage(list(page.items), page.next_cursor)

    async def get(self, learner_id: str, dek: VaultKey, credential_id: str, *,
                  languages: Sequence[str] = ("en",)) -> CredentialDetail:
        store = self._vault.for_learner(learner_id, dek).credentials
        c = await store.get(credential_id)
        if (fixed := retitled(c)) is not None:  # a PDF stored with its attachment's title
            await store.replace(fixed)
            c = fixed
        c = await self._refresh_status(learner_id, dek, c)
        claims = c.data.get("claims")
        if list(languages) != c.data.get("languages") and isinstance(claims, dict):
            try:  # multilingual values follow the learner's languages
                return CredentialDetail.of(c, map_elements(claims, format=c.format,
                                                           languages=languages).to_json())
            except SatchelError:
                pass
        return CredentialDetail.of(c)

    async def delete(self, learner_id: str, dek: VaultKey, credential_id: str) -> None:
        lv = self._vault.for_learner(learner_id, dek)
        gone = await lv.credentials.get(credential_id)
        async with lv.atomic() as tx:  # the deletion and its staged ledger entry, at once
            staged = await self._outbox.stage(tx, Activity(
                kind=ActivityKind.CREDENTIAL_DELETED, counterparty=gone.issuer, credential_ids=(gone.id,)))
            await tx.credentials.delete(credential_id)
        self._outbox.flush_soon(learner_id, dek, staged)
