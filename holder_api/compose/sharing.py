"""Presenting: OpenID4VP requests answered by the learner, and share links."""

from __future__ import annotations

from dataclasses import dataclass

from holder_api.compose.consent import Consent
from holder_api.compose.stores import Stores
from holder_api.compose.vault import Vault
from sharing.present import PresentationService
from sharing.printout import PrintoutService
from sharing.share_links import ShareLinkService
from sharing.share_tables import share_link_views, share_links
from wallet.crypto import VaultKey
from wallet.personal_data import Withdrawn

__all__ = ["Sharing", "build_sharing"]


@dataclass(frozen=True, slots=True)
class Sharing:
    presentations: PresentationService
    share_links: ShareLinkService
    printouts: PrintoutService  # GET /v1/credentials/{id}/pdf: a share link on paper


def build_sharing(stores: Stores, consent: Consent, vault: Vault) -> Sharing:
    presentations = PresentationService(
        vault=stores.vault, fetcher=stores.fetcher, activity=consent.activity,
        trust=stores.trust, x509_anchors=stores.x5c_anchors, clock=stores.clock)
    links = ShareLinkService(
        engine=stores.engine, vault=stores.vault, activity=consent.activity,
        public_url=stores.settings.public_url, pepper=stores.keys.username_pepper,
        limiter=stores.limiter, clock=stores.clock)
    registry = consent.personal_data
    for table in (share_links, share_link_views):
        registry.add_table(table)

    async def withdraw_link(learner_id: str, dek: VaultKey, link_id: str) -> Withdrawn:
        await links.revoke(learner_id, dek, link_id)
        return Withdrawn(purpose="show a credential through a share link")

    registry.add_withdrawal("share_link", withdraw_link)
    # views are recorded in the ledger lazily: a learner reading it sees every view so far
    consent.ledger.before_read.append(links.drain_views)
    printouts = PrintoutService(credentials=vault.credentials, share_links=links,
                                clock=stores.clock)
    return Sharing(presentations=presentations, share_links=links, printouts=printouts)
