"""Whose key made a credential's signature, as a share-link view can tell it offline.

A valid signature only says that *someone* holding the key signed. A public share page that
shows "Verified" next to "Issued by https://university.example" says more: that the university
signed. That is true only when the key is bound to the issuer identifier by something other than
the credential itself (never let the credential pick the issuer's key: docs/verification.md; the same
rule as ``wallet.intake.CredentialIntake.trusted``, which decides ``issuer_trusted``):

- ``issuer``: DID resolution of the issuer's own DID (``did:web``; a ``did:key`` / ``did:jwk``
  that *is* the issuer), an ``x5c`` chain to a configured anchor that names the issuer, or keys the
  issuer published (issuer metadata);
- ``self_asserted``: the credential supplied the key — a VC-JWT header ``jwk``, a 1EdTech
  ``https://issuer.example/…#z6Mk…`` multibase fragment, an EDC seal's own ``x5c`` certificate
  (nothing ties its chain to the issuer identifier), a ``did:key`` that is not the issuer. Anyone
  can sign a credential naming any issuer this way; only a trust-list pin (``issuer_trusted``)
  makes it the issuer's;
- ``not_issuer``: the key belongs to someone other than the issuer the credential names
  (``verification_method_not_issuer`` and the like);
- ``unknown``: no key was established (or none recorded), or a key source this module does not
  know — fail closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from wallet.formats.model import ISSUER_KEY_SELF_ASSERTED

__all__ = ["IssuerKey", "issuer_confirmed", "issuer_key"]

IssuerKey = Literal["issuer", "self_asserted", "not_issuer", "unknown"]

#: Key sources the format layer reports for a key the credential carried itself.
_CARRIED = frozenset({"header_jwk", "multibase_fragment", "x5c_seal"})
#: DID methods whose identifier is the key: the issuer's own key only when it is the issuer.
_KEY_DIDS = frozenset({"did:key", "did:jwk"})
#: Key sources bound to the issuer identifier by something the credential does not control.
_BOUND = frozenset({"did:web", "x5c", "issuer_jwks", "jwt_vc_issuer_metadata", "configured"})
#: Problems saying the signing key is not shown to be the named issuer's.
_NOT_THE_ISSUERS = frozenset({"vc_issuer_not_iss", "verification_method_not_issuer",
                              "x5c_not_issuer", "kid_not_issuer"})


def issuer_key(issuer: str, key_source: str | None, problems: Iterable[str]) -> IssuerKey:
    """Classify the key that verified the credential (see the module docstring)."""
    found = set(problems)
    if key_source is None:
        return "unknown"
    if found & _NOT_THE_ISSUERS:
        return "not_issuer"
    if ISSUER_KEY_SELF_ASSERTED in found or key_source in _CARRIED:
        return "self_asserted"
    if key_source in _KEY_DIDS:
        return "issuer" if issuer.startswith(f"{key_source}:") else "self_asserted"
    return "issuer" if key_source in _BOUND else "unknown"


def issuer_confirmed(signature: str | None, key: IssuerKey, issuer_trusted: object) -> bool:
    """Did the named issuer sign? A valid signature by the issuer's own key, or by a key the
    trust list vouches for (a pin, for a self-asserted key: ``CredentialIntake.trusted``)."""
    return signature == "valid" and (key == "issuer" or (
        issuer_trusted is True and key != "not_issuer"))
