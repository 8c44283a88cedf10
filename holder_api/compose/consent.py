"""Consent: the ledger every feature records to (built first), and the GDPR rights that reach
every feature's personal data (built last, once the features have registered it)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from consent.learner_ledger import LearnerLedger
from consent.ledger import Ledger
from consent.recorder import LedgerActivityLog
from consent.rights import RightsService
from consent.service import ConsentService
from holder_api.compose.accounts import Accounts
from holder_api.compose.stores import Stores
from holder_api.compose.vault import Vault
from wallet.ledger_outbox import LedgerOutbox
from wallet.personal_data import PersonalDataRegistry

__all__ = ["Consent", "build_consent", "build_rights"]


@dataclass(frozen=True, slots=True)
class Consent:
    service: ConsentService
    #: what features record through: the ledger, behind the vault's ledger outbox (each append
    #: first moves the learner's staged entries in)
    activity: LedgerOutbox
    #: the same object, where a feature stages entries (wallet.ledger_outbox)
    outbox: LedgerOutbox
    ledger: LearnerLedger
    #: features that hold personal data register their tables, erasers and withdrawals here
    personal_data: PersonalDataRegistry


def build_consent(stores: Stores, metrics: CollectorRegistry) -> Consent:
    keys = stores.keys
    service = ConsentService(Ledger(stores.engine, keys.ledger_signing,
                                    issuer=stores.settings.public_url, clock=stores.clock))
    outbox = LedgerOutbox(stores.vault, LedgerActivityLog(service, keys.learner_ref),
                          clock=stores.clock,
                          flush_timeout=stores.settings.ledger_outbox_flush_timeout)
    Gauge("satchel_ledger_outbox_flushes_pending",
          "Background ledger outbox flushes running or waiting to retry",
          registry=metrics).set_function(lambda: outbox.pending_flushes)
    Gauge("satchel_ledger_outbox_flushes_failed",
          "Background ledger outbox flushes that gave up, entries left staged (counter)",
          registry=metrics).set_function(lambda: outbox.failed_flushes)
    ledger = LearnerLedger(service, keys.learner_ref)
    ledger.before_read.append(outbox.flush)  # every read and append of the ledger catches up
    ledger.waiting.append(outbox.pending)
    return Consent(service=service, activity=outbox, outbox=outbox, ledger=ledger,
                   personal_data=PersonalDataRegistry())


def build_rights(stores: Stores, consent: Consent, accounts: Accounts, vault: Vault) -> RightsService:
    rights = RightsService(
        accounts=accounts.service, vault=stores.vault, consent=consent.service,
        ledger=consent.ledger, registry=consent.personal_data, gate=accounts.gate,
        limiter=stores.limiter, engine=stores.engine, vault_uri=stores.settings.vault_uri,
        service_url=stores.settings.public_url, intake=vault.intake, outbox=consent.outbox,
        clock=stores.clock, import_slots=stores.settings.max_concurrent_imports)
    # an erasure cut short is finished, every feature's part included, by whatever touches the
    # account next (unlock, sign-up of its username, one of its tokens)
    accounts.service.finish_erasures_with(rights.finish_erasure)
    return rights
