"""The receive service the API calls: OpenID4VCI offers plus the inbox, one method per route.

OpenID4VCI 1.0 (https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html) and
docs/receiving.md. Why a facade: handlers call exactly one service method; accepting an inbox item
spans both halves (open the sealed push, then run the offer flow or the credential intake).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from wallet.credentials import CredentialDetail, CredentialService
from wallet.crypto import VaultKey
from wallet.errors import BadInput, NotFound, SatchelError
from wallet.ports import Activity, ActivityKind
from wallet.receive.inbox import InboxService
from wallet.receive.offers import OfferFlow
from wallet.receive.results import AcceptOutcome, InboxItem, InboxLink, NewInboxLink, Offer

__all__ = ["ReceiveService"]


class ReceiveService:
    def __init__(self, *, offers: OfferFlow, inbox: InboxService,
                 credentials: CredentialService) -> None:
        self.offers, self.inbox = offers, inbox
        self._credentials = credentials

    # ------------------------------------------------------------------------------ offers
    async def create_offer(self, learner_id: str, dek: VaultKey, offer: str | dict[str, Any], *,
                           languages: Sequence[str] = ("en",)) -> Offer:
        return await self.offers.create(learner_id, dek, offer, languages=languages)

    async def list_offers(self, learner_id: str, dek: VaultKey, *,
                          languages: Sequence[str] = ("en",)) -> list[Offer]:
        return await self.offers.list_all(learner_id, dek, languages)

    async def get_offer(self, learner_id: str, dek: VaultKey, offer_id: str, *,
                        languages: Sequence[str] = ("en",)) -> Offer:
        return await self.offers.get(learner_id, dek, offer_id, languages)

    async def accept_offer(self, learner_id: str, dek: VaultKey, offer_id: str, *,
                           tx_code: str | None = None, copies: int = 1,
                           redirect_uri: str | None = None,
                           languages: Sequence[str] = ("en",)) -> AcceptOutcome:
        return await self.offers.accept(learner_id, dek, offer_id, tx_code=tx_code,
                                        copies=copies, redirect_uri=redirect_uri,
                                        languages=languages)

    async def authorize_offer(self, learner_id: str, dek: VaultKey, offer_id: str,
                              callback_url: str, *,
                              languages: Sequence[str] = ("en",)) -> AcceptOutcome:
        return await self.offers.authorize(learner_id, dek, offer_id, callback_url,
                                           languages=languages)

    async def decline_offer(self, learner_id: str, dek: VaultKey, offer_id: str) -> None:
        await self.offers.decline(learner_id, dek, offer_id)

    # ------------------------------------------------------------------------------ inbox links
    async def create_link(self, learner_id: str, dek: VaultKey, label: str) -> NewInboxLink:
        return await self.inbox.create_link(learner_id, dek, label)

    async def list_links(self, learner_id: str, dek: VaultKey) -> list[InboxLink]:
        return await self.inbox.list_links(learner_id, dek)

    async def revoke_link(self, learner_id: str, dek: VaultKey, link_id: str) -> None:
        await self.inbox.revoke_link(learner_id, dek, link_id)

    async def push(self, token: str, client: str, query: Mapping[str, Sequence[str]],
                   content_type: str, body: bytes) -> str:
        return await self.inbox.push(token, client, query, content_type, body)

    # ------------------------------------------------------------------------------ inbox items
    async def list_inbox(self, learner_id: str, dek: VaultKey) -> list[InboxItem]:
        return await self.inbox.items(learner_id, dek)

    async def accept_item(self, learner_id: str, dek: VaultKey, item_id: str, *,
                          tx_code: str | None = None, copies: int = 1,
                          redirect_uri: str | None = None,
                          languages: Sequence[str] = ("en",)) -> AcceptOutcome:
        """Run the offer flow for a pushed offer, or the intake for a pushed credential."""
        payload, _label = await self.inbox.open_item(learner_id, dek, item_id)
        if payload.get("kind") == "credential":
            raw = payload.get("credential")
            if isinstance(raw, dict):
                raw = json.dumps(raw)
            stored = await self._credentials.import_credential(
                learner_id, dek, raw, languages=languages, source="inbox", inbox_item_id=item_id)
            try:
                await self.inbox.remove(learner_id, item_id)
            except NotFound:
                # a concurrent accept (maybe on another replica) took the item first: keep one
                await self._credentials.delete(learner_id, dek, stored.id)
                raise
            return AcceptOutcome("issued", credentials=(CredentialDetail.of(stored),))
        if payload.get("kind") != "offer":
            raise BadInput("this inbox item cannot be accepted")
        summary = await self.offers.create(learner_id, dek, payload["offer"], source="inbox",
                                           languages=languages, inbox_item_id=item_id)
        try:
            outcome = await self.offers.accept(learner_id, dek, summary.id, tx_code=tx_code,
                                               copies=copies, redirect_uri=redirect_uri,
                                               languages=languages)
        except SatchelError:
            await self.offers.delete(learner_id, dek, summary.id)
            raise
        await self.inbox.remove(learner_id, item_id)
        return outcome

    async def decline_item(self, learner_id: str, dek: VaultKey, item_id: str) -> None:
        payload, label = await self.inbox.open_item(learner_id, dek, item_id)
        issuer = payload.get("issuer")
        await self.inbox.decline_item(learner_id, dek, item_id, Activity(
            kind=ActivityKind.CREDENTIAL_DECLINED, counterparty=issuer if isinstance(issuer, str) else None,
            counterparty_name=label, details={"source": "inbox", "kind": payload.get("kind"),
                                              "item_id": item_id}))
