"""The sealed record of one presentation request (records category ``presentation-requests``),
typed.

Why: intake keeps the validated request sealed in the learner's vault, so respond and decline
never fetch anything the verifier could have changed in between (sharing/present.py says why).
This names what that record holds. The stored keys are the ones written since presenting existed
(tests/holder_api/test_request_records.py pins them); :meth:`PresentationRequestRecord.from_record`
reads every shape written so far, the first version's too, which kept the answer's outcome in
``state`` (``sent``, ``declined``, ``failed``) and a ``redirect_uri`` beside it: a key this version
does not know is kept in ``extra`` and written back.

The record is written once, at intake: how a request was answered lives in the insert-once
answers record (``presentation-answers``), the replay guard, and overrides ``state`` when read.

Two things are called ``state`` in the stored record: the request's lifecycle (top level) and the
verifier's OAuth ``state`` parameter (under ``request``), which the answer sends back. Here the
second is :attr:`KeptRequest.oauth_state`; the stored key stays ``state``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from sharing.dcql import parse_dcql_query
from sharing.oid4vp import (
    AuthorizationRequest,
    ClientPrefix,
    ResponseEncryption,
    VerifierIdentity,
    parse_client_metadata,
)
from sharing.oid4vp.request import ResponseMode
from sharing.request_results import Verifier
from wallet.crypto import RecordUnreadable
from wallet.errors import SatchelError

__all__ = ["REQUEST_STATES", "KeptRequest", "PresentationRequestRecord", "RequestState",
           "request_state"]

#: ``pending`` until answered; then how: ``sent``, ``declined``, or ``failed`` (the verifier did
#: not take the answer it was sent).
RequestState = Literal["pending", "sent", "declined", "failed"]
REQUEST_STATES: tuple[RequestState, ...] = get_args(RequestState)
_PREFIXES: tuple[ClientPrefix, ...] = get_args(ClientPrefix)
_MODES: tuple[ResponseMode, ...] = get_args(ResponseMode)
_KNOWN = frozenset({"v", "state", "created_at", "expires_at", "verifier", "purpose", "request"})


def request_state(value: object) -> RequestState:
    """A stored lifecycle state (the record's, or an answers record's outcome)."""
    for state in REQUEST_STATES:
        if value == state:
            return state
    raise RecordUnreadable("a sealed presentation request is malformed")


def _json_value(value: Any) -> Any:
    """A request parameter as JSON: by value it arrives as a JSON string (None if it is not)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


@dataclass(frozen=True, slots=True)
class KeptRequest:
    """The validated request as intake sealed it (``request`` in the record): what an answer is
    built for and sent to. The certificate a verifier authenticated with is not kept (the
    identity it proved is)."""

    client_id: str
    verifier: VerifierIdentity
    response_mode: ResponseMode
    response_uri: str
    nonce: str = field(repr=False)
    oauth_state: str | None = field(repr=False)  # the verifier's OAuth state, sent back to it
    signed: bool
    wallet_nonce: str | None = field(repr=False)
    dcql_query: Any  # the JSON the verifier sent, parsed when the request is answered
    client_metadata: Any  # likewise
    encryption: ResponseEncryption | None

    @classmethod
    def of(cls, req: AuthorizationRequest) -> KeptRequest:
        return cls(req.client_id, req.verifier, req.response_mode, req.response_uri, req.nonce,
                   req.state, req.signed, req.wallet_nonce,
                   _json_value(req.parameters.get("dcql_query")),
                   _json_value(req.parameters.get("client_metadata")), req.encryption)

    def authorization_request(self) -> AuthorizationRequest:
        """The request to answer, as intake validated it (its query and metadata parsed)."""
        return AuthorizationRequest(
            client_id=self.client_id, verifier=self.verifier, response_mode=self.response_mode,
            response_uri=self.response_uri, nonce=self.nonce,
            dcql_query=parse_dcql_query(self.dcql_query),
            client_metadata=parse_client_metadata(self.client_metadata),
            state=self.oauth_state, signed=self.signed, wallet_nonce=self.wallet_nonce,
            encryption=self.encryption)

    def to_record(self) -> dict[str, Any]:
        who, enc = self.verifier, self.encryption
        return {
            "client_id": self.client_id,
            "verifier": {"prefix": who.prefix, "value": who.value,
                         "authenticated": who.authenticated, "dns_names": list(who.dns_names),
                         "key_id": who.key_id},
            "response_mode": self.response_mode, "response_uri": self.response_uri,
            "nonce": self.nonce, "state": self.oauth_state, "signed": self.signed,
            "wallet_nonce": self.wallet_nonce, "dcql_query": self.dcql_query,
            "client_metadata": self.client_metadata,
            "encryption": None if enc is None else {"jwk": dict(enc.jwk), "alg": enc.alg,
                                                    "enc": enc.enc, "kid": enc.kid}}

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> KeptRequest:
        v, enc = r["verifier"], r.get("encryption")
        prefix, mode = v["prefix"], r["response_mode"]
        if prefix not in _PREFIXES or mode not in _MODES:
            raise RecordUnreadable("a sealed presentation request is malformed")
        return cls(
            client_id=r["client_id"],
            verifier=VerifierIdentity(prefix, v["value"], v["authenticated"],
                                      dns_names=tuple(v["dns_names"]), key_id=v["key_id"]),
            response_mode=mode, response_uri=r["response_uri"], nonce=r["nonce"],
            oauth_state=r.get("state"), signed=r["signed"], wallet_nonce=r.get("wallet_nonce"),
            dcql_query=r["dcql_query"], client_metadata=r.get("client_metadata"),
            encryption=None if enc is None else ResponseEncryption(
                enc["jwk"], enc["alg"], enc["enc"], enc.get("kid")))


@dataclass(frozen=True, slots=True)
class PresentationRequestRecord:
    """One presentation request as sealed in the vault at intake."""

    state: RequestState
    created_at: str  # ISO 8601, UTC ("Z")
    expires_at: str  # the verifier's ``exp`` or our hold, whichever comes first
    verifier: Verifier  # who asks, as shown to the learner
    purpose: str | None  # the verifier's ``purpose``, cut to 500 characters
    request: KeptRequest
    v: int = 1
    #: keys this version does not know (the first version's ``redirect_uri``), written back
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_record(self) -> dict[str, Any]:
        return {**self.extra, "v": self.v, "state": self.state, "created_at": self.created_at,
                "expires_at": self.expires_at, "verifier": self.verifier.to_record(),
                "purpose": self.purpose, "request": self.request.to_record()}

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> PresentationRequestRecord:
        try:
            return cls(
                state=request_state(r["state"]), created_at=str(r["created_at"]),
                expires_at=str(r["expires_at"]), verifier=Verifier.from_record(r["verifier"]),
                purpose=r.get("purpose"), request=KeptRequest.from_record(r["request"]),
                v=r.get("v", 1), extra={k: v for k, v in r.items() if k not in _KNOWN})
        except RecordUnreadable:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, SatchelError) as exc:
            raise RecordUnreadable("a sealed presentation request is malformed") from exc
