"""The consent ledger's keys: the service key that signs, and each learner's blinding key.

Specs: RFC 7515 (JWS) for the signed heads, receipts and export manifests; RFC 7638 (JWK
thumbprint) for their ``kid``; the blinding key's tags are :func:`consent.chain.counterparty_tag`.

- **The signing key** (Ed25519 or P-256/P-384) signs every chain head, consent receipt and export
  manifest, each with its ``kid`` in the header. Keys it replaced (``previous_keys``) still verify
  the heads they signed: :meth:`LedgerKeys.resolve` finds a head's key by its ``kid`` and refuses
  any other (:class:`~consent.errors.LedgerTampered`).
- **A learner's blinding key** (32 random bytes) keys the counterparty tags, so the ledger can
  filter by counterparty without storing one in clear. It is made on first need and stored only
  sealed under the learner's key (:class:`~consent.ports.BodySealer`, AAD
  :func:`consent.chain.blind_key_aad`); erasure deletes it.

:class:`consent.ledger.Ledger` holds one :class:`LedgerKeys`; this module holds no SQL.
Pure: no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consent.chain import HEAD_TYP, at_to_us, blind_key_aad
from consent.entries import open_sealed
from consent.errors import BodyUnreadable, LedgerTampered
from consent.ports import BodySealer
from wallet.jose import PrivateKey, PublicKey, jwk_thumbprint, public_jwk, sign_compact

__all__ = ["BLIND_KEY_BYTES", "LedgerKeys", "blind_key"]

BLIND_KEY_BYTES = 32


class LedgerKeys:
    """The ledger's signing key and the public keys (current and previous) that verify it."""

    def __init__(self, signing_key: PrivateKey, previous_keys: tuple[PublicKey, ...] = ()) -> None:
        self._key = signing_key
        self._jwk = public_jwk(signing_key)
        self._kid = jwk_thumbprint(self._jwk)
        self._keys: dict[str, tuple[PublicKey, dict[str, str]]] = {}
        for pub in (*previous_keys, signing_key.public_key()):
            jwk = public_jwk(pub)
            self._keys[jwk_thumbprint(jwk)] = (pub, jwk)

    @property
    def public_jwk(self) -> dict[str, str]:
        """The current key's public JWK, with ``kid``."""
        return {**self._jwk, "kid": self._kid}

    def own_key(self, kid: str) -> PublicKey | None:
        """One of these keys (the current one or a previous one) by its ``kid``."""
        found = self._keys.get(kid)
        return None if found is None else found[0]

    def own_jwk(self, kid: str) -> dict[str, str]:
        """The public JWK (no ``kid`` member) of key ``kid``; the current key's for a ``kid`` it
        does not know."""
        return self._keys.get(kid, (None, self._jwk))[1]

    def resolve(self, header: Mapping[str, Any]) -> PublicKey:
        """The key a signed head's header names; :class:`LedgerTampered` for any other."""
        found = self._keys.get(str(header.get("kid")))
        if found is None:
            raise LedgerTampered("the signed head names an unknown key")
        return found[0]

    def sign(self, typ: str, claims: Mapping[str, Any]) -> str:
        """A compact JWS of ``claims`` (``typ``, the current key's ``kid``)."""
        return sign_compact({"typ": typ, "kid": self._kid}, dict(claims), self._key)

    def sign_head(self, learner_ref: str, seq: int, head: str, erased: bool,
                  now: datetime) -> str:
        """The signed head of a learner's chain (:data:`consent.chain.HEAD_TYP`)."""
        return self.sign(HEAD_TYP, {"sub": learner_ref, "seq": seq, "head": head,
                                    "erased": erased, "iat": at_to_us(now) // 1_000_000})


def blind_key(learner_ref: str, sealer: BodySealer,
              sealed: bytes | None) -> tuple[bytes, bytes | None]:
    """The learner's blinding key, opened from ``sealed``; or, when there is none yet
    (``None``), a new one with its sealed form to store."""
    if sealed is None:
        key = os.urandom(BLIND_KEY_BYTES)
        return key, sealer.seal(key, blind_key_aad(learner_ref))
    key = open_sealed(sealer, sealed, blind_key_aad(learner_ref))
    if len(key) != BLIND_KEY_BYTES:
        raise BodyUnreadable("the ledger blinding key is malformed")
    return key, None
