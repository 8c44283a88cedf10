"""OpenID for Verifiable Credential Issuance 1.0 — the wallet side.

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html

Pure protocol code: network through :class:`wallet.ports.Fetcher`, time through injected clocks.
Modules: :mod:`.offer` (§4), :mod:`.metadata` (§12), :mod:`.proof` (Appendix F.1),
:mod:`.encryption` (§10), :mod:`.models` (persistable flow state), :mod:`.client` (the steps),
:mod:`.errors` (spec error codes).
"""

from wallet.oid4vci.client import (
    CredentialResult,
    IssuanceClient,
    NotificationEvent,
    parse_authorization_callback,
)
from wallet.oid4vci.metadata import (
    AuthServerMetadata,
    CredentialConfiguration,
    IssuerMetadata,
    parse_as_metadata,
    parse_issuer_metadata,
    well_known_url,
)
from wallet.oid4vci.models import (
    AuthorizationStart,
    Deferred,
    IssuedCredentials,
    ResolvedOffer,
    TokenSet,
)
from wallet.oid4vci.offer import (
    CredentialOffer,
    OfferReference,
    TxCode,
    parse_offer,
    parse_offer_input,
)
from wallet.oid4vci.proof import PROOF_TYP, ProofSigner, build_proof_jwt

__all__ = [
    "PROOF_TYP",
    "AuthServerMetadata",
    "AuthorizationStart",
    "CredentialConfiguration",
    "CredentialOffer",
    "CredentialResult",
    "Deferred",
    "IssuanceClient",
    "IssuedCredentials",
    "IssuerMetadata",
    "NotificationEvent",
    "OfferReference",
    "ProofSigner",
    "ResolvedOffer",
    "TokenSet",
    "TxCode",
    "build_proof_jwt",
    "parse_as_metadata",
    "parse_authorization_callback",
    "parse_issuer_metadata",
    "parse_offer",
    "parse_offer_input",
    "well_known_url",
]
