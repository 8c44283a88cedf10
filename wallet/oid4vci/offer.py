"""Credential Offer parsing (OpenID4VCI 1.0 §4.1).

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html#section-4.1

An offer reaches the wallet by value (``credential_offer=<JSON>``), by reference
(``credential_offer_uri=<https URL>``, fetched with GET, JSON), as a bare https offer URL, or as the
JSON object itself. Everything in it is untrusted: sizes are capped, the issuer must be an https
Credential Issuer Identifier (§12.1), ``credential_configuration_ids`` non-empty and unique
(§4.1.1),
and the grants are parsed strictly enough that later steps can rely on their types. Unknown members
are ignored (§4.1.1 allows extensions). The parsed offer keeps its raw JSON so the service layer can
persist it and re-parse it later (:meth:`CredentialOffer.to_json` / :meth:`from_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from wallet.jsontext import parse_json
from wallet.oid4vci._util import MAX_STR, https_url, issuer_identifier, opt_str, req_str
from wallet.oid4vci.errors import InvalidCredentialOffer
from wallet.ports import Fetcher

__all__ = [
    "GRANT_AUTHORIZATION_CODE",
    "GRANT_PRE_AUTHORIZED_CODE",
    "MAX_OFFER_BYTES",
    "AuthorizationCodeGrant",
    "CredentialOffer",
    "OfferReference",
    "PreAuthorizedCodeGrant",
    "TxCode",
    "load_offer",
    "parse_offer",
    "parse_offer_input",
]

GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_PRE_AUTHORIZED_CODE = "urn:ietf:params:oauth:grant-type:pre-authorized_code"

#: Largest offer accepted, by value or fetched (bytes of JSON).
MAX_OFFER_BYTES = 16 * 1024
#: Most credential configurations one offer may name.
MAX_CONFIGURATION_IDS = 64
#: Longest tx_code the wallet will ask for.
MAX_TX_CODE_LENGTH = 64


@dataclass(frozen=True, slots=True)
class TxCode:
    """§4.1.1 ``tx_code``: present (even empty) means the learner must enter a code."""

    input_mode: Literal["numeric", "text"] = "numeric"
    length: int | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationCodeGrant:
    issuer_state: str | None = field(default=None, repr=False)
    authorization_server: str | None = None


@dataclass(frozen=True, slots=True)
class PreAuthorizedCodeGrant:
    pre_authorized_code: str = field(repr=False)
    tx_code: TxCode | None = None
    authorization_server: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialOffer:
    """A validated credential offer. ``raw`` is the JSON as received (for persistence)."""

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    authorization_code: AuthorizationCodeGrant | None
    pre_authorized_code: PreAuthorizedCodeGrant | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CredentialOffer:
        return parse_offer(data)


@dataclass(frozen=True, slots=True)
class OfferReference:
    """A ``credential_offer_uri`` (or bare https offer URL) still to be fetched."""

    uri: str


def _tx_code(obj: object) -> TxCode:
    if not isinstance(obj, Mapping):
        raise InvalidCredentialOffer("tx_code must be an object")
    mode = obj.get("input_mode", "numeric")
    if mode not in ("numeric", "text"):
        raise InvalidCredentialOffer("tx_code.input_mode must be numeric or text")
    length = obj.get("length")
    if length is not None and (
        not isinstance(length, int) or isinstance(length, bool)
        or not 1 <= length <= MAX_TX_CODE_LENGTH
    ):
        raise InvalidCredentialOffer("tx_code.length must be a small positive integer")
    description = obj.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 300):
        raise InvalidCredentialOffer("tx_code.description must be a string of at most 300 chars")
    return TxCode(input_mode=mode, length=length, description=description)


def _opt_https(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return None if value is None else https_url(value, key, InvalidCredentialOffer)


def _grant(grants: Mapping[str, Any], key: str, name: str) -> Mapping[str, Any] | None:
    """The grant object under ``key``, None when the offer does not carry that grant."""
    if key not in grants:
        return None
    g = grants[key]
    if not isinstance(g, Mapping):
        raise InvalidCredentialOffer(f"{name} grant must be an object")
    return g


def parse_offer(data: object) -> CredentialOffer:
    """Validate a credential offer JSON object (§4.1.1)."""
    if not isinstance(data, Mapping):
        raise InvalidCredentialOffer("credential offer must be a JSON object")
    issuer = issuer_identifier(data.get("credential_issuer"), "credential_issuer",
                               InvalidCredentialOffer)
    ids = data.get("credential_configuration_ids")
    if not isinstance(ids, list) or not ids:
        raise InvalidCredentialOffer("credential_configuration_ids must be a non-empty array")
    if len(ids) > MAX_CONFIGURATION_IDS:
        raise InvalidCredentialOffer("too many credential_configuration_ids")
    if not all(isinstance(i, str) and i and len(i) <= MAX_STR for i in ids):
        raise InvalidCredentialOffer("credential_configuration_ids must be non-empty strings")
    if len(set(ids)) != len(ids):
        raise InvalidCredentialOffer("credential_configuration_ids must be unique")
    grants = data.get("grants", {})
    if grants is None:
        grants = {}
    if not isinstance(grants, Mapping):
        raise InvalidCredentialOffer("grants must be an object")
    authz: AuthorizationCodeGrant | None = None
    pre: PreAuthorizedCodeGrant | None = None
    g = _grant(grants, GRANT_AUTHORIZATION_CODE, "authorization_code")
    if g is not None:
        authz = AuthorizationCodeGrant(
            issuer_state=opt_str(g, "issuer_state", InvalidCredentialOffer),
            authorization_server=_opt_https(g, "authorization_server"),
        )
    g = _grant(grants, GRANT_PRE_AUTHORIZED_CODE, "pre-authorized_code")
    if g is not None:
        pre = PreAuthorizedCodeGrant(
            pre_authorized_code=req_str(g, "pre-authorized_code", InvalidCredentialOffer),
            tx_code=_tx_code(g["tx_code"]) if g.get("tx_code") is not None else None,
            authorization_server=_opt_https(g, "authorization_server"),
        )
    return CredentialOffer(issuer, tuple(ids), authz, pre, raw=dict(data))


def _parse_json_text(text: str) -> CredentialOffer:
    if len(text.encode("utf-8")) > MAX_OFFER_BYTES:
        raise InvalidCredentialOffer("credential offer is too large")
    return parse_offer(parse_json(text, InvalidCredentialOffer("credential offer is not valid JSON")))


def parse_offer_input(offer_input: str | Mapping[str, Any]) -> CredentialOffer | OfferReference:
    """Turn what the learner pasted/scanned into an offer or a reference to fetch (no I/O).

    Accepts the offer JSON (object or text), ``<scheme>://?credential_offer=...`` /
    ``...?credential_offer_uri=...`` (any custom scheme, e.g. ``openid-credential-offer://``,
    ``haip://``, or an https wallet URL carrying either parameter), or a bare https URL that
    serves the offer JSON.
    """
    if isinstance(offer_input, Mapping):
        return parse_offer(offer_input)
    if not isinstance(offer_input, str):
        raise InvalidCredentialOffer("offer must be a URI or a JSON object")
    text = offer_input.strip()
    if len(text) > 4 * MAX_OFFER_BYTES:
        raise InvalidCredentialOffer("credential offer is too large")
    if text.startswith("{"):
        return _parse_json_text(text)
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise InvalidCredentialOffer("offer is not a URI") from exc
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False,
                         max_num_fields=32)
    except ValueError as exc:
        raise InvalidCredentialOffer("offer URI has too many parameters") from exc
    by_value = query.get("credential_offer")
    by_ref = query.get("credential_offer_uri")
    if by_value is not None and by_ref is not None:
        raise InvalidCredentialOffer("offer has both credential_offer and credential_offer_uri")
    if by_value is not None or by_ref is not None:
        values = by_value if by_value is not None else by_ref
        assert values is not None
        if len(values) != 1:
            raise InvalidCredentialOffer("offer parameter must appear exactly once")
        if by_value is not None:
            return _parse_json_text(values[0])
        return OfferReference(https_url(values[0], "credential_offer_uri",
                                        InvalidCredentialOffer))
    if parts.scheme == "https":
        return OfferReference(https_url(text, "offer URL", InvalidCredentialOffer))
    raise InvalidCredentialOffer(
        "offer URI must carry exactly one of credential_offer and credential_offer_uri")


async def load_offer(fetcher: Fetcher, offer_input: str | Mapping[str, Any]) -> CredentialOffer:
    """Parse ``offer_input``; fetch it first when it is a reference (§4.1.3: GET, JSON)."""
    parsed = parse_offer_input(offer_input)
    if isinstance(parsed, CredentialOffer):
        return parsed
    resp = await fetcher.get(parsed.uri, accept=("application/json",),
                             max_bytes=MAX_OFFER_BYTES)
    if resp.status != 200:
        raise InvalidCredentialOffer("the offer URI did not answer with an offer")
    if resp.content_type != "application/json":
        raise InvalidCredentialOffer("the offer URI did not answer with JSON")
    if len(resp.body) > MAX_OFFER_BYTES:
        raise InvalidCredentialOffer("credential offer is too large")
    try:
        text = resp.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidCredentialOffer("credential offer is not UTF-8") from exc
    return _parse_json_text(text)
