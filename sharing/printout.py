"""``GET /v1/credentials/{id}/pdf``: any credential as a printable A4 PDF pointing to a share link.

Each printout creates its own share link (recorded in the ledger like any, listed and revocable in
``GET /v1/share-links``) with the claims the learner chose. The default discloses as little as
the format allows, since paper travels further than intended:

- SD-JWT VC: no selectively disclosable claim — only what the issuer made always visible (the
  issuer, type, dates, and any claim not issued as a disclosure); ``claims`` adds more;
- W3C credentials (``jwt_vc_json``, ``ldp_vc``) and PDFs cannot disclose selectively: the whole
  credential (``[[]]``), the only choice they take.

The link lasts 90 days and 100 views unless the learner says otherwise (``expires_in``,
``max_views``); the printed page itself shows the credential as the wallet holds it now
(``GET /v1/credentials/{id}``: status refreshed when stale).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from sharing.presentations import SD_JWT
from sharing.printout_render import render_printout
from sharing.share_links import ShareLinkService
from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.credentials import CredentialService
from wallet.crypto import VaultKey
from wallet.formats.model import ClaimPath

__all__ = ["DEFAULT_EXPIRES_IN", "DEFAULT_MAX_VIEWS", "Printout", "PrintoutService"]

DEFAULT_EXPIRES_IN = 90 * 24 * 3600
DEFAULT_MAX_VIEWS = 100


@dataclass(frozen=True, slots=True)
class Printout:
    pdf: bytes
    link_id: str  # the share link made for it (listed and revocable like any)


class PrintoutService:
    def __init__(self, *, credentials: CredentialService, share_links: ShareLinkService,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._credentials = credentials
        self._links = share_links
        self._clock = clock

    async def render(self, learner_id: str, dek: VaultKey, credential_id: str, *,
                     claims: Sequence[ClaimPath] | None = None,
                     expires_in: int = DEFAULT_EXPIRES_IN, max_views: int = DEFAULT_MAX_VIEWS,
                     languages: Sequence[str] = ("en",)) -> Printout:
        found = await self._credentials.get(learner_id, dek, credential_id,
                                            languages=languages)
        selective = found.credential.format in SD_JWT
        paths: list[ClaimPath] = (list(claims) if claims is not None
                                  else [] if selective else [()])
        link = await self._links.create(learner_id, dek, credential_id, paths,
                                        expires_in=expires_in, max_views=max_views)
        if not selective:
            scope = "The link shows the whole credential."
        elif paths:
            scope = f"The link shows the always-visible claims and {len(paths)} chosen claim(s)."
        else:
            scope = "The link shows only the claims the issuer made always visible."
        pdf = render_printout(
            title=found.credential.title, issuer=found.credential.issuer,
            elements=found.elements, verification=found.verification, link_url=link.url,
            link_expires_at=link.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            now=self._clock(), scope=scope)
        return Printout(pdf, link.id)
