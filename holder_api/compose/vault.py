"""The vault: credentials verified on the way in (intake) and the learner's credential list."""

from __future__ import annotations

from dataclasses import dataclass

from holder_api.compose.stores import Stores
from wallet.accounts.budgets import Scope
from wallet.credentials import CredentialService
from wallet.errors import UploadInProgress, UploadsBusy
from wallet.intake import CredentialIntake
from wallet.large_bodies import UPLOAD_BUDGET, UPLOAD_RETRY_AFTER, BodyGate
from wallet.ledger_outbox import LedgerOutbox

__all__ = ["Vault", "build_vault"]


@dataclass(frozen=True, slots=True)
class Vault:
    intake: CredentialIntake
    credentials: CredentialService
    #: large uploads (PDFs, the web form's file, QR photos): admitted before their body is read
    uploads: BodyGate


def build_vault(stores: Stores, outbox: LedgerOutbox) -> Vault:
    intake = CredentialIntake(fetcher=stores.fetcher, trust=stores.trust,
                              x5c_anchors=stores.x5c_anchors,
                              accept_legacy_typ=stores.settings.accept_legacy_sd_jwt_vc,
                              clock=stores.clock)
    uploads = BodyGate(scope=Scope.UPLOAD, slots=stores.settings.max_concurrent_uploads,
                       limiter=stores.limiter, budget=UPLOAD_BUDGET,
                       retry_after=UPLOAD_RETRY_AFTER, busy=lambda wait: UploadsBusy(
                           "this replica reads as many uploads as it may at once: try again "
                           "shortly", retry_after=wait),
                       in_progress=lambda wait: UploadInProgress(
                           "an upload of yours is still being sent: send this one once it is "
                           "answered", retry_after=wait))
    return Vault(intake=intake,
                 credentials=CredentialService(stores.vault, intake, outbox, clock=stores.clock,
                                               max_pdf_bytes=stores.settings.max_pdf_bytes),
                 uploads=uploads)
