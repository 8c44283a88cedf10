"""Accounts: sign-up, unlock and sessions, the Argon2id gate, and the sweep of crashed sign-ups."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from holder_api.compose.stores import Stores
from wallet.accounts.limits import UnlockGate
from wallet.accounts.service import AccountService
from wallet.accounts.sweep import OrphanSweep
from wallet.accounts.tokens import TokenService
from wallet.crypto import KdfCost
from wallet.learner_cache import set_idle_seconds

__all__ = ["Accounts", "build_accounts"]


@dataclass(frozen=True, slots=True)
class Accounts:
    service: AccountService
    gate: UnlockGate
    sweep: OrphanSweep

    def close(self) -> None:
        self.gate.close()
        self.service.close()


def build_accounts(stores: Stores, metrics: CollectorRegistry) -> Accounts:
    settings = stores.settings
    gate = UnlockGate(settings.max_concurrent_unlocks)
    Gauge("satchel_unlocks_waiting", "Unlocks waiting for an Argon2id slot",
          registry=metrics).set_function(lambda: gate.waiting)
    # no plaintext kept for lists outlives the longest a token (and its vault key) is held here
    set_idle_seconds(settings.token_ttl)
    service = AccountService(
        engine=stores.engine, vault=stores.vault, keyring=stores.keyring,
        tokens=TokenService(stores.keys, ttl=settings.token_ttl,
                            issuer=settings.deployment_id or stores.keys.deployment_id,
                            clock=stores.clock),
        keys=stores.keys, gate=gate, limiter=stores.limiter,
        kdf=KdfCost(opslimit=settings.kdf_opslimit,
                    memlimit=settings.kdf_memlimit_mib * 1024 * 1024),
        unlock_limit=settings.unlock_limit, account_limit=settings.unlock_account_limit,
        signup_limit=settings.signup_limit, clock=stores.clock)
    # orphans of crashed sign-ups (other replicas' sign-ups in progress are safe: see
    # wallet.accounts.sweep)
    sweep = OrphanSweep(engine=stores.engine, vault=stores.vault, keyring=stores.keyring,
                        grace_seconds=settings.signup_sweep_grace, clock=stores.clock)
    return Accounts(service=service, gate=gate, sweep=sweep)
