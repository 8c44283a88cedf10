"""Key proofs of type ``jwt`` (OpenID4VCI 1.0 §8.2.1.1 and Appendix F.1).

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html#appendix-F.1

The proof binds the credential to the learner's holder key: header ``typ`` is
``openid4vci-proof+jwt``, ``alg`` is one the issuer lists in ``proof_signing_alg_values_supported``
(and never ``none`` or a MAC), exactly one of ``kid`` / ``jwk`` / ``x5c`` names the key; claims are
``aud`` (the Credential Issuer Identifier), ``iat``, ``nonce`` (the ``c_nonce``) and ``iss`` (the
client_id, omitted for anonymous pre-authorized access). The signing itself is delegated to a small
:class:`ProofSigner` so the holder key never leaves its owner. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from wallet.errors import BadInput
from wallet.jose import ASYMMETRIC_ALGS, b64url_encode
from wallet.oid4vci.errors import UnsupportedProofAlgorithm

__all__ = ["PROOF_TYP", "ProofSigner", "build_proof_jwt", "choose_proof_alg"]

PROOF_TYP = "openid4vci-proof+jwt"


class ProofSigner(Protocol):
    """A holder key that can sign: its JOSE ``alg``, public JWK, and raw JOSE signatures."""

    @property
    def alg(self) -> str: ...

    @property
    def public_jwk(self) -> Mapping[str, Any]: ...

    def sign(self, data: bytes) -> bytes: ...


def choose_proof_alg(signer_alg: str, supported: Collection[str]) -> str:
    """The signer's algorithm if the issuer accepts it (an empty list means "any asymmetric")."""
    if signer_alg not in ASYMMETRIC_ALGS:
        raise UnsupportedProofAlgorithm("the holder key's algorithm is not an asymmetric JOSE alg")
    if supported and signer_alg not in supported:
        raise UnsupportedProofAlgorithm(
            "the issuer accepts no proof algorithm the holder key can produce")
    return signer_alg


def _b64json(obj: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def build_proof_jwt(
    *,
    signer: ProofSigner,
    aud: str,
    nonce: str | None,
    iat: int,
    iss: str | None = None,
    alg: str | None = None,
    kid: str | None = None,
    jwk: Mapping[str, Any] | None = None,
    x5c: Sequence[str] | None = None,
    supported_algs: Collection[str] = (),
) -> str:
    """A signed ``openid4vci-proof+jwt``.

    Key reference: exactly one of ``kid`` / ``jwk`` / ``x5c``; when none is given the signer's
    public JWK is embedded. ``alg`` defaults to the signer's and must equal it.
    """
    chosen = choose_proof_alg(alg or signer.alg, supported_algs)
    if chosen != signer.alg:
        raise UnsupportedProofAlgorithm("the requested proof algorithm is not the signer's")
    refs = [r for r in (kid, jwk, x5c) if r is not None]
    if len(refs) > 1:
        raise BadInput("a proof names its key by exactly one of kid, jwk and x5c")
    header: dict[str, Any] = {"typ": PROOF_TYP, "alg": chosen}
    if kid is not None:
        header["kid"] = kid
    elif x5c is not None:
        header["x5c"] = list(x5c)
    else:
        key = dict(jwk if jwk is not None else signer.public_jwk)
        if "d" in key or any(k in key for k in ("p", "q", "dp", "dq", "qi", "k")):
            raise BadInput("a proof must never carry private key material")
        header["jwk"] = key
    claims: dict[str, Any] = {"aud": aud, "iat": int(iat)}
    if nonce is not None:
        claims["nonce"] = nonce
    if iss is not None:
        claims["iss"] = iss
    signing_input = f"{_b64json(header)}.{_b64json(claims)}"
    signature = signer.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"
