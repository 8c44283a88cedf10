"""Which of the learner's holder keys signs a presentation of a stored credential.

Spec: RFC 9901 §4.3 (the KB-JWT is signed by the key in ``cnf``); VCDM 1.1 §6.3.1 (a JWT VP is
signed by the holder, ``iss`` = the holder's DID); OpenID4VP 1.0 Appendix B.1.3.1.

Why one place: OpenID4VP answers and share links must pick the *same* key for the same credential,
and refuse the same way. The rule:

- a credential bound to a holder key (``cnf.jwk``, or a ``did:key``/``did:jwk`` subject; kept at
  intake as ``data["holder_jwk"]``) is presented with that key — and refused when this vault does
  not hold it, since signing with another key would claim a binding that does not exist;
- an unbound SD-JWT VC gets no key (no KB-JWT);
- an unbound W3C credential (a JWT VP must be signed by someone) gets the learner's first (oldest)
  holder key, the one created at sign-up;
- a presentation that only some algorithms can sign (a Data Integrity ``ldp_vc`` VP:
  ``eddsa-rdfc-2022``, so EdDSA) passes ``algs``: an unbound credential gets the oldest key of
  those algorithms (every learner has an EdDSA key from sign-up), and a credential bound to a
  key of another algorithm is refused rather than signed by a key it does not name.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from sharing.errors import PresentationNotSupported
from sharing.presentations import SD_JWT, holder_kid
from wallet.errors import NotFound

if TYPE_CHECKING:
    from wallet.crypto import HolderKey
    from wallet.vault import HolderKeyRepository, StoredCredential

__all__ = ["SigningKeys"]


class SigningKeys:
    """The signing key per credential, with the keys read once per answer (several credentials
    bound to one key cost one vault read)."""

    def __init__(self, keys: HolderKeyRepository) -> None:
        self._keys = keys
        self._cache: dict[str, HolderKey] = {}

    async def for_credential(self, stored: StoredCredential, *,
                             algs: Collection[str] | None = None) -> HolderKey | None:
        """The key that signs ``stored``'s presentation; ``algs`` limits its algorithm."""
        kid = holder_kid(stored)
        if kid is None:
            if stored.format in SD_JWT:
                return None
            listed = [k for k in await self._keys.list() if algs is None or k.alg in algs]
            if not listed:
                raise PresentationNotSupported("no holder key to sign the presentation")
            return listed[0]
        if kid not in self._cache:
            try:
                self._cache[kid] = await self._keys.get(kid)
            except NotFound:
                raise PresentationNotSupported(
                    "the credential is bound to a key this vault does not hold") from None
        key = self._cache[kid]
        if algs is not None and key.alg not in algs:
            raise PresentationNotSupported(
                "the credential is bound to a key that cannot sign this presentation format")
        return key
