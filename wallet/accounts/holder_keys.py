"""A learner's holder keys as others may see them: public parts only, and a short cache of them
(they are public, and change only when a key is imported)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wallet.jose import PublicJwk, as_public_jwk
from wallet.vault import VaultStore

if TYPE_CHECKING:
    from wallet.accounts.service import LearnerSession

__all__ = ["HolderKeyCache", "PublicHolderKey", "holder_keys_public"]

_CACHE_SECONDS = 30.0
_CACHE_LEARNERS = 4096  # past this many learners the cache starts afresh (bounded memory)


@dataclass(frozen=True, slots=True)
class PublicHolderKey:
    """A holder key's public part: what a verifier may see of it."""

    kid: str
    alg: str
    jwk: PublicJwk  # the public JWK, with its ``kid`` and ``alg``
    did: str | None


async def holder_keys_public(vault: VaultStore, session: LearnerSession) -> list[PublicHolderKey]:
    """The learner's holder keys, public parts only."""
    keys = await vault.for_learner(session.learner_id, session.dek).holder_keys.list_public()
    return [PublicHolderKey(k.kid, k.alg, as_public_jwk({**k.public_jwk, "kid": k.kid,
                                                         "alg": k.alg}), k.did)
            for k in keys]


class HolderKeyCache:
    """Each learner's public holder keys for :data:`_CACHE_SECONDS`, on this replica."""

    def __init__(self, vault: VaultStore) -> None:
        self._vault = vault
        self._kept: dict[str, tuple[float, list[PublicHolderKey]]] = {}

    async def get(self, session: LearnerSession) -> list[PublicHolderKey]:
        now = time.monotonic()
        hit = self._kept.get(session.learner_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        keys = await holder_keys_public(self._vault, session)
        if len(self._kept) >= _CACHE_LEARNERS:
            self._kept.clear()
        self._kept[session.learner_id] = (now + _CACHE_SECONDS, keys)
        return keys

    def forget(self, learner_id: str) -> None:
        self._kept.pop(learner_id, None)
