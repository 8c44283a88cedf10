"""Every piece of typed application state, as ``web.AppKey`` (aiohttp's guidance)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from consent.learner_ledger import LearnerLedger
from consent.rights import RightsService
from holder_api.admission import Admission
from holder_api.compose import Wiring
from holder_api.connections import ConnectionBound
from holder_api.in_flight import InFlight
from holder_api.metrics_text import RenderedMetrics
from holder_api.settings import Settings
from sharing.present import PresentationService
from sharing.printout import PrintoutService
from sharing.share_links import ShareLinkService
from wallet.accounts.service import AccountService
from wallet.clock import Clock
from wallet.credentials import CredentialService
from wallet.large_bodies import BodyGate
from wallet.receive import ReceiveService
from wallet.receive.sweep import ExpirySweep

__all__ = ["ADMISSION", "CLOCK", "CONNECTIONS", "INBOX_SWEEP", "IN_FLIGHT", "METRICS", "OPENAPI", "READINESS",
           "SERVICES", "SETTINGS", "WIRING", "Services"]


@dataclass(frozen=True, slots=True)
class Services:
    """The services the handlers call, and nothing else (built in :mod:`holder_api.compose`)."""

    accounts: AccountService
    credentials: CredentialService
    receive: ReceiveService  # OpenID4VCI offers + inbox links
    presentations: PresentationService
    share_links: ShareLinkService
    printouts: PrintoutService  # GET /v1/credentials/{id}/pdf
    ledger: LearnerLedger
    rights: RightsService
    #: large uploads (PDF, the web form's file, QR photo), admitted before their body is read
    uploads: BodyGate


SETTINGS = web.AppKey("settings", Settings)
#: requests being handled, by connection: stopping lets them finish whole (holder_api.lifecycle)
IN_FLIGHT = web.AppKey("in_flight", InFlight)
#: the one clock every service reads; pages that stamp times of their own read it too
CLOCK = web.AppKey("clock", Clock)
SERVICES = web.AppKey("services", Services)
METRICS = web.AppKey("metrics", CollectorRegistry)
#: ``/metrics`` as the last render left it (holder_api.metrics_text)
METRICS_TEXT = web.AppKey("metrics_text", RenderedMetrics)
#: the replica's admission control (its in-flight limit, queue and shedding)
ADMISSION = web.AppKey("admission", Admission)
#: the bound on the connections the replica holds (its listener refuses past it)
CONNECTIONS = web.AppKey("connections", ConnectionBound)
OPENAPI = web.AppKey("openapi", dict[str, Any])
#: name -> async check raising a SatchelError when that dependency is not reachable
READINESS = web.AppKey("readiness", dict[str, Callable[[], Awaitable[None]]])
#: the background purge of expired inbox items (started after the stores, stopped before them)
INBOX_SWEEP = web.AppKey("inbox_sweep", ExpirySweep)
#: every feature as built, for lifetimes and tests; handlers use SERVICES
WIRING = web.AppKey("wiring", Wiring)
