"""Persistable state of one OpenID4VCI 1.0 issuance flow (wallet side).

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html §5 (authorization),
§6.2 (Token Response), §8.3 (Credential Response), §9 (deferred).

Why: the service layer handles one HTTP request per step (offer → accept → callback → deferred
poll), so every piece of state between steps is a frozen dataclass with ``to_json``/``from_json``.
The service seals those blobs in the learner's vault: they contain access tokens, PKCE verifiers
and pre-authorized codes, which is also why those fields are excluded from ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wallet.errors import BadInput
from wallet.numbers import finite_number
from wallet.oid4vci.metadata import (
    AuthServerMetadata,
    CredentialConfiguration,
    IssuerMetadata,
    parse_as_metadata,
    parse_issuer_metadata,
)
from wallet.oid4vci.offer import CredentialOffer, parse_offer

__all__ = [
    "AuthorizationStart",
    "Deferred",
    "IssuedCredentials",
    "ResolvedOffer",
    "TokenSet",
]


def _obj(data: object) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise BadInput("persisted issuance state is malformed")
    return data


@dataclass(frozen=True, slots=True)
class ResolvedOffer:
    """An offer with the issuer's and its authorization server's metadata."""

    offer: CredentialOffer
    issuer: IssuerMetadata
    auth_server: AuthServerMetadata

    @property
    def credential_issuer(self) -> str:
        return self.issuer.credential_issuer

    def configurations(self) -> list[CredentialConfiguration]:
        """The offered configurations the issuer actually describes (others are dropped)."""
        return [self.issuer.configurations[c] for c in self.offer.credential_configuration_ids
                if c in self.issuer.configurations]

    def to_json(self) -> dict[str, Any]:
        return {"offer": self.offer.to_json(), "issuer": self.issuer.to_json(),
                "auth_server": self.auth_server.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResolvedOffer:
        d = _obj(data)
        offer = parse_offer(d.get("offer"))
        issuer = parse_issuer_metadata(d.get("issuer"), offer.credential_issuer)
        as_raw = _obj(d.get("auth_server"))
        return cls(offer, issuer, parse_as_metadata(as_raw, str(as_raw.get("issuer"))))


@dataclass(frozen=True, slots=True)
class TokenSet:
    """§6.2 Token Response. ``credential_identifiers`` maps configuration id → identifiers."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: float | None
    refresh_token: str | None = field(default=None, repr=False)
    credential_identifiers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    client_id: str | None = None  # the client_id used at the token endpoint (proof ``iss``)

    def identifiers_for(self, configuration_id: str) -> tuple[str, ...]:
        return self.credential_identifiers.get(configuration_id, ())

    def authorization_header(self) -> dict[str, str]:
        scheme = "DPoP" if self.token_type.lower() == "dpop" else "Bearer"
        return {"Authorization": f"{scheme} {self.access_token}"}

    def to_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "token_type": self.token_type,
                "expires_at": self.expires_at, "refresh_token": self.refresh_token,
                "credential_identifiers": {k: list(v) for k, v in
                                           self.credential_identifiers.items()},
                "client_id": self.client_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenSet:
        d = _obj(data)
        ids = _obj(d.get("credential_identifiers", {}))
        token, ttype = d.get("access_token"), d.get("token_type")
        if not isinstance(token, str) or not isinstance(ttype, str):
            raise BadInput("persisted token set is malformed")
        return cls(token, ttype, finite_number(d.get("expires_at")),
                   d.get("refresh_token") if isinstance(d.get("refresh_token"), str) else None,
                   {str(k): tuple(str(i) for i in v) for k, v in ids.items()
                    if isinstance(v, list)},
                   d.get("client_id") if isinstance(d.get("client_id"), str) else None)


@dataclass(frozen=True, slots=True)
class AuthorizationStart:
    """What the wallet keeps between sending the learner to the AS and the callback (§5.1)."""

    url: str = field(repr=False)
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    client_id: str
    configuration_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "state": self.state, "code_verifier": self.code_verifier,
                "redirect_uri": self.redirect_uri, "client_id": self.client_id,
                "configuration_ids": list(self.configuration_ids)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthorizationStart:
        d = _obj(data)
        try:
            return cls(str(d["url"]), str(d["state"]), str(d["code_verifier"]),
                       str(d["redirect_uri"]), str(d["client_id"]),
                       tuple(str(c) for c in d["configuration_ids"]))
        except (KeyError, TypeError) as exc:
            raise BadInput("persisted authorization state is malformed") from exc


@dataclass(frozen=True, slots=True)
class Deferred:
    """§8.3 202 / §9.2: issuance continues at the deferred endpoint after ``interval`` seconds.

    ``not_before`` is the absolute time (the client's clock) before which polling is refused.
    """

    transaction_id: str = field(repr=False)
    interval: int
    not_before: float
    configuration_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"transaction_id": self.transaction_id, "interval": self.interval,
                "not_before": self.not_before, "configuration_id": self.configuration_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Deferred:
        d = _obj(data)
        tid, interval, nb = d.get("transaction_id"), d.get("interval"), d.get("not_before")
        if (not isinstance(tid, str) or not isinstance(interval, int)
                or not isinstance(nb, int | float)):
            raise BadInput("persisted deferred transaction is malformed")
        cid = d.get("configuration_id")
        return cls(tid, interval, float(nb), cid if isinstance(cid, str) else None)


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """§8.3 200: the credentials (strings, or objects for ``ldp_vc``) as received, unverified."""

    credentials: tuple[str | Mapping[str, Any], ...]
    notification_id: str | None = None
    configuration_id: str | None = None
    encrypted: bool = False
