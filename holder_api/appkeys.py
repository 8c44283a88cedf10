"""Every piece of typed application state, as ``web.AppKey`` (aiohttp's guidance)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from consent.api import LearnerLedger
from consent.recorder import LedgerActivityLog
from consent.rights import RightsService
from consent.service import ConsentService
from holder_api.settings import Settings
from sharing.present import PresentationService
from sharing.printout import PrintoutService
from sharing.share_links import ShareLinkService
from wallet.accounts.limits import UnlockGate
from wallet.accounts.service import AccountService
from wallet.accounts.tokens import ServiceKeys
from wallet.credentials import CredentialService
from wallet.intake import CredentialIntake
from wallet.net import GuardedFetcher
from wallet.personal_data import PersonalDataRegistry
from wallet.receive import ReceiveService
from wallet.receive.sweep import ExpirySweep
from wallet.vault import VaultStore

__all__ = ["INBOX_SWEEP", "METRICS", "OPENAPI", "READINESS", "SERVICES", "SETTINGS",
           "Services"]


@dataclass(slots=True)
class Services:
    """The services the handlers call; wired once in the app factory (no service locator)."""

    accounts: AccountService
    credentials: CredentialService
    gate: UnlockGate
    vault: VaultStore
    fetcher: GuardedFetcher
    intake: CredentialIntake
    consent: ConsentService
    activity: LedgerActivityLog
    keys: ServiceKeys
    settings: Settings
    receive: ReceiveService  # OpenID4VCI offers + inbox links (wallet.receive)
    # presenting (issue 6)
    presentations: PresentationService
    share_links: ShareLinkService
    printouts: PrintoutService  # GET /v1/credentials/{id}/pdf (issue 15)
    # consent API and GDPR rights (issue 4); other features register their tables, erasers,
    # portable records and withdrawable consents in personal_data (wallet/personal_data.py)
    personal_data: PersonalDataRegistry
    ledger: LearnerLedger
    rights: RightsService


SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
METRICS = web.AppKey("metrics", CollectorRegistry)
OPENAPI = web.AppKey("openapi", dict[str, Any])
#: name -> async check raising a SatchelError when that dependency is not reachable
READINESS = web.AppKey("readiness", dict[str, Callable[[], Awaitable[None]]])
#: the background purge of expired inbox items (started after the stores, stopped before them)
INBOX_SWEEP = web.AppKey("inbox_sweep", ExpirySweep)
